"""The `monitor` command group: global options, error handling, exit codes.

Exit codes scripts can rely on, the same for the same fault on every command:
  0  success
  1  the command ran and found a problem (verify failed, rule tests failed, every feed of
     `watch --once` failed)
  2  usage error (click's own: an unknown option, a malformed value such as a bad duration)
  3  the log could not be opened or used (locked, read-only, corrupted, foreign)
  4  invalid input files: one that is missing, unreadable or a folder (``error: PATH: ...``,
     one line on stderr; see `_options.InputFile`), or one whose content is wrong (rule
     files, feed lists, item files, keys, checkpoints, sinks files, monitor.yaml)
  130 interrupted
"""

from __future__ import annotations

import os
import sys

import click

from ..errors import ConfigError, LogError, MonitorError, RuleError
from ._config import config_options, configure
from ._context import EXIT_INPUT, EXIT_LOG, EXIT_PROBLEM, CliContext

__all__ = ["CliContext", "cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    default="monitor.db",
    show_default=True,
    envvar="MONITOR_DB",
    help="Event log: a file path, sqlite:///PATH, memory: or postgresql://... (env MONITOR_DB).",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Errors only on stderr: no progress bars, warnings or informational lines (--json "
    "and the data a command prints are kept).",
)
@config_options
@click.version_option(package_name="news-monitor", prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context, db: str, verbose: int, quiet: bool, **config: str | None) -> None:
    """Watch news feeds, keep every item in an event log, flag what matters with rules.

    Every option can also be set in monitor.yaml or an environment variable (see the README,
    "Configuration", and `monitor config show`).
    """
    db, verbose = configure(ctx, db=db, verbose=verbose, quiet=quiet, **config)
    ctx.obj = CliContext(db=db, verbose=verbose, quiet=quiet)


def _register_commands() -> None:
    """Attach every command module's commands to the group (each module has `register`)."""
    from . import _alerts_cmds, _checkpoint_cmds, _feeds_cmds, _items_cmds, _log_cmds, _rules_cmds

    for module in (_log_cmds, _checkpoint_cmds, _rules_cmds, _alerts_cmds, _feeds_cmds):
        module.register(cli)
    _items_cmds.register(cli)
    from . import _config_cmds

    _config_cmds.register(cli)
    from . import _serve_cmds

    _serve_cmds.register(cli)


def main(argv: list[str] | None = None) -> None:
    """Run the command; turn library errors into one clear line and a documented exit code."""
    try:
        code = cli.main(args=argv, prog_name="monitor", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LogError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_LOG)
    except (RuleError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    except MonitorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_PROBLEM)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # `monitor events | head`: the reader went away; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)


_register_commands()

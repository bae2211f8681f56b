"""``monitor serve``: the analyst console in the browser (see `monitor.console`)."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import click

from ..app import Monitor
from ..errors import ConfigError
from ._context import CliContext
from ._options import rules_option, rules_sources

__all__ = ["is_loopback", "parse_bind", "read_token", "register"]


#: The Host names a console bound to loopback answers to by default.
LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1", "[::1]"]


def parse_bind(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) as (host, port); a `click.BadParameter`
    saying what to write otherwise."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(
            f"{value!r}: write HOST:PORT, e.g. 127.0.0.1:8080", param_hint="--bind"
        )
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(token_file: str | None, token_env: str | None) -> str | None:
    """The action token from a file (its first line) or an environment variable; None when
    neither is given. A `ConfigError` when the one given is missing or empty."""
    if token_file and token_env:
        raise click.UsageError("give --token-file or --token-env, not both")
    if token_file:
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{token_file}: cannot read the token: {exc.strerror}") from None
        token = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not token:
            raise ConfigError(f"{token_file}: the token file is empty; put the token on line 1")
        return token
    if token_env:
        token = os.environ.get(token_env, "").strip()
        if not token:
            raise ConfigError(f"${token_env} is not set or empty; export the token in it")
        return token
    return None


@click.command(name="serve")
@click.option(
    "--bind",
    default="127.0.0.1:8080",
    show_default=True,
    help="Address and port to listen on (HOST:PORT). Anything but loopback needs a token.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False),
    help="File whose first line is the token that allows actions (silence, acknowledge, "
    "verdict). Without a token the console is read-only.",
)
@click.option("--token-env", metavar="NAME", help="Read the token from this environment variable.")
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="A Host name the console answers to (repeatable; *.example.org works). Default on "
    "loopback: localhost, 127.0.0.1 and ::1 only, which defeats DNS rebinding; default "
    "elsewhere: any.",
)
@click.option(
    "--stories/--no-stories",
    default=True,
    show_default=True,
    help="Fold items into stories for the item pages (one pass over every item at first start).",
)
@rules_option()
@click.pass_obj
def serve_command(
    obj: CliContext,
    bind: str,
    token_file: str | None,
    token_env: str | None,
    allow_hosts: tuple[str, ...],
    stories: bool,
    rules: tuple[str, ...],
) -> None:
    """Serve the analyst console: live alerts, alert pages, search, feed health, rules.

    The pages are read-only unless a token is configured (--token-file, --token-env, or
    serve: {token_file: ...} in monitor.yaml); actions then need it. Binding to an address
    other than loopback without a token prints a warning: anyone who reaches the port can
    read the log.
    """
    import uvicorn  # imported here: the other commands do not need the server

    from ..console import create_app

    host, port = parse_bind(bind)
    token = read_token(token_file, token_env)
    if not is_loopback(host) and token is None:
        click.echo(
            f"warning: serving on {host}, not loopback, without a token: anyone who can reach "
            "it can read the alerts and items. Give --token-file, or bind 127.0.0.1 behind a "
            "proxy that authenticates.",
            err=True,
        )
    with Monitor.open(obj.db, rules=list(rules_sources(rules))) as monitor:
        allowed = list(allow_hosts) or (LOOPBACK_NAMES if is_loopback(host) else None)
        app = create_app(monitor, token=token, stories=stories, allowed_hosts=allowed)
        shown = f"[{host}]" if ":" in host else host
        if not obj.quiet:
            mode = "actions need the token" if token else "read-only"
            click.echo(f"console on http://{shown}:{port}/ ({mode}); Ctrl-C stops it", err=True)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="info" if obj.verbose else "warning",
            timeout_graceful_shutdown=3,
            server_header=False,
        )
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            sys.exit(1)


def register(group: click.Group) -> None:
    """Attach this module's command to the `monitor` group."""
    group.add_command(serve_command)

"""Options and parameter types shared by the commands.

``--rules`` is repeatable and takes folders, rule files and ``default`` (the pack installed
with monitor); the sources load as one rule set. Without it, commands use ``default``: a
``rules/`` folder in the current directory is not picked up by itself.

`Duration` is every option that takes a duration (metavar ``DURATION``, the grammar of
`monitor._durations`), and `InputFile` every argument or option naming a file the command
reads: a missing, unreadable or folder path is a `ConfigError` naming it (exit 4, one line
``error: PATH: ...`` on stderr), the same on every command, where ``click.Path(exists=True)``
would have made it a usage error (exit 2).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .._durations import parse_duration
from ..errors import ConfigError, SourceLocation
from ..rules import DEFAULT_PACK, resolve_sources

__all__ = [
    "RULES_HELP",
    "Duration",
    "InputFile",
    "check_input",
    "check_rule_sources",
    "optional_rules",
    "rules_option",
    "rules_sources",
    "watch_paths",
]

F = TypeVar("F", bound=Callable[..., Any])

RULES_HELP = (
    "Rule folder or file, or 'default' (the pack installed with monitor); repeat to load "
    "several as one set, sharing lexicons [default: default]."
)


class Duration(click.ParamType):
    """A duration option's value in seconds (a float): ``90s``, ``15m``, ``1.5h``, ``7d``,
    ``2w``, ``1h30m`` or a bare number of seconds. `minimum` refuses shorter ones."""

    name = "duration"

    def __init__(self, minimum: float = 0.0, hint: str = "") -> None:
        self.minimum = minimum
        self.hint = hint

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "DURATION"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds < self.minimum:
            self.fail(self.hint or f"at least {self.minimum:g}s, not {value!r}", param, ctx)
        return seconds


def check_input(path: str, what: str = "input file") -> str:
    """Return `path` when it is a file this process can read; raise `ConfigError` (exit 4)
    naming it otherwise."""
    where = SourceLocation(str(path))
    if not os.path.exists(path):
        raise ConfigError(f"{what} not found", source=where)
    if os.path.isdir(path):
        raise ConfigError(f"{what} is a folder, not a file", source=where)
    if not os.access(path, os.R_OK):
        raise ConfigError(f"cannot read the {what}: permission denied", source=where)
    return path


class InputFile(click.Path):
    """A file the command reads, checked when the command line is parsed (see `check_input`);
    ``-`` (stdin) passes when `allow_dash`. A `click.Path`, so `monitor.yaml` resolves it
    against the file's folder and shells complete it as a file."""

    def __init__(self, what: str = "input file", *, allow_dash: bool = False) -> None:
        super().__init__(dir_okay=False, allow_dash=allow_dash)
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = os.fspath(value)
        if self.allow_dash and text == "-":
            return text
        return check_input(text, self.what)


def check_rule_sources(sources: tuple[str, ...]) -> tuple[str, ...]:
    """Return `sources` when each is ``default`` or an existing file or folder; raise
    `ConfigError` (exit 4) naming the first that is missing."""
    for source in sources:
        if source != DEFAULT_PACK and not os.path.exists(source):
            raise ConfigError("rule folder or file not found", source=SourceLocation(source))
    return sources


def rules_option(**extra: Any) -> Callable[[F], F]:
    """``--rules SOURCE`` (repeatable) as the tuple parameter ``rules``."""
    return click.option(
        "--rules",
        "rules",
        multiple=True,
        metavar="DIR|default",
        help=RULES_HELP,
        **extra,
    )


def rules_sources(rules: tuple[str, ...]) -> tuple[str, ...]:
    """The sources to load: those given, else ``default``; a missing one is a `ConfigError`."""
    return check_rule_sources(rules or (DEFAULT_PACK,))


def optional_rules(rules: tuple[str, ...], no_rules: bool) -> tuple[str, ...] | None:
    """`rules_sources`, or None with ``--no-rules`` (store items, evaluate nothing)."""
    if no_rules:
        if rules:
            raise click.UsageError("--rules and --no-rules do not go together")
        return None
    return rules_sources(rules)


def watch_paths(sources: tuple[str, ...] | None) -> list[Path]:
    """The folders and files to watch for a reload: every source, resolved."""
    if not sources:
        return []
    try:
        return [s.path for s in resolve_sources(sources)]
    except FileNotFoundError:  # the pack is missing: loading the rules says so first
        return []

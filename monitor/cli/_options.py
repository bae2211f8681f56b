"""The ``--rules`` option, the same on every command that takes rules.

``--rules`` is repeatable and takes folders, rule files and ``default`` (the pack installed
with monitor); the sources load as one rule set. Without it, commands use ``default``: a
``rules/`` folder in the current directory is not picked up by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..rules import DEFAULT_PACK, resolve_sources

__all__ = ["RULES_HELP", "optional_rules", "rules_option", "rules_sources", "watch_paths"]

F = TypeVar("F", bound=Callable[..., Any])

RULES_HELP = (
    "Rule folder or file, or 'default' (the pack installed with monitor); repeat to load "
    "several as one set, sharing lexicons [default: default]."
)


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
    """The sources to load: those given, else ``default``."""
    return rules or (DEFAULT_PACK,)


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

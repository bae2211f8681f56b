"""What every command prints with: the console, and the alert table they share."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping, Sequence

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..events import AlertRaised

__all__ = ["LEVEL_STYLES", "alerts_table", "console", "evidence_text", "info", "is_quiet"]

LEVEL_STYLES = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
}

#: Width of tables written to a file or a pipe, where there is no terminal to measure: wide
#: enough that an alert row stays on one or two lines, as it would on a desktop terminal.
PIPE_WIDTH = 140


def is_quiet() -> bool:
    """Whether the group's ``-q/--quiet`` was given: informational lines, warnings and progress
    bars are left out; errors, ``--json`` and the data a command exists to print are not."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False
    return bool(getattr(ctx.find_root().obj, "quiet", False))


def info(message: str, *, err: bool = False) -> None:
    """Echo an informational line (a summary, "wrote FILE"), unless ``--quiet``."""
    if not is_quiet():
        click.echo(message, err=err)


def console(*, err: bool = False, soft_wrap: bool = False) -> Console:
    """A rich console on stdout (or stderr): the terminal's width, or `PIPE_WIDTH` when the
    output is not a terminal (rich would otherwise squeeze tables into 80 columns)."""
    stream = sys.stderr if err else sys.stdout
    width = None if stream.isatty() else max(PIPE_WIDTH, shutil.get_terminal_size().columns)
    return Console(stderr=err, highlight=False, soft_wrap=soft_wrap, width=width)


def evidence_text(alert: AlertRaised, most: int = 4) -> Text:
    """The matched terms of an alert, highlighted, each followed by its field."""
    text = Text()
    for n, ev in enumerate(alert.evidence[:most]):
        if n:
            text.append(", ")
        text.append(ev.text, style="bold black on yellow")
        text.append(f" {ev.field}", style="dim")
    if len(alert.evidence) > most:
        text.append(f" +{len(alert.evidence) - most}", style="dim")
    return text


def alerts_table(
    alerts: Sequence[AlertRaised],
    *,
    title: str | None = None,
    folded: Mapping[str, int] | None = None,
    superseded: Mapping[str, int] | None = None,
) -> Table:
    """A table of alerts in the order given: time, level, rule, group, what happened (the
    rule's rendered summary), the evidence and a short id for `monitor alerts show`.
    `folded` counts throttled repeats per alert id; `superseded` names, per alert id, the first
    revision of its item that no longer matches the rule."""
    table = Table(title=title or f"Alerts ({len(alerts)})", expand=False)
    for column in ("event time", "level", "rule", "group", "title / summary", "evidence", "id"):
        table.add_column(column, overflow="fold")
    for alert in alerts:
        summary = alert.annotations.get("summary") or alert.title
        repeats = (folded or {}).get(alert.alert_id, 0)
        if repeats:
            summary += f"  (+{repeats} folded)"
        gone = (superseded or {}).get(alert.alert_id)
        if gone is not None:
            summary += f"  (revision {gone} of the item no longer matches)"
        table.add_row(
            alert.event_time.strftime("%Y-%m-%d %H:%M"),
            Text(alert.level, style=LEVEL_STYLES.get(alert.level, "")),
            alert.rule_id,
            (alert.group_key or "").split(":", 1)[-1],
            summary,
            evidence_text(alert),
            alert.alert_id[:12],
        )
    return table

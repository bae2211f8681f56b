"""``monitor alerts silence``, ``unsilence`` and ``silences``: mute the delivery of alerts
for a while (Alertmanager's silences), end a silence early, list them.

A silence is an event in the log (`SilenceCreated`, `SilenceExpired`); delivery applies it, so
the alerts it mutes are still raised and listed, marked silenced. The commands attach to the
``alerts`` group (`attach`); the listing's marks come from `silenced_marks`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import click
from rich.markup import escape
from rich.table import Table

from ..app import Monitor
from ..errors import LogError
from ..events import format_time, to_plain
from ..log import EventLog
from ..projections import ProjectionRunner, Silences
from ._context import CliContext
from ._options import Duration
from ._render import console as make_console
from ._render import info

__all__ = ["attach", "silenced_caption", "silenced_marks"]

_LEVELS = ("informational", "low", "medium", "high", "critical")


def silenced_marks(log: EventLog, alert_ids: Iterable[str]) -> dict[str, str]:
    """Alert id -> the id of the silence that muted it, for the alerts in `alert_ids` that one
    did. Empty when the ``silences`` view cannot be brought up to date (a read-only log)."""
    try:
        ProjectionRunner(log, [Silences()]).run()
    except LogError:
        return {}
    marks = {}
    for alert_id in alert_ids:
        silence_id = Silences.muting(log, alert_id)
        if silence_id is not None:
            marks[alert_id] = silence_id
    return marks


def silenced_caption(marks: dict[str, str]) -> str | None:
    """A table caption naming the silenced alerts (short ids) and their silences."""
    if not marks:
        return None
    shown = ", ".join(f"{a[:12]} (silence {s[:8]})" for a, s in sorted(marks.items()))
    return f"silenced, not delivered: {shown}"


@click.command("silence")
@click.option("--rule", help="Only alerts of this rule id (rule=R).")
@click.option("--level", type=click.Choice(_LEVELS), help="Only alerts of this level.")
@click.option(
    "--match",
    "matchers",
    multiple=True,
    metavar="KEY=VALUE",
    help="A matcher: key=value, key!=value, key=~regex or key!~regex; keys rule, level, "
    "group, place, actor, story, feed, source, lang, author, label.NAME. Repeatable: all must "
    "match.",
)
@click.option(
    "--for", "duration", type=Duration(minimum=1), metavar="DURATION", help="How long: 90m, 6h, 2d."
)
@click.option("--until", metavar="TIME", help="Until this time (2026-03-01T18:00Z).")
@click.option("--comment", required=True, help="Why (shown in the listing).")
@click.option("--by", help="Who silences (default: $USER).")
@click.option("--json", "as_json", is_flag=True, help="Print the silence as JSON.")
@click.pass_obj
def silence_command(
    obj: CliContext,
    rule: str | None,
    level: str | None,
    matchers: tuple[str, ...],
    duration: float | None,
    until: str | None,
    comment: str,
    by: str | None,
    as_json: bool,
) -> None:
    """Stop delivering the alerts that match, for a while. They are still raised and listed
    (marked silenced); `monitor alerts unsilence ID` ends it early."""
    with Monitor.open(obj.db) as monitor:
        made = monitor.silence(
            rule=rule,
            level=level,
            match=matchers,
            duration=duration,
            until=until.replace("Z", "+00:00") if until else None,
            comment=comment,
            by=by,
        )
    if as_json:
        click.echo(json.dumps(to_plain(made), ensure_ascii=False))
        return
    what = " ".join(str(m) for m in made.matchers)
    info(
        f"silence {made.silence_id}: {what} until {format_time(made.ends)} "
        f"(by {made.created_by or '-'})"
    )


@click.command("unsilence")
@click.argument("silence_id")
@click.option("--by", help="Who ends it (default: $USER).")
@click.pass_obj
def unsilence_command(obj: CliContext, silence_id: str, by: str | None) -> None:
    """End a silence now (its id or a unique prefix): later alerts are delivered again."""
    with Monitor.open(obj.db) as monitor:
        ended = monitor.unsilence(silence_id, by=by)
    info(f"silence {ended.silence_id} ended at {format_time(ended.when)}")


@click.command("silences")
@click.option("--all", "show_all", is_flag=True, help="Expired silences too.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def silences_command(obj: CliContext, show_all: bool, as_json: bool) -> None:
    """List the silences active or waiting to start (with --all, the ended ones too)."""
    with Monitor.open(obj.db) as monitor:
        rows = monitor.silences(include_expired=show_all)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    out = make_console()
    if not rows:
        out.print("No silences." if show_all else "No active silences (--all shows ended ones).")
        return
    table = Table(title=f"Silences ({len(rows)})")
    for column in ("id", "status", "matchers", "starts", "ends", "by", "muted", "comment"):
        table.add_column(column, overflow="fold")
    for row in rows:
        what = " ".join(f"{m['name']}{m['op']}{m['value']}" for m in row["matchers"])
        table.add_row(
            row["silence_id"],
            row["status"],
            escape(what),
            row["starts"][:16],
            (row["expired_at"] or row["ends"])[:16],
            escape(row["created_by"] or "-"),
            str(row["silenced"]),
            escape(row["comment"]),
        )
    out.print(table)


def attach(group: click.Group) -> None:
    """Add the silence commands to the ``alerts`` group."""
    for command in (silence_command, unsilence_command, silences_command):
        group.add_command(command)

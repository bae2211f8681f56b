"""Commands over the log itself: ingest, stats, replay, verify, events, salvage, backup
(``items`` is in `_items_cmds`)."""

from __future__ import annotations

import json
import sys
from typing import Any

import attrs
import click
from rich.table import Table

from ..alerts import load_sinks
from ..app import Monitor
from ..log import backup, open_log, salvage
from ._alerts_cmds import rich_console_write
from ._context import EXIT_PROBLEM, CliContext
from ._options import InputFile, optional_rules, rules_option
from ._progress import progress_bar
from ._render import alerts_table, info, is_quiet
from ._render import console as make_console

__all__ = ["register"]

#: The most alerts `monitor ingest` prints in its table (the latest); `monitor alerts` lists all.
SHOWN_ALERTS = 50


@click.command()
@click.argument("files", nargs=-1, required=True, type=InputFile("items file"))
@rules_option()
@click.option("--no-rules", is_flag=True, help="Store the items without evaluating rules.")
@click.option("--feed", "feed_id", default=None, help="Feed id for items that name none.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--sinks",
    type=InputFile("sinks file"),
    default=None,
    help="Deliver the alerts to the sinks in this YAML file.",
)
@click.pass_obj
def ingest(
    obj: CliContext,
    files: tuple[str, ...],
    rules: tuple[str, ...],
    no_rules: bool,
    feed_id: str | None,
    as_json: bool,
    sinks: str | None,
) -> None:
    """Append the items of feed XML files and JSON-lines files to the log, then evaluate
    rules, update projections and deliver alerts, as the watcher does.

    A JSON-lines file holds one object per line with any of title, summary, content, url,
    published, feed, source, id, author, tags, lang (at least one text field). Items already
    in the log are skipped, so ingesting a file twice is harmless. With --sinks, each sink
    is delivered what it has not received yet (its checkpoint is in the log).
    """
    console = make_console()
    with Monitor.open(obj.db, rules=optional_rules(rules, no_rules)) as monitor:
        if sinks is not None:
            monitor.add_sinks(load_sinks(sinks, console_write=rich_console_write(console)))
        with progress_bar("ingesting items") as update:
            report = monitor.ingest_files(files, feed_id=feed_id, progress=update)
    if as_json:
        summary: dict[str, Any] = {
            "stored": report.stored,
            "duplicates": report.duplicates,
            "raised": report.raised,
            # The latest alerts (all of them unless the ingest raised more than the report
            # keeps); `monitor alerts --json` lists every one from the log.
            "alerts": [a.alert_id for a in report.alerts],
        }
        if sinks is not None:
            summary.update(delivered=report.delivered, failing_sinks=list(report.failing))
        click.echo(json.dumps(summary))
        return
    if not is_quiet():
        console.print(
            f"stored [bold]{report.stored}[/] new item(s), skipped {report.duplicates} already "
            f"in the log, raised [bold]{report.raised}[/] alert(s)"
        )
        if sinks is not None:
            failing = ", ".join(report.failing)
            failing = f"; failing, to retry later: {failing}" if failing else ""
            console.print(f"delivered {report.delivered} alert(s){failing}", markup=False)
    if report.alerts:
        shown = list(report.alerts)[-SHOWN_ALERTS:]
        title = None
        if len(shown) < report.raised:
            title = f"The latest {len(shown)} of {report.raised} alerts (all: monitor alerts)"
        console.print(alerts_table(shown, title=title))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_obj
def stats(obj: CliContext, as_json: bool) -> None:
    """Show what the log holds: records, items per feed, alerts per rule, the most mentioned
    places and actors, and how far each projection is."""
    with Monitor.open(obj.db) as monitor:
        data = monitor.stats()
    if as_json:
        click.echo(json.dumps(data, default=str, indent=2))
        return
    console = make_console()
    console.print(f"[bold]{data['db']}[/]: {data['records']} record(s)")
    feeds = Table(title="Items per feed")
    for column in ("feed", "items", "first day", "last day"):
        feeds.add_column(column)
    for row in data["feeds"]:
        feeds.add_row(
            str(row.get("feed_id")),
            str(row.get("items", row.get("count", ""))),
            str(row.get("first_day", "")),
            str(row.get("last_day", "")),
        )
    console.print(feeds)
    if data["rules"]:
        rules = Table(title="Alerts per rule")
        for column in ("rule", "alerts", "suppressed", "first", "last"):
            rules.add_column(column)
        for row in data["rules"]:
            rules.add_row(
                row["rule_id"],
                str(row["alerts"]),
                str(row["suppressed"]),
                (row["first"] or "")[:16].replace("T", " "),
                (row["last"] or "")[:16].replace("T", " "),
            )
        console.print(rules)
    for kind in ("places", "actors"):
        if data[kind]:
            top = Table(title=f"Most mentioned {kind}")
            for column in (kind[:-1], "mentions", "alerts", "last seen"):
                top.add_column(column)
            for row in data[kind]:
                top.add_row(
                    row["entity"].split(":", 1)[-1],
                    str(row["mentions"]),
                    str(row["alerts"]),
                    (row["last"] or "")[:10],
                )
            console.print(top)
    console.print(_projection_table(data["projections"]))


def _projection_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Projections")
    for column in ("projection", "version", "checkpoint", "lag"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["name"]), str(row["version"]), str(row["checkpoint"]), str(row["lag"])
        )
    return table


@click.command()
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Rebuild the projections in this many processes, each its share (SQLite or "
    "PostgreSQL logs).",
)
@click.pass_obj
def replay(obj: CliContext, jobs: int) -> None:
    """Drop every projection and rebuild it from the first record (the log is untouched).

    After records were lost at the end of the log (see `monitor verify`), this is also the way
    on: subscriber checkpoints past the last record (rule evaluation, alert delivery) are
    moved back to it, and each is named.
    """
    with Monitor.open(obj.db) as monitor:
        for moved in monitor.log.rewind_past_head():
            action = "rebuilt" if moved.kind == "projection" else f"moved back to {moved.head}"
            info(f"records lost: {moved}; {action}", err=True)
        with progress_bar("replaying") as update:
            monitor.replay(progress=update, jobs=jobs)
        rows = [
            {"name": s.name, "version": s.version, "checkpoint": s.checkpoint, "lag": s.lag}
            for s in monitor.projections.status()
        ]
    make_console().print(_projection_table(rows))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--checkpoint",
    "checkpoint_path",
    type=InputFile("checkpoint file"),
    default=None,
    help="Also check the log still holds this signed checkpoint's head (needs --key).",
)
@click.option(
    "--key",
    "key_path",
    type=InputFile("key file"),
    default=None,
    help="Public key PEM; without --checkpoint, check the checkpoints stored in the log.",
)
@click.pass_obj
def verify(
    obj: CliContext, as_json: bool, checkpoint_path: str | None, key_path: str | None
) -> None:
    """Re-check the hash chain of every record. Exit 0 when intact; exit 1 and name the first
    bad record otherwise.

    With --checkpoint FILE --key PUB, also check that the log still holds the signed head
    (detects records deleted from the end, and rewrites up to it even when every later hash
    was recomputed). With --key alone, check the checkpoints stored in the log instead.
    """
    if checkpoint_path is not None and key_path is None:
        raise click.UsageError("--checkpoint needs --key PUBLIC_KEY to check its signature")
    if key_path is not None:
        from ._checkpoint_cmds import verify_signed

        if not verify_signed(obj.db, checkpoint_path, key_path, as_json):
            sys.exit(EXIT_PROBLEM)
        return
    with open_log(obj.db, read_only=True) as event_log:
        result = event_log.verify()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": result.ok,
                    "checked": result.checked,
                    "first_bad": result.first_bad,
                    "reason": result.reason,
                    "past_head": [
                        {"kind": c.kind, "name": c.name, "position": c.position}
                        for c in result.past_head
                    ],
                }
            )
        )
    elif result.ok:
        info(f"ok: {result.checked} record(s), hash chain intact")
    else:
        click.echo(
            f"FAILED at record {result.first_bad}: {result.reason} "
            f"({result.checked} record(s) before it are intact)",
            err=True,
        )
    if not result.ok:
        sys.exit(EXIT_PROBLEM)


@click.command()
@click.option(
    "--from",
    "after",
    type=click.IntRange(min=0),
    default=0,
    help="Start after this position (0 or more).",
)
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Stop after this many records."
)
@click.option("--follow", is_flag=True, help="Keep printing new records as they arrive.")
@click.pass_obj
def events(
    obj: CliContext, after: int, types: tuple[str, ...], limit: int | None, follow: bool
) -> None:
    """Dump records as JSON lines: position, type, version, time, dedupe key, hash, data.
    Opens the log read-only, so a log on read-only media or in a backup can be dumped."""
    with open_log(obj.db, read_only=True) as event_log:
        stream = (
            event_log.follow(after, types=types or None)
            if follow
            else event_log.read(after, types=types or None)
        )
        for count, record in enumerate(stream, start=1):
            line = {
                "position": record.position,
                "type": record.type,
                "version": record.version,
                "recorded_at": record.recorded_time.isoformat().replace("+00:00", "Z"),
                "dedupe_key": record.dedupe_key,
                "hash": record.hash.hex(),
                "data": json.loads(record.data),
            }
            click.echo(json.dumps(line, ensure_ascii=False))
            if limit is not None and count >= limit:
                break


@click.command(name="salvage")
@click.argument("damaged")
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def salvage_command(damaged: str, new: str, as_json: bool) -> None:
    """Copy every record of the log DAMAGED (a path or URL) whose hash chain still verifies,
    in order, into a new log file NEW, stopping at the first record that cannot be read or
    does not verify.

    DAMAGED is only read. NEW must not exist. Copied records keep their positions, bytes and
    hashes, so a signed checkpoint taken before the damage still matches NEW. Projections are
    not copied: rebuild them with `monitor --db NEW replay`. Exit 0 when every record was
    copied, 1 when the copy stopped early.
    """
    result = salvage(damaged, new)
    if as_json:
        click.echo(json.dumps(attrs.asdict(result)))
    elif result.complete:
        info(
            f"copied all {result.copied} record(s) of {damaged} into {new}; their hash chain "
            f"verifies. Rebuild the projections with: monitor --db {new} replay"
        )
    else:
        claimed = "" if result.source_head is None else f" of {result.source_head}"
        click.echo(
            f"stopped at record {result.stopped_at}{claimed}: {result.reason}\n"
            f"copied records 1 to {result.copied} into {new}; their hash chain verifies. "
            f"Nothing from record {result.stopped_at} on was copied: keep {damaged}, a "
            f"backup may hold the rest.\nRebuild the projections with: monitor --db {new} "
            "replay",
            err=True,
        )
    if not result.complete:
        sys.exit(EXIT_PROBLEM)


@click.command(name="backup")
@click.argument("dest", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace DEST if it exists (it must not be in use).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def backup_command(obj: CliContext, dest: str, force: bool, as_json: bool) -> None:
    """Copy the SQLite log (--db) to the new file DEST, consistently, while watchers append.

    Uses SQLite's online backup API on one read snapshot (never a plain file copy of a live
    WAL database), writes a temporary file beside DEST, verifies its hash chain and head
    against the log's, then renames it into place. DEST must not exist unless --force.
    A PostgreSQL log is refused: use pg_dump. Restore: stop the watcher, copy DEST back,
    run monitor verify.
    """
    if as_json or not sys.stderr.isatty():  # rich's Progress writes a blank line to stdout
        result = backup(obj.db, dest, force=force)
    else:
        with progress_bar("backing up") as update:
            result = backup(obj.db, dest, force=force, progress=update)
    if as_json:
        click.echo(json.dumps(attrs.asdict(result)))
        return
    head = "" if result.head_hash is None else f", head {result.head_hash[:16]}..."
    info(
        f"backed up {result.records} record(s){head} of {result.source} into {result.dest} "
        f"({result.size / 1048576:.1f} MiB in {result.seconds:.1f}s); the copy's hash chain "
        "verifies"
    )


def register(group: click.Group) -> None:
    """Attach this module's commands to the `monitor` group."""
    for command in (
        ingest,
        stats,
        replay,
        verify,
        events,
        salvage_command,
        backup_command,
    ):
        group.add_command(command)

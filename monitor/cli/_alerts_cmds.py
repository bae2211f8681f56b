"""``monitor alerts [show ID]``, ``monitor backtest`` and ``monitor report``: look at alerts.

`alerts` lists from the ``alert_timeline`` projection (caught up first), or streams the log when
the projection cannot be brought up to date (the log is locked by a busy writer, or the database
user may not write). `backtest` evaluates a rule folder over the
stored items into a scratch log: nothing is appended. `report` writes one self-contained HTML
page.
"""

from __future__ import annotations

import heapq
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .._durations import parse_duration
from ..alerting import CorrelationExplanation, backtest, backtest_rules, explain_correlation
from ..alerts import collect_report, render_html
from ..errors import ConfigError, LogError, RuleSetError
from ..events import AlertRaised, ItemReceived, format_time, parse_time, to_plain
from ..log import EventLog, open_log
from ..projections import AlertTimeline, ProjectionRunner
from ..rules import load_rules
from ..search import backtest_candidates
from ._context import EXIT_PROBLEM, CliContext
from ._options import check_rule_sources, rules_option, rules_sources
from ._progress import progress_bar
from ._render import LEVEL_STYLES, alerts_table, info
from ._render import console as make_console
from ._silence_cmds import attach, silenced_caption, silenced_marks

__all__ = ["register", "rich_console_write"]

_LEVELS = ("informational", "low", "medium", "high", "critical")
_STYLES = LEVEL_STYLES


def rich_console_write(console: Console | None = None) -> Callable[[str], None]:
    """A `write` for the console sink that colours each alert line by its level (the sink
    itself stays plain: ``load_sinks(path, console_write=rich_console_write())``)."""
    out = console or Console(highlight=False, soft_wrap=True)

    def write(line: str) -> None:
        # The line starts "<time> <LEVEL> ..." (see alert_line): style the second word.
        start = line.find(" ") + 1
        level = line[start:].split(" ", 1)[0]
        text = Text(line)
        text.stylize(_STYLES.get(level.lower(), "bold"), start, start + len(level))
        out.print(text, soft_wrap=True)  # one alert, one line, however long

    return write


def _now() -> datetime:
    return datetime.now(UTC)


def _when(value: str | None, option: str) -> datetime | None:
    """Parse ``2026-03-01``, ``2026-03-01T12:00Z`` or a duration ago (``24h``, ``7d``, ``2w``,
    ``1h30m``: the README's duration grammar, with a unit, since a bare number could be a
    year)."""
    if value is None:
        return None
    try:
        return _now() - timedelta(seconds=parse_duration(value, unit_required=True))
    except ValueError:
        pass
    try:
        return parse_time(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a time; write 2026-03-01, 2026-03-01T12:00Z, or a duration "
            "ago such as 90m, 24h or 7d",
            param_hint=option,
        ) from None


def _open(obj: CliContext, *, read_only: bool = False) -> EventLog:
    """Open the log; commands that only read open it read-only (backups, read-only media)."""
    return open_log(obj.db, read_only=read_only)


def _alert_at(log: EventLog, position: int) -> AlertRaised | None:
    page = log.read_page(position - 1, 1)
    if page and page[0].position == position:
        evt = page[0].event()
        return evt if isinstance(evt, AlertRaised) else None
    return None


def _latest(
    log: EventLog, limit: int, *, since, rule, level, place
) -> list[tuple[AlertRaised, int, int | None]]:
    """Newest-first (alert, folded repeats, the revision that no longer matches or None): from
    the projection, else by streaming the log (which does not look for revisions)."""
    try:
        ProjectionRunner(log, [AlertTimeline()]).run()
        rows = AlertTimeline.latest(log, limit, rule=rule, level=level, place=place, since=since)
        found = [
            (_alert_at(log, row["position"]), row["suppressed"], row.get("no_longer_matches"))
            for row in rows
        ]
        return [(a, n, gone) for a, n, gone in found if a is not None]
    except LogError:  # the projection cannot be written (locked, no write rights): stream
        pass
    entity = None if place is None else (place if ":" in place else f"place:{place}")
    heap: list[tuple[datetime, int, AlertRaised]] = []
    for record, evt in log.iter_events(types=("AlertRaised",)):
        assert isinstance(evt, AlertRaised)
        if (since and evt.event_time < since) or (rule and evt.rule_id != rule):
            continue
        if (level and evt.level != level) or (entity and entity not in evt.entities):
            continue
        entry = (evt.event_time, record.position, evt)
        if len(heap) < limit:
            heapq.heappush(heap, entry)
        elif entry[:2] > heap[0][:2]:
            heapq.heapreplace(heap, entry)
    return [(e[2], 0, None) for e in sorted(heap, key=lambda e: e[:2], reverse=True)]


def _table(rows: list[tuple[AlertRaised, int, int | None]]) -> Table:
    return alerts_table(
        [alert for alert, _, _ in rows],
        title=f"Alerts ({len(rows)}, newest first)",
        folded={alert.alert_id: n for alert, n, _ in rows},
        superseded={alert.alert_id: gone for alert, _, gone in rows if gone is not None},
    )


@click.group("alerts", invoke_without_command=True)
@click.option("--since", help="Only alerts at or after this event time (2026-03-01, 24h, 7d).")
@click.option("--rule", help="Only alerts of this rule id.")
@click.option("--level", type=click.Choice(_LEVELS), help="Only alerts of this level.")
@click.option("--place", help="Only alerts about this place (abu-kamal or place:abu-kamal).")
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Show at most this many alerts.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def alerts_group(ctx: click.Context, since, rule, level, place, limit: int, as_json: bool) -> None:
    """List the latest alerts, newest first, with the evidence highlighted."""
    if ctx.invoked_subcommand is not None:
        return
    log = _open(ctx.obj)
    try:
        rows = _latest(
            log, limit, since=_when(since, "--since"), rule=rule, level=level, place=place
        )
        silenced = silenced_marks(log, [alert.alert_id for alert, _, _ in rows])
    finally:
        log.close()
    if as_json:
        for alert, folded, gone in rows:
            body = {**to_plain(alert), "folded": folded, "no_longer_matches": gone}
            body["silenced"] = silenced.get(alert.alert_id)
            click.echo(json.dumps(body, ensure_ascii=False))
        return
    console = make_console()
    if not rows:
        console.print("No alerts match.")
        return
    table = _table(rows)
    table.caption = silenced_caption(silenced)
    console.print(table)


def _find(log: EventLog, alert_id: str) -> AlertRaised:
    listing = AlertTimeline.get(log, alert_id)
    if listing is not None:
        found = _alert_at(log, listing["position"])
        if found is not None:
            return found
    matches = [
        evt
        for _r, evt in log.iter_events(types=("AlertRaised",))
        if evt.alert_id.startswith(alert_id)  # type: ignore[attr-defined]
    ]
    if len(matches) == 1:
        return matches[0]  # type: ignore[return-value]
    if not matches:
        raise click.ClickException(f"no alert with id {alert_id!r}; `monitor alerts` lists ids")
    raise click.ClickException(f"{len(matches)} alerts start with {alert_id!r}; give more digits")


def _items(log: EventLog, ids: tuple[str, ...]) -> dict[str, ItemReceived]:
    wanted = {f"item:{i}" for i in ids}
    found: dict[str, ItemReceived] = {}
    for record in log.read(types=("ItemReceived",)):
        if record.dedupe_key in wanted:
            item = record.event()
            assert isinstance(item, ItemReceived)
            found[item.item_id] = item
            wanted.discard(record.dedupe_key)
            if not wanted:
                break
    return found


def _marked(text: str, spans: list[tuple[int, int]]) -> Text:
    out = Text(text)
    for start, end in spans:
        if 0 <= start < end <= len(text):
            out.stylize("bold black on yellow", start, end)
    return out


def _rules_or_none(rules: tuple[str, ...]) -> Any:
    """The rule set to explain with, or None when it does not load (the explanation then
    shows what the log holds: no condition, no evidence for matches stored without it)."""
    try:
        return load_rules(rules_sources(rules))
    except (RuleSetError, ConfigError, OSError):
        return None


def _print_correlation(alert: AlertRaised, why: CorrelationExplanation) -> None:
    """A correlation alert: its header, window and every match it counted, with items."""
    out = make_console()
    out.print(Text(f" {alert.level.upper()} ", style=_STYLES.get(alert.level, "reverse")), end=" ")
    out.print(f"[bold]{escape(alert.title)}[/]")
    out.print(f"alert    {alert.alert_id}\nrule     {alert.rule_id} v{alert.rule_version}")
    out.print(f"time     {format_time(alert.event_time)}")
    for line in why.lines():
        out.print(escape(line))
    for key, value in {**alert.labels, **alert.annotations}.items():
        if key != "contributing":
            out.print(f"{escape(key):<8} {escape(value)}")


@alerts_group.command("show")
@click.argument("alert_id")
@click.option("--json", "as_json", is_flag=True, help="The alert and its items as JSON.")
@rules_option()
@click.pass_obj
def show(obj: CliContext, alert_id: str, as_json: bool, rules: tuple[str, ...]) -> None:
    """Show one alert (full id or a unique prefix): evidence, and the text of its items.

    A correlation alert also shows its window and each match it counted, with its item
    (title, feed, time) and evidence; --rules (default: the default pack) supplies the
    rule's condition and the evidence of matches stored without an alert of their own.
    """
    log = _open(obj, read_only=True)
    try:
        alert = _find(log, alert_id)
        items = _items(log, alert.item_ids)
        why = None
        if alert.window_start is not None or "contributing" in alert.annotations:
            why = explain_correlation(log, alert, _rules_or_none(rules))
    finally:
        log.close()
    if as_json:
        body = to_plain(alert)
        body["items"] = [to_plain(items[i]) for i in alert.item_ids if i in items]
        if why is not None:
            body["correlation"] = why.to_dict()
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    if why is not None:
        _print_correlation(alert, why)
        return
    out = make_console()
    out.print(Text(f" {alert.level.upper()} ", style=_STYLES.get(alert.level, "reverse")), end=" ")
    out.print(f"[bold]{escape(alert.title)}[/]")
    out.print(f"alert    {alert.alert_id}\nrule     {alert.rule_id} v{alert.rule_version}")
    out.print(f"time     {format_time(alert.event_time)}")
    if alert.window_start and alert.window_end:
        out.print(f"window   {format_time(alert.window_start)} .. {format_time(alert.window_end)}")
    out.print(f"group    {alert.group_key or '-'}\nentities {', '.join(alert.entities) or '-'}")
    out.print(f"rules    {alert.ruleset_hash or '-'}")
    for key, value in {**alert.labels, **alert.annotations}.items():
        out.print(f"{escape(key):<8} {escape(value)}")
    if alert.evidence:
        out.print("\n[bold]Evidence[/]")
        for ev in alert.evidence:
            out.print(
                f"  {ev.field}[{ev.start}:{ev.end}] ",
                Text(ev.text, "bold black on yellow"),
                f" ({ev.selection})" if ev.selection else "",
            )
    single = len(alert.item_ids) == 1
    for item_id in alert.item_ids:
        item = items.get(item_id)
        out.print(f"\n[bold]Item {item_id}[/]")
        if item is None:
            out.print("  (not in this log)")
            continue
        out.print(f"  {escape(item.source or item.feed_id)}  {escape(item.url or '')}")
        for field in ("title", "summary", "content"):
            text = getattr(item, field)
            if text:
                spans = [(e.start, e.end) for e in alert.evidence if e.field == field]
                out.print(f"  [dim]{field}[/] ", _marked(text, spans if single else []))


@click.command("backtest")
@rules_option()
@click.option(
    "--add",
    "add",
    multiple=True,
    metavar="DIR",
    help="The active rules (--rules) plus these; a rule with an active rule's id replaces it. "
    "Only the new and changed rules are compared.",
)
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="DIR",
    help="These rules alone (with the active lexicons); only they are compared.",
)
@click.option(
    "--replace",
    "replace",
    multiple=True,
    metavar="DIR",
    help="These rules instead of the active ones; every rule is compared, so an active rule "
    "they lack shows its alerts as gone (the behaviour without a mode, on --rules).",
)
@click.option("--since", help="Only items with event time at or after this (2026-03-01, 7d).")
@click.option("--until", help="Only items with event time at or before this.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes that match items, by position range [default: the machine's cores].",
)
@click.option(
    "--prefilter",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="Read only the items the search index says the rules can match: auto uses the index "
    "when it is nearly up to date, on builds it first, off reads everything.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_obj
def backtest_command(
    obj: CliContext,
    rules: tuple[str, ...],
    add: tuple[str, ...],
    only: tuple[str, ...],
    replace: tuple[str, ...],
    since: str | None,
    until: str | None,
    jobs: int | None,
    prefilter: str,
    as_json: bool,
) -> None:
    """Evaluate rules over the stored items WITHOUT appending anything: per rule, how many
    alerts it would raise, examples, and the difference from what the log raised (new / gone).

    \b
    monitor backtest --add myrules/       the active set plus myrules/ (changed rules compared)
    monitor backtest --only myrules/      myrules/ alone
    monitor backtest --replace myrules/   myrules/ instead of the active set
    monitor backtest --rules myrules/     the same as --replace myrules/

    The active set is --rules (default: the default pack).
    """
    if sum(1 for mode in (add, only, replace) if mode) > 1:
        raise click.UsageError("choose one of --add, --only and --replace")
    ruleset, compare = backtest_rules(
        rules_sources(rules),
        add=check_rule_sources(add) if add else (),
        only=check_rule_sources(only) if only else (),
        replace=check_rule_sources(replace) if replace else (),
    )
    log = _open(obj)
    try:
        with progress_bar("search index") as update:
            candidates, visit, note = backtest_candidates(
                log, ruleset, mode=prefilter, progress=update
            )
        if not as_json:  # --json carries it as "scan"
            info(f"backtest: {note}", err=True)
        memory = getattr(log, "url", "memory").startswith("memory")
        workers = 1 if memory else (jobs or os.cpu_count() or 1)
        with progress_bar("backtest") as update:
            report = backtest(
                log,
                ruleset,
                clock=_now,
                since=_when(since, "--since"),
                until=_when(until, "--until"),
                progress=update,
                compare=compare,
                jobs=workers,
                candidates=candidates,
                visit=visit,
            )
    finally:
        log.close()
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        return
    out = make_console()
    tested = ", ".join(add or only or replace or rules_sources(rules))
    mode = "the active rules plus " if add else ""
    table = Table(
        title=f"Backtest of {mode}{tested} over {report.items + report.prefiltered} item(s)",
        caption=f"{report.scan}; {report.prefiltered:,} item(s) left unread; {report.jobs} job(s)",
    )
    for column in ("rule", "would raise", "throttled", "active raised", "new", "gone"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for row in report.rules:
        table.add_row(
            row.rule_id,
            str(row.would_raise),
            str(row.would_suppress),
            str(row.active),
            f"[green]+{row.new}[/]" if row.new else "0",
            f"[red]-{row.gone}[/]" if row.gone else "0",
        )
    out.print(table)
    for row in report.rules:
        if not row.examples:
            continue
        out.print(f"\n[bold]{escape(row.rule_id)}[/] examples:")
        for ex in row.examples:
            terms = ", ".join(ex["evidence"])
            out.print(
                f"  {ex['event_time'][:16]}  {escape(ex['title'] or ex['summary'])}"
                + (f"  [black on yellow]{escape(terms)}[/]" if terms else "")
            )
    if not report.rules:
        out.print("The rule set raises nothing over this history, and nothing was raised before.")


@click.command("report")
@click.option(
    "--html",
    "html_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Write the report to this HTML file.",
)
@click.option("--since", help="Only alerts at or after this event time (2026-03-01, 7d).")
@click.option("--until", help="Only alerts at or before this event time.")
@click.option(
    "--latest",
    default=25,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="How many of the latest alerts to show in full.",
)
@click.pass_obj
def report_command(
    obj: CliContext, html_path: str, since: str | None, until: str | None, latest: int
) -> None:
    """Write a self-contained HTML report: alert timelines per rule and per place, top places
    and actors, and the latest alerts with their evidence."""
    log = _open(obj, read_only=True)
    try:
        data = collect_report(
            log,
            now=_now(),
            since=_when(since, "--since"),
            until=_when(until, "--until"),
            latest=latest,
        )
    finally:
        log.close()
    try:
        Path(html_path).write_text(render_html(data), encoding="utf-8")
    except OSError as exc:
        click.echo(f"error: cannot write {html_path}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_PROBLEM)
    info(f"wrote {html_path}: {data.alerts} alert(s), {len(data.per_rule)} rule(s)")


attach(alerts_group)  # silence, unsilence, silences


def register(group: click.Group) -> None:
    """Attach this module's commands to the `monitor` group."""
    for command in (alerts_group, backtest_command, report_command):
        group.add_command(command)

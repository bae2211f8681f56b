"""``monitor watch`` and ``monitor feeds status|import|export|check``: the feed side of the CLI.

`watch` polls the feed list on a schedule (or once with ``--once``) through `Monitor.poll`,
which appends what the feeds bring and evaluates the rules, and prints new alerts as they are
raised. Polls run in a few worker threads (`Monitor.poll` is thread-safe: fetching runs in
parallel, state lookups and processing one at a time).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ..alerts import ItemLookup, alert_line
from ..app import Monitor
from ..errors import ConfigError
from ..events import AlertRaised, format_time, parse_time
from ..feeds import (
    DEFAULT_INTERVAL,
    FeedConfig,
    FeedList,
    PollReport,
    RecordPolicy,
    Watcher,
    backoff_delay,
    export_opml,
    feeds_to_yaml,
    import_opml,
    load_feeds,
)
from ._alerts_cmds import rich_console_write
from ._context import EXIT_INPUT, EXIT_PROBLEM, CliContext
from ._options import Duration, InputFile, optional_rules, rules_option, watch_paths
from ._render import alerts_table, info
from ._render import console as make_console
from ._watch_checkpoints import checkpoint_options, checkpoint_task
from ._watch_reload import ConfigReload
from ._watch_service import WatchServices, service_options

__all__ = ["register"]

DEFAULT_FEEDS = Path("feeds/default.yaml")

#: The --feeds option of watch, export and check.
feeds_option = click.option(
    "--feeds",
    "feeds_path",
    default=str(DEFAULT_FEEDS),
    show_default=True,
    type=InputFile("feed list"),
    help="Feed list (YAML).",
)


class _Poller:
    """`Monitor.poll` plus the alerts it raised: each new `AlertRaised` in the log is handed to
    `on_alerts` once, as (log position, alert) pairs, whichever worker thread's poll processed
    it. `on_report` sees every poll's report (the metrics hook)."""

    def __init__(self, monitor: Monitor, on_alerts: Any = None, on_report: Any = None) -> None:
        self.monitor = monitor
        self.lock = threading.Lock()
        self.on_alerts = on_alerts
        self.on_report = on_report
        self.seen = monitor.log.head()
        self.alerts: list[AlertRaised] = []

    def poll(self, feed: FeedConfig) -> PollReport | None:
        report = self.monitor.poll(feed)  # thread-safe; None when another watcher holds it
        if report is not None and self.on_report is not None:
            self.on_report(report)
        with self.lock:
            head = self.monitor.log.head()
            new = [
                (record.position, event)
                for record, event in self.monitor.log.iter_events(
                    self.seen, types=["AlertRaised"], until=head
                )
            ]
            self.seen = max(self.seen, head)
            self.alerts.extend(event for _, event in new)  # type: ignore[misc]
        if new and self.on_alerts is not None:
            self.on_alerts(new)
        return report

    def reload_rules(self, rules: tuple[str, ...]) -> None:
        self.monitor.reload_rules(rules)


def _reports_table(reports: list[PollReport]) -> Table:
    table = Table(title="Polls", expand=False)
    for column in ("feed", "status", "new", "seen", "result", "ms"):
        justify = "right" if column in ("status", "new", "seen", "ms") else "left"
        table.add_column(column, justify=justify, overflow="fold")
    for r in reports:
        if r.ok:
            result = "[yellow]degraded[/]: " + (r.error or "") if r.degraded else "[green]ok[/]"
        else:
            result = f"[red]{r.error_kind}[/]: {r.error}"
        status = "file" if r.status == 0 else ("-" if r.status is None else str(r.status))
        table.add_row(
            r.feed_id,
            status,
            str(r.new_items),
            str(r.seen_items),
            result,
            f"{r.duration * 1000:.0f}",
        )
    return table


@click.command()
@feeds_option
@rules_option()
@click.option("--no-rules", is_flag=True, help="Store items without evaluating rules.")
@click.option(
    "--once",
    is_flag=True,
    help="Poll every enabled feed once, show alerts, exit (1 when every feed polled failed).",
)
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 32),
              help="Feeds fetched at the same time.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="With --once: print the result as JSON.")
@click.option(
    "--heartbeat",
    default="1h",
    show_default=True,
    type=Duration(minimum=1),
    metavar="DURATION",
    help="Write an unchanged feed's polls at least this often (folded into one record).",
)
@click.option(
    "--record-every-poll",
    is_flag=True,
    help="Write every poll to the log, changed or not (as before heartbeats).",
)
@checkpoint_options
@service_options
@click.pass_obj
def watch(
    obj: CliContext,
    feeds_path: str,
    rules: tuple[str, ...],
    no_rules: bool,
    once: bool,
    workers: int,
    as_json: bool,
    heartbeat: float,
    record_every_poll: bool,
    checkpoint_key: str | None,
    checkpoint_out: str | None,
    checkpoint_append: bool,
    checkpoint_every: str,
    sinks: str | None,
    drain_timeout: str,
    metrics: str | None,
    unhealthy_after: str,
) -> None:
    """Poll the feeds on their schedules, store new items, and flag them with the rules.

    Runs until Ctrl-C or SIGTERM (polls in flight finish first). The feed list and the rule
    folders are reloaded when they change, or on SIGHUP; a bad edit keeps the running set.
    With --once, every enabled feed is polled once and the alerts raised are shown; it exits
    1 when feeds were polled and every one failed (a degraded feed counts as a success), 0
    otherwise (also when no feed is enabled).
    With --checkpoint-key, the log's head is signed every --checkpoint-every and on exit.
    With --sinks, alerts are delivered to the sinks beside the polls (and before exiting);
    with --metrics, Prometheus metrics and /healthz are served.
    """
    feedlist = load_feeds(feeds_path)
    sources = optional_rules(rules, no_rules)
    if obj.verbose == 0 and not once and not obj.quiet:  # one line per poll (--once: a table)
        logging.getLogger("monitor.watch").setLevel(logging.INFO)
    console = make_console()
    with Monitor.open(obj.db, rules=sources) as monitor:
        monitor.record_policy = RecordPolicy(every=heartbeat, every_poll=record_every_poll)
        signing = checkpoint_task(
            monitor.log,
            key=checkpoint_key,
            out=checkpoint_out,
            append=checkpoint_append,
            every=checkpoint_every,
        )
        services = WatchServices(
            monitor,
            sinks=sinks,
            drain_timeout=drain_timeout,
            metrics=metrics,
            unhealthy_after=unhealthy_after,
            console_write=rich_console_write(console),
        )
        services.start()
        if once:
            poller = _Poller(monitor, on_report=services.on_poll)
            watcher = Watcher(feedlist, poller.poll, clock=monitor.clock, max_workers=workers)
            reports = watcher.run_once()
            services.stop()  # deliver what the polls raised before exiting
            if signing is not None:
                signing[2]()
            _print_once(console, reports, poller.alerts, as_json)
            if reports and not any(r.ok for r in reports):
                click.echo(f"error: every feed failed ({len(reports)} polled)", err=True)
                sys.exit(EXIT_PROBLEM)
            return
        lookup = ItemLookup(monitor.log)
        write = rich_console_write(console)

        def show(alerts: list[tuple[int, AlertRaised]]) -> None:
            for position, alert in alerts:
                write(alert_line(alert, lookup.find(alert, position)))

        poller = _Poller(monitor, on_alerts=show, on_report=services.on_poll)
        config = ConfigReload(click.get_current_context())

        def reload_hook() -> FeedList | None:
            nonlocal sources
            changed = config.changes()  # monitor.yaml may name other feeds, rules or sinks
            if "rules" in changed:
                sources = optional_rules(changed["rules"], no_rules)
            if sources is not None:
                poller.reload_rules(sources)
            if "sinks" in changed:
                services.use_sinks_file(changed["sinks"])
            services.reload()
            if "feeds_path" in changed:
                return load_feeds(changed["feeds_path"])
            return None

        config_file = [Path(config.path)] if config.path else []
        watcher = Watcher(
            feedlist,
            poller.poll,
            reload=reload_hook if sources or sinks or config.path else None,
            watch_paths=[*watch_paths(sources), *services.watch_paths, *config_file],
            clock=monitor.clock,
            max_workers=workers,
            housekeeping=[signing] if signing is not None else [],
        )
        watcher.run()
        services.stop()  # after the last poll: deliver what is pending, within --drain-timeout


def _print_once(
    console: Console,
    reports: list[PollReport],
    alerts: list[AlertRaised],
    as_json: bool,
) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "polls": [
                        {
                            "feed_id": r.feed_id,
                            "ok": r.ok,
                            "status": r.status,
                            "new_items": r.new_items,
                            "seen_items": r.seen_items,
                            "degraded": r.degraded,
                            "error_kind": r.error_kind,
                            "error": r.error,
                        }
                        for r in reports
                    ],
                    "alerts": [
                        {
                            "alert_id": a.alert_id,
                            "rule_id": a.rule_id,
                            "level": a.level,
                            "title": a.title,
                            "entities": list(a.entities),
                            "event_time": format_time(a.event_time),
                        }
                        for a in alerts
                    ],
                },
                ensure_ascii=False,
            )
        )
        return
    console.print(_reports_table(reports))
    new = sum(r.new_items for r in reports)
    console.print(
        f"polled [bold]{len(reports)}[/] feed(s), stored [bold]{new}[/] new item(s), "
        f"raised [bold]{len(alerts)}[/] alert(s)"
    )
    if alerts:
        ordered = sorted(alerts, key=lambda a: a.event_time)
        console.print(alerts_table(ordered, title=f"Alerts ({len(alerts)})"))


# --- monitor feeds ... -----------------------------------------------------------------------


@click.group("feeds")
def feeds_group() -> None:
    """Feed lists and feed health: status, OPML import/export, validation."""


class _Midpoint:
    """A stand-in RNG for the expected backoff: the middle of the jitter range."""

    @staticmethod
    def uniform(low: float, high: float) -> float:
        return (low + high) / 2


def _status_rows(stored: list[dict[str, Any]], feedlist: FeedList | None) -> list[dict[str, Any]]:
    configured = {f.id: f for f in feedlist.feeds} if feedlist else {}
    rows: list[dict[str, Any]] = []
    seen = set()
    for status in stored:
        feed_id = status["feed_id"]
        seen.add(feed_id)
        feed = configured.get(feed_id)
        interval = feed.interval if feed else DEFAULT_INTERVAL
        row = dict(status)
        row["configured"] = feed is not None
        row["enabled"] = bool(feed.enabled) if feed else None
        row.update(_next_poll(status, interval, feed))
        rows.append(row)
    for feed in configured.values():
        if feed.id not in seen:
            rows.append(
                {
                    "feed_id": feed.id,
                    "url": feed.location,
                    "configured": True,
                    "enabled": feed.enabled,
                    "last_poll": None,
                    "last_success": None,
                    "items": 0,
                    "failures": 0,
                    "next_poll": None if not feed.enabled else "at start",
                    "backoff": None,
                    "disabled": False,
                }
            )
    return sorted(rows, key=lambda r: r["feed_id"])


def _next_poll(status: dict[str, Any], interval: float, feed: FeedConfig | None) -> dict[str, Any]:
    if status.get("disabled") or (feed is not None and not feed.enabled):
        return {"next_poll": None, "backoff": None}
    last = parse_time(status.get("last_poll"))
    failures = int(status.get("failures") or 0)
    delay = interval
    backoff = None
    if failures:
        delay = backoff_delay(
            interval, failures, retry_after=status.get("retry_after"), rng=_Midpoint()
        )
        backoff = round(delay, 1)
    when = None if last is None else format_time(last + timedelta(seconds=delay))
    return {"next_poll": when, "backoff": backoff}


def _ago(value: str | None, now: datetime) -> str:
    when = parse_time(value)
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    suffix = "ago" if seconds >= 0 else "from now"
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{when:%Y-%m-%d %H:%M} ({seconds / size:.0f}{unit} {suffix})"
    return f"{when:%Y-%m-%d %H:%M} ({seconds:.0f}s {suffix})"


@feeds_group.command("status")
@click.option(
    "--feeds",
    "feeds_path",
    default=None,
    type=InputFile("feed list"),
    help=f"Feed list for intervals and never-polled feeds [default: {DEFAULT_FEEDS} if present].",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def status_command(obj: CliContext, feeds_path: str | None, as_json: bool) -> None:
    """Show each feed's last poll, last success, items, failures, next poll and backoff."""
    feedlist = None
    if feeds_path is not None:
        feedlist = load_feeds(feeds_path)
    elif DEFAULT_FEEDS.is_file():
        feedlist = load_feeds(DEFAULT_FEEDS)
    with Monitor.open(obj.db) as monitor:
        rows = _status_rows(monitor.feed_status(), feedlist)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    now = datetime.now(UTC)
    table = Table(title="Feeds", expand=False)
    for column in ("feed", "last poll", "last success", "items", "failures", "next poll",
                   "backoff", "state"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for row in rows:
        if row.get("disabled"):
            state = f"[red]disabled[/]: {row.get('disabled_reason') or ''}"
        elif row.get("enabled") is False:
            state = "off in feed list"
        elif row.get("failures"):
            state = f"[red]{row.get('last_error_kind')}[/]: {row.get('last_error') or ''}"
        elif row.get("degraded"):
            state = f"[yellow]degraded[/]: {row.get('problem') or ''}"
        elif row.get("last_poll") is None:
            state = "not polled yet"
        else:
            state = "[green]ok[/]"
        next_poll = row.get("next_poll")
        table.add_row(
            row["feed_id"],
            _ago(row.get("last_poll"), now),
            _ago(row.get("last_success"), now),
            str(row.get("items", 0)),
            str(row.get("failures", 0)),
            "-" if next_poll is None else (
                next_poll if next_poll == "at start" else _ago(next_poll, now)
            ),
            "-" if not row.get("backoff") else f"{row['backoff']:.0f}s",
            state,
        )  # fmt: skip
    make_console().print(table)


@feeds_group.command("import")
@click.argument("opml", type=InputFile("OPML file"))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write YAML here.")
@click.option("--force", is_flag=True, help="Overwrite an existing --output file.")
def import_command(opml: str, output: str | None, force: bool) -> None:
    """Turn an OPML subscription list into a feed list (YAML on stdout, or -o FILE)."""
    feeds = import_opml(Path(opml))
    text = feeds_to_yaml(feeds)
    if output is None:
        click.echo(text, nl=False)
        return
    target = Path(output)
    if target.exists() and not force:
        raise click.UsageError(f"{output} exists; pass --force to overwrite it")
    target.write_text(text, encoding="utf-8")
    info(f"wrote {len(feeds)} feed(s) to {output}", err=True)


@feeds_group.command("export")
@feeds_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write OPML here.")
def export_command(feeds_path: str, output: str | None) -> None:
    """Write the feed list as OPML (stdout, or -o FILE) for any feed reader."""
    text = export_opml(load_feeds(feeds_path))
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")


@feeds_group.command("check")
@feeds_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def check_command(feeds_path: str, as_json: bool) -> None:
    """Validate a feed list; errors name file:line:column (exit 4).

    With --json, prints {"file", "ok", "feeds", "enabled", "errors": [{"location", "path",
    "line", "column", "message"}]} on stdout, also when the list has an error (exit 4 still).
    """
    try:
        feedlist = load_feeds(feeds_path)
    except ConfigError as exc:
        if not as_json:
            raise
        click.echo(json.dumps(_check_json(feeds_path, None, [exc]), ensure_ascii=False))
        sys.exit(EXIT_INPUT)
    if as_json:
        click.echo(json.dumps(_check_json(feeds_path, feedlist, []), ensure_ascii=False))
        return
    info(f"{feeds_path}: {len(feedlist.feeds)} feed(s), {len(feedlist.enabled)} enabled, OK")


def _check_json(path: str, feedlist: FeedList | None, errors: list[ConfigError]) -> dict[str, Any]:
    return {
        "file": path,
        "ok": not errors,
        "feeds": None if feedlist is None else len(feedlist.feeds),
        "enabled": None if feedlist is None else len(feedlist.enabled),
        "errors": [
            {
                "location": None if e.source is None else str(e.source),
                "path": None if e.source is None else e.source.path,
                "line": None if e.source is None else e.source.line,
                "column": None if e.source is None else e.source.column,
                "message": e.message,
            }
            for e in errors
        ],
    }


def register(group: click.Group) -> None:
    """Attach this module's commands to the `monitor` group."""
    group.add_command(watch)
    group.add_command(feeds_group)

"""`Monitor`: the library's front door. It wires the log, the rule engine, the projections,
the feeds and the alert sinks together, and is all the CLI uses.

    from monitor import Monitor

    with Monitor.open("news.db", rules="rules/") as m:
        m.ingest_files(["today.jsonl"])        # append, evaluate, project, deliver
        for alert in m.alerts(limit=10):
            print(alert["rule_id"], alert["title"])

Every step after an append is a log subscriber with its own checkpoint (the rule evaluator,
each projection, each sink), so `process` can be called at any time, by any process, and picks
up exactly where the last run stopped.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from ._durations import parse_duration
from .alerting import MAX_REPORTED_ALERTS, AlertEvaluator, EvaluationReport
from .alerts import CallbackSink, Delivery, Sink, load_sinks
from .errors import ConfigError
from .events import (
    AlertAcknowledged,
    AlertFeedback,
    AlertRaised,
    Event,
    ItemReceived,
    Matcher,
    SilenceCreated,
    SilenceExpired,
    format_time,
    item_id,
    parse_matcher,
    parse_time,
)
from .feeds import (
    FeedConfig,
    FeedList,
    FeedState,
    Fetcher,
    PollReport,
    RecordPolicy,
    live_state,
    load_feeds,
    pending_heartbeat,
    poll_feed,
    read_items_file,
)
from .log import EventLog, open_log
from .projections import (
    AlertTimeline,
    EntityMentions,
    FeedStatus,
    ItemsByFeedDay,
    ProjectionRunner,
    RuleHits,
    Silences,
    builtin_projections,
    rebuild_in_processes,
    sortable_time,
)
from .rules import RuleSet, RuleSources, load_rules
from .search import Filters, Page, catch_up, list_items
from .search import search as search_items

__all__ = ["IngestReport", "Monitor", "ProcessReport"]

log = logging.getLogger("monitor")

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@attrs.frozen
class ProcessReport:
    """What one `process` pass did: alerts raised (new), projections advanced, deliveries.
    `raised` counts the new alerts; `alerts` lists the latest `MAX_REPORTED_ALERTS` of them
    (a pass that catches up with a long backlog must not hold every alert in memory)."""

    alerts: tuple[AlertRaised, ...] = ()
    delivered: int = 0
    failing: tuple[str, ...] = ()
    raised: int = 0


@attrs.frozen
class IngestReport:
    """What an ingest did: items stored, items that were already there, the alerts, the
    deliveries made, and the sinks left waiting to retry (their alerts wait in the log).
    `raised` counts the new alerts; `alerts` lists the latest `MAX_REPORTED_ALERTS` of them
    (`Monitor.alerts` reads them all from the log)."""

    stored: int
    duplicates: int
    alerts: tuple[AlertRaised, ...] = ()
    delivered: int = 0
    failing: tuple[str, ...] = ()
    raised: int = 0


#: How many items `Monitor.ingest` appends before it processes them.
INGEST_BATCH = 500


class _Ingest:
    """An ingest in batches: each batch is appended, then processed (rules, projections,
    sinks) before the next, like a watcher's polls. Every reader then finds the batch's
    records, and the alerts just appended, in the log's shared decode cache, instead of
    decoding each record once per reader after a large file pushed them out (10,000 items
    in one call went from 1,350-1,880 to 2,400-2,590 items/s); and nothing waits in memory
    for the end. The result is the same: every subscriber folds the log in order either way."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.stored = self.duplicates = self.delivered = self.raised = 0
        self.alerts: deque[AlertRaised] = deque(maxlen=MAX_REPORTED_ALERTS)
        self.failing: tuple[str, ...] = ()
        self.processed = False

    def add(self, batch: Sequence[ItemReceived]) -> None:
        """Append and process `batch` (an empty last batch still processes once, so an
        ingest of nothing processes whatever was pending, as it always has)."""
        if not batch and self.processed:
            return
        if batch:
            result = self.monitor.log.append_events(batch)
            self.stored += len(result.stored)
            self.duplicates += result.duplicates
        report = self.monitor.process()
        self.processed = True
        self.alerts.extend(report.alerts)
        self.raised += report.raised
        self.delivered += report.delivered
        self.failing = report.failing  # the sinks still failing after the last batch

    def report(self) -> IngestReport:
        return IngestReport(
            self.stored,
            self.duplicates,
            tuple(self.alerts),
            self.delivered,
            self.failing,
            self.raised,
        )


class Monitor:
    """The event log plus everything that reacts to it.

    Args:
        event_log: an open `EventLog`; `Monitor.open` makes one from a path or URL.
        rules: rule sources for `load_rules` (a folder, ``"default"`` for the installed pack,
            or a list of them) or a loaded `RuleSet`; without one no alerts are raised.
        sinks: where alerts are delivered (see `monitor.alerts`).
        clock: the time source for received times and polls (tests freeze it).
        transport: an httpx transport for feed fetching (tests use a mock one).
    """

    def __init__(
        self,
        event_log: EventLog,
        *,
        rules: RuleSet | RuleSources | None = None,
        sinks: Sequence[Sink] = (),
        clock: Clock = _utcnow,
        transport: Any = None,
    ) -> None:
        self.log = event_log
        self.clock = clock
        self.projections = ProjectionRunner(event_log, builtin_projections())
        self._transport = transport
        self._fetcher: Fetcher | None = None
        self._sinks: list[Sink] = list(sinks)
        self._callbacks: list[Callable[[AlertRaised], None]] = []
        self.ruleset: RuleSet | None = None
        self.rules_source: str = ""
        self._evaluator: AlertEvaluator | None = None
        self._lock = threading.RLock()
        #: Identity of this process in leases (host, pid, random part).
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        #: Whether feeds are shared with other watchers through leases (backends that
        #: support them: SQLite and PostgreSQL; one process alone always holds them).
        self.shared = type(event_log).acquire_lease is not EventLog.acquire_lease
        #: The shortest time a feed lease is held without renewal, in seconds.
        self.lease_ttl = 120.0
        #: Which polls are written: unchanged ones fold into a heartbeat (see `RecordPolicy`).
        self.record_policy = RecordPolicy()
        self._live: dict[str, FeedState] = {}  # feeds with unchanged polls not yet written
        self._delivery = Delivery(event_log, self._sinks, clock=clock) if self._sinks else None
        #: Called after each rule evaluation pass with its duration in seconds and its
        #: `EvaluationReport` (the watcher's metrics); it must be cheap and must not raise.
        self.on_evaluated: Callable[[float, EvaluationReport], object] | None = None
        if rules is not None:
            self.use_rules(rules)

    @classmethod
    def open(
        cls,
        db: str | Path = "monitor.db",
        *,
        rules: RuleSet | RuleSources | None = None,
        sinks: Sequence[Sink] | str | Path = (),
        clock: Clock = _utcnow,
        transport: Any = None,
    ) -> Monitor:
        """Open (or create) the log at `db` (a path or URL) and wire everything to it."""
        event_log = open_log(db)
        try:
            if isinstance(sinks, str | Path):
                sinks = load_sinks(sinks)
            return cls(event_log, rules=rules, sinks=sinks, clock=clock, transport=transport)
        except BaseException:
            event_log.close()
            raise

    # --- rules -----------------------------------------------------------------------------

    def use_rules(self, rules: RuleSet | RuleSources) -> RuleSet:
        """Make `rules` the active rule set (loading it from its sources unless it is a
        `RuleSet`). All-or-nothing: on any error the previous rule set stays active and the
        error is raised. ``rules_source`` (and the `RulesetLoaded` event) names every source."""
        ruleset = rules if isinstance(rules, RuleSet) else load_rules(rules)
        with self._lock:  # a watcher thread may be processing with the old set right now
            self.rules_source = ", ".join(ruleset.sources)
            self.ruleset = ruleset
            if self._evaluator is None:
                self._evaluator = AlertEvaluator(
                    self.log, ruleset, clock=self.clock, source=self.rules_source
                )
            else:
                self._evaluator.set_ruleset(ruleset, self.rules_source)
        return ruleset

    def reload_rules(self, sources: RuleSources) -> bool:
        """Reload rules from `sources`; keep the running set and log why when the new one
        fails."""
        try:
            before = self.ruleset.hash if self.ruleset else None
            ruleset = self.use_rules(sources)
        except Exception as exc:  # the watcher must survive a bad edit
            names = (
                sources if isinstance(sources, str | os.PathLike) else ", ".join(map(str, sources))
            )
            log.error("rules in %s not reloaded, keeping the running set: %s", names, exc)
            return False
        if ruleset.hash != before:
            log.info("rules reloaded from %s: %d rules", self.rules_source, len(ruleset.rules))
        return True

    # --- alerts ----------------------------------------------------------------------------

    def on_alert(
        self,
        callback: Callable[[AlertRaised], None],
        *,
        name: str | None = None,
        replay: bool = False,
    ) -> None:
        """Call `callback(alert)` for each alert raised from now on, in log order, at least
        once (an exception in it is retried at the next `process`).

        `name` keys the callback's checkpoint in the log: a callback registered again under the
        same name, in a later process, resumes where it stopped. With `replay=True` a callback
        new to this log first receives every alert already in it.
        """
        sink = CallbackSink(callback, name=name or f"callback-{len(self._callbacks)}")
        checkpoint = Delivery.checkpoint_name(sink)
        if not replay and self.log.get_checkpoint(checkpoint) == 0:
            self.log.set_checkpoint(checkpoint, self.log.head())
        self._sinks.append(sink)
        self._callbacks.append(callback)
        self._delivery = Delivery(self.log, self._sinks, clock=self.clock)

    def add_sinks(self, sinks: Sequence[Sink] | str | Path) -> None:
        """Deliver to `sinks` too (a list, or a sinks YAML file to load) at each `process`.
        Each sink resumes from its checkpoint (``deliver:<name>``), or starts at the beginning
        of the log when new."""
        if isinstance(sinks, str | Path):
            sinks = load_sinks(sinks)
        with self._lock:
            self._sinks.extend(sinks)
            self._delivery = Delivery(self.log, self._sinks, clock=self.clock)

    def alerts(self, *, limit: int = 50, **filters: Any) -> list[dict[str, Any]]:
        """The latest alerts, newest first (see `AlertTimeline.latest` for the filters)."""
        self.projections.run()
        return list(AlertTimeline.latest(self.log, limit=limit, **filters))

    # --- silences ----------------------------------------------------------------------------

    def silence(
        self,
        *,
        rule: str | None = None,
        level: str | None = None,
        match: Iterable[str | Matcher] = (),
        duration: float | str | timedelta | None = None,
        until: datetime | str | None = None,
        starts: datetime | str | None = None,
        comment: str = "",
        by: str | None = None,
    ) -> SilenceCreated:
        """Mute delivery of the alerts every matcher matches, from `starts` (default: now)
        for `duration` (``6h``, seconds or a timedelta) or `until` a time; return the stored
        `SilenceCreated`. `rule` and `level` are shorthands for ``rule=R`` and ``level=L``;
        `match` takes ``key=value``, ``key!=value``, ``key=~regex``, ``key!~regex``. The
        alerts stay in the log (see the README, "Silences"). `by` defaults to $USER.

        Raises:
            ConfigError: no matcher, an unknown key, a bad regex, no end or an end not after
                the start.
        """
        matchers = [Matcher(name="rule", value=rule)] if rule else []
        if level:
            matchers.append(Matcher(name="level", value=level))
        matchers += [m if isinstance(m, Matcher) else parse_matcher(m) for m in match]
        now = self.clock()
        start = parse_time(starts) or now
        if (duration is None) == (until is None):
            raise ConfigError("give the silence a length (--for 6h) or an end (--until TIME)")
        if duration is not None:
            if not isinstance(duration, timedelta):
                try:
                    duration = timedelta(seconds=parse_duration(duration))
                except ValueError as exc:
                    raise ConfigError(f"--for: {exc}") from None
            end = start + duration
        else:
            end = parse_time(until)  # type: ignore[assignment]
        if end is not None and end <= now:
            raise ConfigError(f"the silence would end at {format_time(end)}, already past")
        silence = SilenceCreated(
            silence_id=uuid.uuid4().hex[:16],
            matchers=matchers,
            starts=start,
            ends=end,
            created_at=now,
            created_by=by or os.environ.get("USER", ""),
            comment=comment,
        )
        self.log.append_events([silence])
        return silence

    def unsilence(self, silence_id: str, *, by: str | None = None) -> SilenceExpired:
        """End silence `silence_id` (its id or a unique prefix) now; return the stored
        `SilenceExpired`. Alerts raised after it are delivered again.

        Raises:
            ConfigError: no such silence, several start with the prefix, or it already ended.
        """
        now = self.clock()
        found = [
            s for s in self.silences(include_expired=True) if s["silence_id"].startswith(silence_id)
        ]
        exact = [s for s in found if s["silence_id"] == silence_id]
        found = exact or found
        if not found:
            raise ConfigError(
                f"no silence {silence_id!r}; `monitor alerts silences --all` lists them"
            )
        if len(found) > 1:
            raise ConfigError(
                f"{len(found)} silences start with {silence_id!r}; give more of the id"
            )
        if found[0]["status"] == "expired":
            raise ConfigError(f"silence {found[0]['silence_id']} has already ended")
        expired = SilenceExpired(
            silence_id=found[0]["silence_id"], when=now, by=by or os.environ.get("USER", "")
        )
        self.log.append_events([expired])
        return expired

    def silences(self, *, include_expired: bool = False) -> list[dict[str, Any]]:
        """Every silence active or pending now (with `include_expired`, every one), each with
        its ``status`` and how many alerts it ``silenced``."""
        ProjectionRunner(self.log, [Silences()]).run()
        return list(Silences.all(self.log, now=self.clock(), include_expired=include_expired))

    # --- analyst feedback ----------------------------------------------------------------------

    def acknowledge(self, alert_id: str, *, by: str | None = None, note: str = "") -> bool:
        """Record that `by` (default $USER) has seen alert `alert_id` and owns it; return
        False when it was already acknowledged (the first acknowledgement stays).

        Raises:
            ConfigError: no alert `alert_id` in the log.
        """
        rule_id = self._alert_rule(alert_id)
        event = AlertAcknowledged(
            alert_id=alert_id,
            rule_id=rule_id,
            when=self.clock(),
            by=by or os.environ.get("USER", ""),
            note=note,
        )
        return bool(self.log.append_events([event]).stored)

    def feedback(
        self, alert_id: str, verdict: str, *, note: str = "", by: str | None = None
    ) -> AlertFeedback:
        """Record an analyst's `verdict` on alert `alert_id` (``true_positive`` or
        ``false_positive``) with a `note`; the latest verdict on an alert counts. Return the
        stored `AlertFeedback`.

        Raises:
            ConfigError: no alert `alert_id` in the log, or an unknown verdict.
        """
        event = AlertFeedback(
            feedback_id=uuid.uuid4().hex[:16],
            alert_id=alert_id,
            rule_id=self._alert_rule(alert_id),
            verdict=verdict,
            when=self.clock(),
            by=by or os.environ.get("USER", ""),
            note=note,
        )
        self.log.append_events([event])
        return event

    def _alert_rule(self, alert_id: str) -> str:
        """The rule id of alert `alert_id` (from the timeline, caught up only when it does not
        know the alert yet), or a ConfigError."""
        listing = AlertTimeline.get(self.log, alert_id)
        if listing is None:
            ProjectionRunner(self.log, [AlertTimeline()]).run()
            listing = AlertTimeline.get(self.log, alert_id)
        if listing is None:
            raise ConfigError(f"no alert {alert_id!r} in this log; `monitor alerts` lists them")
        return listing["rule_id"]

    def catch_up_search(self, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Fold new records into the search index (see `monitor.search`); its checkpoint."""
        return catch_up(self.log, progress)

    def search(
        self,
        query: str,
        *,
        ruleset: RuleSet | None = None,
        filters: Filters | None = None,
        **options: Any,
    ) -> Page:
        """Search the stored items (the index is caught up first): `query` as in
        `monitor.search.parse_query`, ``@lexicons`` from `ruleset` (default: this monitor's
        rules); `options`: ``sort``, ``limit``, ``cursor``, ``timeout`` and, instead of
        `filters`, the `Filters` fields (``since=``, ``feed=``, ``place=``, ...)."""
        filters, options = _split_filters(filters, options)
        self.catch_up_search()
        return search_items(
            self.log, query, ruleset=ruleset or self.ruleset, filters=filters, **options
        )

    def items(self, *, filters: Filters | None = None, **options: Any) -> Page:
        """The stored items, newest first, one page (``limit``, ``cursor``), narrowed by
        `filters` or by the `Filters` fields given as keywords; the index is caught up first."""
        filters, options = _split_filters(filters, options)
        self.catch_up_search()
        return list_items(self.log, filters=filters, **options)

    # --- ingesting --------------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> int:
        """Append events as they are (deduplicated by their natural keys); return how many
        were stored. Does not process them: call `process`."""
        return len(self.log.append_events(events).stored)

    def ingest(self, items: Iterable[ItemReceived | Mapping[str, Any]]) -> IngestReport:
        """Append news items (events or plain mappings), then evaluate, project and deliver
        them, `INGEST_BATCH` at a time (see `_Ingest`)."""
        # Every mapping is checked before anything is appended: one bad item refuses the call.
        events = [i if isinstance(i, ItemReceived) else self.item(i) for i in items]
        ingest = _Ingest(self)
        for start in range(0, len(events), INGEST_BATCH):
            ingest.add(events[start : start + INGEST_BATCH])
        ingest.add(())
        return ingest.report()

    def ingest_files(
        self,
        paths: Iterable[str | Path],
        *,
        feed_id: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> IngestReport:
        """Ingest feed XML files and JSON-lines item files, then process them (as `ingest`).

        `progress(items, None)` is called after each batch with the items read so far (the
        total is not known before the files are read: they are streamed, never loaded whole).
        """
        ingest = _Ingest(self)
        batch: list[ItemReceived] = []
        read = 0
        for path in paths:
            for item in read_items_file(path, feed_id=feed_id, clock=self.clock):
                batch.append(item)
                if len(batch) >= INGEST_BATCH:
                    ingest.add(batch)
                    read += len(batch)
                    batch = []
                    if progress is not None:
                        progress(read, None)
        ingest.add(batch)
        ingest.add(())
        if progress is not None:
            progress(read + len(batch), None)
        return ingest.report()

    def item(self, fields: Mapping[str, Any]) -> ItemReceived:
        """Build an ItemReceived from a plain mapping (title, summary, url, feed, ...)."""
        feed = str(fields.get("feed") or fields.get("feed_id") or fields.get("source") or "api")
        text = {k: str(fields.get(k) or "") for k in ("title", "summary", "content")}
        return ItemReceived(
            item_id=fields.get("item_id")
            or item_id(
                feed, guid=fields.get("guid") or fields.get("id"), url=fields.get("url"), **text
            ),
            feed_id=feed,
            guid=fields.get("guid") or fields.get("id"),
            url=fields.get("url"),
            received=fields.get("received") or self.clock(),
            published=fields.get("published"),
            authors=fields.get("authors") or fields.get("author") or (),
            tags=fields.get("tags") or (),
            lang=fields.get("lang"),
            source=fields.get("source"),
            **text,
        )

    # --- the pipeline ------------------------------------------------------------------------

    def process(self, *, progress: Callable[[int, int], None] | None = None) -> ProcessReport:
        """Run every subscriber up to the head of the log: rules, projections, sinks.
        Thread-safe: concurrent calls run one after the other."""
        with self._lock:
            return self._process(progress)

    def _process(self, progress: Callable[[int, int], None] | None) -> ProcessReport:
        alerts: tuple[AlertRaised, ...] = ()
        raised = 0
        if self._evaluator is not None:
            started = time.perf_counter()
            evaluation = self._evaluator.run()
            alerts, raised = tuple(evaluation.alerts), evaluation.stored_alerts
            if self.on_evaluated is not None:
                self.on_evaluated(time.perf_counter() - started, evaluation)
        self.projections.run(progress=progress)
        if self._delivery is None:
            return ProcessReport(alerts, raised=raised)
        delivery = self._delivery.run()
        return ProcessReport(alerts, delivery.delivered, delivery.failing, raised)

    def replay(self, *, progress: Callable[[int, int], None] | None = None, jobs: int = 1) -> None:
        """Drop every projection and rebuild it from position 0; with `jobs` > 1, in that
        many processes, each rebuilding its share of the projections (an SQLite or PostgreSQL
        log; see `monitor.projections.rebuild_in_processes`)."""
        if jobs > 1:
            rebuild_in_processes(self.log, self.projections.projections, jobs)
            return
        self.projections.rebuild(progress=progress)

    # --- feeds -------------------------------------------------------------------------------

    @property
    def fetcher(self) -> Fetcher:
        """The HTTP fetcher (created on first use, closed with the monitor)."""
        if self._fetcher is None:
            self._fetcher = Fetcher(transport=self._transport)
        return self._fetcher

    def feed_state(self, feed_id: str) -> FeedState | None:
        """What the log knows of a feed: etag, failures, current URL, ... (None if never seen),
        plus the unchanged polls this monitor made since it last wrote one (`live_state`)."""
        self.projections.run()
        stored = FeedStatus.get(self.log, feed_id)
        return live_state(FeedState(**stored) if stored else None, self._live.get(feed_id))

    def poll(self, feed: FeedConfig) -> PollReport | None:
        """Poll one feed now, append what it brings, then process it.

        Thread-safe: several feeds may be polled at once (the watcher does); fetching and
        parsing run in parallel, reading feed state and processing are serialized. Never raises
        for feed problems: they are stored as `FeedFailed` events. Returns None, polling
        nothing, when another watcher sharing this log holds the feed (see `lease_ttl`).
        """
        if not self._hold_feed(feed):
            log.debug("feed %s is polled by another watcher; skipped", feed.id)
            return None
        with self._lock:
            state = self.feed_state(feed.id)
        report = poll_feed(
            self.log, feed, state, fetcher=self.fetcher, clock=self.clock, policy=self.record_policy
        )
        with self._lock:
            if report.state is not None:
                self._live[feed.id] = report.state
            else:
                self._live.pop(feed.id, None)
        self.process()
        return report

    def _hold_feed(self, feed: FeedConfig) -> bool:
        """Take or renew this watcher's lease on `feed`, so that of several watchers sharing
        one log each feed is polled by one at a time. The lease outlives two intervals, so
        it stays with its watcher from poll to poll and passes on only when that watcher stops
        renewing it (it died, or dropped the feed)."""
        if not self.shared:
            return True
        ttl = max(2.5 * feed.interval, self.lease_ttl)
        return self.log.acquire_lease(f"feed:{feed.id}", self.owner, ttl)

    def poll_all(self, feeds: FeedList | str | Path) -> list[PollReport]:
        """Poll every enabled feed of a feed list once, in order."""
        feedlist = feeds if isinstance(feeds, FeedList) else load_feeds(feeds)
        reports = (self.poll(feed) for feed in feedlist.enabled)
        return [r for r in reports if r is not None]

    def feed_status(self) -> list[dict[str, Any]]:
        """Every feed the log has seen, with its last poll, failures and backoff; a feed this
        monitor polled without writing (unchanged) shows its live last poll and poll count."""
        self.projections.run()
        out = list(FeedStatus.all(self.log))
        for i, status in enumerate(out):
            held = self._live.get(status["feed_id"])
            live = live_state(FeedState(**status), held) if held is not None else None
            if live is not None and live.unrecorded:
                out[i] = {
                    **status,
                    **live.to_dict(),
                    "last_poll": sortable_time(live.last_poll),
                    "last_success": sortable_time(live.last_success),
                }
        return out

    def flush_polls(self) -> None:
        """Write the unchanged polls held in memory as heartbeats, so the log's poll counts
        and last poll times are exact. `close` calls it."""
        with self._lock:
            held, self._live = self._live, {}
            for feed_id in sorted(held):
                heartbeat = pending_heartbeat(live_state(self.feed_state(feed_id), held[feed_id]))
                if heartbeat is not None:
                    self.log.append_events([heartbeat])

    # --- looking at the log -------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts worth a glance: records, items per feed, alerts per rule (top 20), the most
        mentioned places and actors (top 10), and how far each projection is."""
        self.projections.run()
        return {
            "db": self.log.url,
            "records": self.log.head(),
            "feeds": [dict(t) for t in ItemsByFeedDay.totals(self.log)],
            "rules": RuleHits.top(self.log, limit=20),
            "places": EntityMentions.top(self.log, "place:", limit=10),
            "actors": EntityMentions.top(self.log, "actor:", limit=10),
            "projections": [{**attrs.asdict(s), "lag": s.lag} for s in self.projections.status()],
        }

    def iter_events(
        self, after: int = 0, *, types: Sequence[str] | None = None
    ) -> Iterator[tuple[Any, Event]]:
        """Stream (record, event) pairs from the log."""
        return self.log.iter_events(after, types=types)

    def close(self) -> None:
        """Write pending heartbeats, close the fetcher and the log; give up this watcher's
        feed leases."""
        try:
            self.flush_polls()
        except Exception:  # a broken log must not keep the rest from closing
            log.exception("could not write the pending poll heartbeats")
        if self.shared:
            for record in self.feed_status():
                self.log.release_lease(f"feed:{record['feed_id']}", self.owner)
        if self._fetcher is not None:
            self._fetcher.close()
        if self._delivery is not None:
            self._delivery.close()
        self.log.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _split_filters(filters: Filters | None, options: dict[str, Any]) -> tuple[Filters, dict]:
    """`filters`, or the `Filters` fields among `options`, and the other options."""
    fields = {k: options.pop(k) for k in list(options) if k in attrs.fields_dict(Filters)}
    if filters is not None and fields:
        raise TypeError("give filters= or filter keywords, not both")
    return filters or Filters(**fields), options

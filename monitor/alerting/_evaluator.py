"""`AlertEvaluator`: the log subscriber that turns `ItemReceived` into alerts.

It reads items after its checkpoint in pages and, per page, appends in ONE call (with the
checkpoint in the same transaction) everything it derives: one `EntitiesExtracted` listing the
page's items that name places/actors, `AlertRaised` for each match (or `AlertSuppressed` when
the rule's throttle folds it into an earlier alert of the same rule and group), and correlation
alerts. So after any crash it resumes exactly where the last committed page ended: nothing is
raised twice, nothing missed.

Alert ids are deterministic (rule id + rule version + item id; for correlations rule + group +
window), and each alert's dedupe key is ``alert:<id>``, so two evaluators over one log, or a
replay into a fresh log, produce the same records and never duplicates. Windows and throttles
use event time (published, else received), never the wall clock; the clock is only used for the
`RulesetLoaded` timestamp.

Revisions (`ItemRevised`) are read in the same stream and evaluated as the item's new version:
only rules that no earlier version of the item matched (raised or suppressed) can fire, under
the same deterministic id rule id + rule version + item id, so nothing is raised twice for a
rule and an item, by any evaluator or replay. An alert whose rule a revision no longer matches
gets one `AlertSuperseded` (never a deletion); a later revision that matches again raises
nothing new. Which rules each item has matched is remembered per item with an alert, on a
temporary database (`SpillMatches`: it grows with the history, memory does not), and rebuilt
from the log like the throttle. A revision's event time is its item's (published, else when
the revision was seen); it extracts no entities and takes no story (so
``throttle: {window: ..., by: story}`` groups its alerts by item).

Correlation and throttle state is not kept only in memory: on start (and after any failed
append) it is rebuilt by folding the `AlertRaised`/`AlertSuppressed` records already in the
output log through the same `Correlator` and `Throttle`, with firing switched off.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ..events import (
    AlertRaised,
    AlertSuperseded,
    AlertSuppressed,
    EntitiesExtracted,
    Event,
    FoldedMatch,
    ItemEntities,
    ItemReceived,
    ItemRevised,
    RepeatsFolded,
    RuleRef,
    RulesetLoaded,
    event_time,
    format_time,
    parse_time,
    revised_item,
)
from ..log import EventLog, Record
from ..rules import StoryIndex, StoryUpdate
from ._aggregate import Aggregator, aggregate_event, split_rules
from ._correlate import Contribution, CorrelationHit, Correlator, Throttle, window_alert
from ._scratch import ScratchOutput
from ._spill import SpillMatches

__all__ = [
    "MAX_REPORTED_ALERTS",
    "AlertEvaluator",
    "EvaluationReport",
    "detection_alert_id",
    "item_facets",
    "throttle_key",
]

logger = logging.getLogger(__name__)
_ITEM = ("ItemReceived", "ItemRevised")
#: The most alerts a run's, a pass's or an ingest's report lists (the latest ones); the
#: counts cover all of them.
MAX_REPORTED_ALERTS = 1000
_ALERTS = ("AlertRaised", "AlertSuppressed", "AlertSuperseded", "RepeatsFolded")

#: How many throttled repeats of an alert are kept as their own `AlertSuppressed` (the sample,
#: with entities and facets) before the rest are counted in `RepeatsFolded` records.
FOLD_AFTER = 3
#: How many more repeat counts than open throttle groups the evaluator holds before it drops
#: those of closed alerts (a pass over the counts; not worth making at every page).
_SAMPLE_COUNTS_SLACK = 1024


@attrs.define
class _Fold:
    """The repeats of one alert folded on the current page (see `RepeatsFolded`)."""

    rule_id: str
    rule_version: int
    item_ids: list[str] = attrs.field(factory=list)
    positions: list[int] = attrs.field(factory=list)
    first: datetime | None = None
    last: datetime | None = None
    outlets: set[str] = attrs.field(factory=set)
    matches: list[FoldedMatch] = attrs.field(factory=list)

    def add(
        self,
        item_id: str,
        position: int,
        when: datetime,
        outlet: str | None,
        match: FoldedMatch | None = None,
    ) -> None:
        self.item_ids.append(item_id)
        self.positions.append(position)
        self.first = when if self.first is None else min(self.first, when)
        self.last = when if self.last is None else max(self.last, when)
        if outlet:
            self.outlets.add(outlet)
        if match is not None:
            self.matches.append(match)

    def event(self, folded_into: str) -> RepeatsFolded:
        return RepeatsFolded(
            folded_into=folded_into,
            rule_id=self.rule_id,
            rule_version=self.rule_version,
            item_ids=tuple(self.item_ids),
            item_positions=tuple(self.positions),
            first_time=self.first,
            last_time=self.last,
            outlets=tuple(sorted(self.outlets)),
            matches=tuple(self.matches),
        )


def unfolded_repeats(evt: RepeatsFolded) -> list[AlertSuppressed]:
    """The `AlertSuppressed` records a fold's listed matches stand for (what the evaluator
    stored one by one before version 2 of `RepeatsFolded`): the same ids, items, entities and
    facets, so a restart and ``monitor alerts explain`` read them as they read stored ones."""
    return [
        AlertSuppressed(
            alert_id=detection_alert_id(evt.rule_id, evt.rule_version, m.item_id),
            folded_into=evt.folded_into,
            rule_id=evt.rule_id,
            group_key=_first_place(m.entities),
            item_ids=(m.item_id,),
            event_time=m.event_time,
            entities=m.entities,
            facets=m.facets,
        )
        for m in evt.matches
    ]


def detection_alert_id(rule_id: str, rule_version: int, item_id: str) -> str:
    """Deterministic id of a detection alert: rule id + rule version + item id."""
    basis = f"rule\x00{rule_id}\x00{rule_version}\x00{item_id}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def item_facets(item: ItemReceived) -> dict[str, str]:
    """The keyword fields correlations group by and count: source (publisher, else the feed
    id), feed, lang and first author, leaving out the empty ones."""
    facets = {
        "source": item.source or item.feed_id,
        "feed": item.feed_id,
        "lang": item.lang or "",
        "author": item.authors[0] if item.authors else "",
    }
    return {k: v for k, v in facets.items() if v}


@attrs.define
class EvaluationReport:
    """What one `run` did. `alerts` are the alerts newly stored (detection and correlation,
    not those another evaluator had stored already), the latest `MAX_REPORTED_ALERTS` of
    them: a catch-up over a long history must not hold every alert it raised in memory.
    `stored` counts all of them by (rule id, level), `stored_alerts` in total. `raised`
    counts detection alerts and `correlations` correlation alerts computed, `suppressed` the
    throttled repeats; `late` counts matches too late for a correlation's allowed lateness."""

    items: int = 0
    alerts: list[AlertRaised] = attrs.field(factory=list)
    stored: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    raised: int = 0
    suppressed: int = 0
    correlations: int = 0
    entities: int = 0
    duplicates: int = 0
    late: int = 0
    position: int = 0

    @property
    def stored_alerts(self) -> int:
        """How many alerts this run stored (`alerts` lists the latest of them)."""
        return sum(self.stored.values())

    def add_stored(self, alerts: Iterable[AlertRaised], *, keep: bool = True) -> None:
        """Count newly stored `alerts`; with `keep`, list them too, the latest
        `MAX_REPORTED_ALERTS` only."""
        for alert in alerts:
            self.stored[(alert.rule_id, alert.level)] += 1
            if keep:
                self.alerts.append(alert)
        if len(self.alerts) > MAX_REPORTED_ALERTS:
            del self.alerts[:-MAX_REPORTED_ALERTS]


def _uses_stories(ruleset: Any) -> bool:
    """Whether a rule throttles by story or a correlation groups or counts by story."""
    if any("story" in (getattr(r, "throttle_by", None) or ()) for r in _rules_of(ruleset)):
        return True
    return any(
        "story" in c.group_by
        or "story"
        in ((c.condition or {}).get("field"), (getattr(c, "distinct", None) or {}).get("field"))
        for c in getattr(ruleset, "correlations", ()) or ()
    )


class AlertEvaluator:
    """Evaluate `ruleset` over the items of `log`, appending alerts (see module docstring).

    `output` is where alerts, entities and the checkpoint go (default: `log` itself); a backtest
    passes a `ScratchOutput` (events kept as objects), so the stored log is only read. `where`
    filters the items evaluated (e.g. by event time); `entities=False` skips
    `EntitiesExtracted` (backtests).
    `stories` says whether to cluster items into stories: True always, False never (alerts
    then carry no ``story`` facet and a ``throttle: {by: story}`` groups by item), None (the
    default) only while the rule set uses stories (a ``throttle: {by: story}``, or a
    correlation grouping or counting by ``story``). Clustering costs about a third of the
    evaluator's throughput and a pass over the log's items on start, so a pack that does not
    use it does not pay for it.
    `lateness` overrides every correlation rule's allowed lateness in seconds (default: each
    rule's timespan). `fold_after` is how many repeats of an alert are kept one by one (None:
    every one). Two hooks serve backtests at scale (`backtest`): `skip(record)` drops an item
    record before it is decoded (one the search index says no tested rule can match),
    `matcher(position, item)` gives the matches of an item computed elsewhere (by worker
    processes) instead of ``ruleset.match``, and `pages(after, limit)` reads the next item
    records instead of ``log.read_page`` (only those the index lists).
    `keep_alerts=False` leaves `EvaluationReport.alerts` empty (the counts stay): a backtest
    counts its alerts as they are appended. Even kept, it lists only the latest
    `MAX_REPORTED_ALERTS`: a list of every alert of a long run would grow with the history.
    """

    def __init__(
        self,
        log: EventLog,
        ruleset: Any,
        *,
        clock: Callable[[], datetime],
        name: str = "rules",
        output: EventLog | ScratchOutput | None = None,
        page_size: int = 500,
        lateness: float | None = None,
        source: str = "",
        where: Callable[[ItemReceived], bool] | None = None,
        entities: bool = True,
        stories: bool | None = None,
        fold_after: int | None = FOLD_AFTER,
        skip: Callable[[Record], bool] | None = None,
        matcher: Callable[[int, ItemReceived], Sequence[Any]] | None = None,
        pages: Callable[[int, int], Sequence[Record]] | None = None,
        keep_alerts: bool = True,
    ) -> None:
        self.log = log
        self.keep_alerts = keep_alerts
        self.skip = skip
        self.matcher = matcher
        self.pages = pages
        self.fold_after = fold_after
        self._folds: dict[str, _Fold] = {}
        self._page_entities: list[ItemEntities] = []
        self._position = 0
        self.extract_entities = entities
        self._stories_wanted = stories
        self.cluster_stories = False
        self._stories = StoryIndex()
        self._stories_at: int | None = 0  # the checkpoint the index is at (None: unknown)
        self._page_stories: dict[str, StoryUpdate] = {}
        self.output = output if output is not None else log
        self.name = name
        self.clock = clock
        self.page_size = page_size
        self.lateness = lateness
        self.where = where
        self._lock = threading.Lock()
        self._matched = SpillMatches()
        self._install(ruleset, source)

    # --- rule sets ---------------------------------------------------------------------------

    def _install(self, ruleset: Any, source: str) -> None:
        self.ruleset = ruleset
        self.source = source
        self._correlations = tuple(getattr(ruleset, "correlations", ()) or ())
        self._correlation_ids = frozenset(c.id for c in self._correlations)
        self._throttles: dict[str, float | None] = {
            r.id: r.throttle for r in _rules_of(ruleset)
        } | {c.id: c.throttle for c in self._correlations}
        self._throttle_by = {r.id: getattr(r, "throttle_by", None) for r in _rules_of(ruleset)}
        #: ``generate: false`` rules: their matches feed correlations and raise nothing.
        self._silent = {r.id for r in _rules_of(ruleset) if not getattr(r, "generate", True)}
        self._silent |= {c.id for c in self._correlations if not c.generate}
        wanted = self._stories_wanted
        cluster = _uses_stories(ruleset) if wanted is None else wanted
        if cluster and not self.cluster_stories:
            self._stories_at = None  # an index that was never fed: rebuild it on start
        self.cluster_stories = cluster
        self._started = False

    def set_ruleset(self, ruleset: Any, source: str = "") -> None:
        """Switch to a new rule set (a reload): it is announced and state is rebuilt."""
        with self._lock:
            self._install(ruleset, source)

    def _announce(self) -> None:
        """Append `RulesetLoaded` unless the latest one in the log already names this hash."""
        latest: str | None = None
        for _record, evt in self.output.iter_events(types=("RulesetLoaded",)):
            latest = evt.ruleset_hash  # type: ignore[attr-defined]
        if latest == self.ruleset.hash:
            return
        refs = [RuleRef(id=r.id, version=r.version) for r in _rules_of(self.ruleset)]
        refs += [RuleRef(id=c.id, version=c.version) for c in self._correlations]
        self.output.append_events(
            [
                RulesetLoaded(
                    ruleset_hash=self.ruleset.hash,
                    rules=refs,
                    loaded_at=self.clock(),
                    source=self.source,
                )
            ]
        )

    def _restore(self) -> None:
        """Rebuild correlation and throttle state by folding the alerts already in the log.

        Only alerts about items up to this evaluator's checkpoint count: alerts another
        evaluator already raised for items still ahead of us (the backlog) would be "future"
        state and could change our throttle decisions for earlier items. Alerts are appended
        after their items, so only alerts stored after the first backlog item need checking,
        and the backlog's item ids are read only when such alerts exist.
        """
        plain, aggregations = split_rules(self._correlations)
        self._correlator = Correlator(plain, lateness=self.lateness)
        self._aggregator = Aggregator(aggregations)
        #: The rules some correlation or aggregation counts the alerts of.
        self._listened = self._correlator.inputs | self._aggregator.inputs
        self._throttle = Throttle()
        #: item id -> rule id -> alert id: the rules some version of the item matched. On a
        #: temporary database, not in memory: it grows with every matched item of the history.
        self._matched.close()
        self._matched = SpillMatches()
        self._superseded: set[str] = set()
        #: raised alert id -> how many of its repeats are stored as `AlertSuppressed`.
        self._sampled: dict[str, int] = {}
        self._late_base = 0
        checkpoint = self.output.get_checkpoint(self.name)
        if checkpoint == 0:
            # Nothing evaluated yet under this name: start empty, whatever other evaluators
            # wrote, so a second evaluator from position 0 decides exactly like the first.
            return
        first = self.log.read_page(checkpoint, 1, _ITEM)
        boundary = None if not first else first[0].position if self.output is self.log else 0
        backlog: set[str] | None = None
        self._correlation_inputs = self._correlator.inputs
        for record, evt in self.output.iter_events(types=_ALERTS):
            if isinstance(evt, AlertSuperseded):
                self._superseded.add(evt.alert_id)
                continue
            assert isinstance(evt, AlertRaised | AlertSuppressed | RepeatsFolded)
            if boundary is not None and record.position > boundary:
                if backlog is None:
                    backlog = {
                        _item_of(r.dedupe_key) for r in self.log.read(checkpoint, types=_ITEM)
                    }
                if isinstance(evt, RepeatsFolded):
                    evt = attrs.evolve(
                        evt,
                        item_ids=[i for i in evt.item_ids if i not in backlog],
                        item_positions=(),
                        matches=[m for m in evt.matches if m.item_id not in backlog],
                    )
                elif any(i in backlog for i in evt.item_ids):
                    continue
            if isinstance(evt, RepeatsFolded):
                for item_id in evt.item_ids:
                    aid = detection_alert_id(evt.rule_id, evt.rule_version, item_id)
                    self._remember(evt.rule_id, (item_id,), aid)
                for repeat in unfolded_repeats(evt):
                    self._restore_contribution(repeat)
                continue
            if isinstance(evt, AlertSuppressed):
                self._sampled[evt.folded_into] = self._sampled.get(evt.folded_into, 0) + 1
            self._remember(evt.rule_id, evt.item_ids, evt.alert_id)
            if isinstance(evt, AlertRaised):
                seconds = self._throttles.get(evt.rule_id)
                self._throttle.record(
                    evt.rule_id,
                    self._throttle_key(
                        evt.rule_id, evt.group_key, evt.facets, evt.item_ids, evt.entities
                    ),
                    evt.event_time,
                    seconds,
                    evt.alert_id,
                )
            self._restore_contribution(evt)
        self._late_base = self._correlator.late
        self._forget_closed_samples()

    def _restore_contribution(self, evt: AlertRaised | AlertSuppressed) -> None:
        """Feed a stored alert or repeat back to the correlations and aggregations that count
        its rule (nothing fires: its consequences are in the log already)."""
        if evt.rule_id in self._correlation_inputs:
            self._correlator.feed(_contribution(evt), restore=True)
        if self._aggregator.owns(evt.rule_id):  # windows restart where they did live
            self._aggregator.fired(evt.rule_id, evt.group_key, evt.event_time)
        elif evt.rule_id in self._aggregator.inputs:
            self._aggregator.feed(_contribution(evt), restore=True)

    def _start(self) -> None:
        if not self._started:
            self._announce()
            self._restore()
            self._restore_stories()
            self._started = True

    # --- stories -----------------------------------------------------------------------------

    def _restore_stories(self) -> None:
        """Rebuild the story index by feeding it every item up to the checkpoint, in log order
        (the same order a live run fed it, so it ends in the same state). A rule set reload
        keeps an index that is exactly at the checkpoint: stories do not depend on rules."""
        self._page_stories = {}
        checkpoint = self.output.get_checkpoint(self.name)
        if self._stories_at == checkpoint:
            return
        self._stories = StoryIndex()
        self._stories_at = None
        if not self.cluster_stories or checkpoint == 0:
            self._stories_at = checkpoint
            return
        for record in self.log.read(0, types=("ItemReceived",)):
            if record.position > checkpoint:
                break
            item = record.event()
            if isinstance(item, ItemReceived):
                self._stories.add(item)
        self._stories_at = checkpoint

    def _assign_stories(self, page: Sequence[Any]) -> dict[str, StoryUpdate]:
        """Feed the page's new items (every one, whatever `where` says) to the story index."""
        self._stories_at = None  # ahead of the checkpoint until the page's append succeeds
        if not self.cluster_stories:
            return {}
        out: dict[str, StoryUpdate] = {}
        for record in page:
            if record.type == "ItemReceived":
                item = record.event()
                if isinstance(item, ItemReceived):
                    out[item.item_id] = self._stories.add(item)
        return out

    def _throttle_key(
        self,
        rule_id: str,
        group: str | None,
        facets: Mapping[str, str],
        items: Sequence[str],
        entities: Sequence[str] = (),
    ) -> str | None:
        """The key a rule's repeats are grouped by: the alert's group (the default), or the
        rule's ``throttle: {by: [...]}`` keys. Everything it reads is on the stored alert, so
        the throttle rebuilt from the log groups exactly as the live one did."""
        by = self._throttle_by.get(rule_id)
        if not by:
            return group
        return throttle_key(by, group, facets, items, entities)

    # --- running -----------------------------------------------------------------------------

    def run(self, until: int | None = None) -> EvaluationReport:
        """Evaluate every item after the checkpoint (up to position `until`); return counts."""
        with self._lock:
            report = EvaluationReport(position=self.output.get_checkpoint(self.name))
            try:
                self._start()
                self._run(report, until)
            except BaseException:
                self._started = False  # memory may be ahead of the log: rebuild next time
                raise
            report.late = self._correlator.late - self._late_base
            self._late_base = self._correlator.late
            return report

    def close(self) -> None:
        """Drop the temporary database of which rules matched which item (rebuilt from the
        log if this evaluator runs again)."""
        with self._lock:
            self._matched.close()
            self._started = False

    def run_forever(self, stop: threading.Event, *, poll_interval: float = 0.5) -> None:
        """Keep evaluating new items until `stop` is set (for a watcher thread). A failure
        (a locked or unreachable log) is logged and retried with backoff, up to 30 s apart;
        state is rebuilt from the log before the retry."""
        failures = 0
        while not stop.is_set():
            try:
                head = self.log.head()  # before running, so nothing appended meanwhile is missed
                report = self.run()
                self.tick()
            except Exception:
                failures += 1
                logger.exception("rule evaluation failed (attempt %d); retrying", failures)
                stop.wait(min(30.0, poll_interval * 2**failures))
                continue
            failures = 0
            self.log.wait(max(report.position, head), poll_interval)

    #: How far behind the clock `tick` lets time pass (seconds): items published up to this
    #: long before they are read are still counted where a replay counts them.
    tick_delay: float = 900.0

    def tick(self, now: datetime | None = None) -> list[AlertRaised]:
        """Let time pass without items: fire the flatline, spike-down and cardinality alerts
        due by `now` (default: the clock) minus `tick_delay`, so a quiet log still raises
        them. `run_forever` calls it after each run; a replay, without ticks, raises the same
        alerts (same ids and event times) when a later item's event time passes them."""
        with self._lock:
            if not self._started:
                return []
            at = (now or self.clock()).timestamp() - self.tick_delay
            events: list[Event] = []
            self._aggregate(self._aggregator.advance(at), events, EvaluationReport())
            if not events:
                return []
            try:
                result = self.output.append_events(events)
            except BaseException:
                self._started = False
                raise
            stored = zip(events, result.positions, strict=True)
            return [e for e, p in stored if p is not None and isinstance(e, AlertRaised)]

    def _aggregate(self, hits: Sequence[Any], out: list[Event], report: EvaluationReport) -> None:
        """Append the alerts of aggregation rules' hits (`monitor.alerting._aggregate`)."""
        for hit in hits:
            evt = aggregate_event(hit, self._throttle, self.ruleset.hash)
            out.append(evt)
            if isinstance(evt, AlertRaised):
                report.correlations += 1
            else:
                report.suppressed += 1

    def _run(self, report: EvaluationReport, until: int | None) -> None:
        after = report.position
        while True:
            if self.pages is not None:
                page = list(self.pages(after, self.page_size))
            else:
                page = self.log.read_page(after, self.page_size, _ITEM)
            if until is not None:
                page = [r for r in page if r.position <= until]
            if not page:
                return
            self._page_stories = self._assign_stories(page)
            events: list[Event] = []
            self._folds = {}
            self._page_entities = []
            for record in page:
                self._position = record.position
                if self.skip is not None and self.skip(record):
                    continue
                evt = record.event()
                revision = evt if isinstance(evt, ItemRevised) else None
                item = revised_item(evt) if isinstance(evt, ItemRevised) else evt
                if not isinstance(item, ItemReceived):
                    continue
                if self.where is not None and not self.where(item):
                    continue
                report.items += 1
                self._evaluate(item, events, report, revision)
            events.extend(fold.event(aid) for aid, fold in self._folds.items())
            if self._page_entities:
                events.append(
                    EntitiesExtracted(items=self._page_entities, ruleset_hash=self.ruleset.hash)
                )
            result = self.output.append_events(events, checkpoint=(self.name, page[-1].position))
            self._stories_at = page[-1].position
            report.duplicates += result.duplicates
            report.add_stored(
                (
                    e
                    for e, p in zip(events, result.positions, strict=True)
                    if p is not None and isinstance(e, AlertRaised)
                ),
                keep=self.keep_alerts,
            )
            after = report.position = page[-1].position
            self._forget_closed_samples()

    def _forget_closed_samples(self) -> None:
        """Drop the repeat counts of alerts nothing can fold into any more: the throttle
        folds repeats only into each group's last alert, and forgets groups whose last alert
        is too old, so the counts stay as few as the open groups, not all alerts ever."""
        if len(self._sampled) > 2 * len(self._throttle) + _SAMPLE_COUNTS_SLACK:
            open_alerts = self._throttle.alert_ids()
            self._sampled = {a: n for a, n in self._sampled.items() if a in open_alerts}

    def _keeps_each_repeat(self, rule_id: str, folded_into: str) -> bool:
        """Whether a throttled repeat is stored as its own `AlertSuppressed`: the first
        `fold_after` repeats of an alert (the sample), and every repeat when folding is off
        (``fold_after=None``, as backtests run). The repeats of a rule a correlation or
        aggregation counts are folded too, each listed with what a restart feeds back."""
        if self.fold_after is None:
            return True
        return self._sampled.get(folded_into, 0) < self.fold_after

    def _remember(self, rule_id: str, item_ids: Sequence[str], alert_id: str) -> None:
        """Note that `rule_id` matched an item (detection rules only: a correlation alert or
        repeat can name a single item too, and a revision of that item must not supersede
        it)."""
        if len(item_ids) == 1 and rule_id not in self._correlation_ids:
            self._matched.remember(item_ids[0], rule_id, alert_id)

    def _revision_matches(
        self, revision: ItemRevised, matches: Sequence[Any], out: list[Event]
    ) -> list[Any]:
        """Keep the matches of rules no earlier version matched; mark the alerts whose rules
        this version no longer matches."""
        before = self._matched.rules_of(revision.item_id)
        now = {m.rule_id for m in matches}
        for rule_id, aid in before.items():
            if rule_id not in now and aid not in self._superseded:
                self._superseded.add(aid)
                out.append(
                    AlertSuperseded(
                        alert_id=aid,
                        rule_id=rule_id,
                        item_id=revision.item_id,
                        revision=revision.revision,
                        content_hash=revision.content_hash,
                        event_time=event_time(revised_item(revision)),
                    )
                )
        return [m for m in matches if m.rule_id not in before]

    def _evaluate(
        self,
        item: ItemReceived,
        out: list[Event],
        report: EvaluationReport,
        revision: ItemRevised | None = None,
    ) -> None:
        when = event_time(item)
        self._aggregate(self._aggregator.advance(when, strict=True), out, report)
        extract = self.extract_entities and revision is None
        found: tuple[str, ...] | None = None
        if self.matcher is not None:
            matches = list(self.matcher(self._position, item))
        elif extract and hasattr(self.ruleset, "match_with_entities"):
            matches, found = self.ruleset.match_with_entities(item)  # one normalization
        else:
            matches = self.ruleset.match(item)
        if revision is not None:
            matches = self._revision_matches(revision, matches, out)
        if not extract:
            entities: tuple[str, ...] = ()
        elif found is not None:
            entities = found
        else:
            entities = _item_entities(self.ruleset, item, matches)
        if entities:  # the page's `EntitiesExtracted` lists them (see `_run`)
            self._page_entities.append(
                ItemEntities(
                    item_id=item.item_id, feed_id=item.feed_id, entities=entities, event_time=when
                )
            )
            report.entities += 1
        if not matches:
            return
        facets = item_facets(item)
        # A revision takes no story: its item's story is in the page map only when the item
        # shares the revision's page, which depends on when the evaluator ran (not replayable).
        story = self._page_stories.get(item.item_id) if revision is None else None
        if story is not None:
            facets["story"] = story.story_id
        pending: list[Contribution] = []
        for m in matches:
            aid = detection_alert_id(m.rule_id, m.rule_version, item.item_id)
            self._remember(m.rule_id, (item.item_id,), aid)
            group = _first_place(m.entities)
            key = self._throttle_key(m.rule_id, group, facets, (item.item_id,), m.entities)
            contribution = Contribution(
                m.rule_id, when, aid, (item.item_id,), tuple(m.entities), facets
            )
            if m.rule_id in self._silent:
                out.append(_not_generated(contribution, group))
                pending.append(contribution)
                continue
            folded = self._throttle.check(m.rule_id, key, when, m.throttle, aid)
            if folded and not self._keeps_each_repeat(m.rule_id, folded):
                listed = (
                    FoldedMatch(
                        item_id=item.item_id, event_time=when, entities=m.entities, facets=facets
                    )
                    if m.rule_id in self._listened
                    else None
                )
                self._fold(folded, m.rule_id, m.rule_version, item.item_id, when, facets, listed)
                report.suppressed += 1
            elif folded:
                self._sampled[folded] = self._sampled.get(folded, 0) + 1
                out.append(
                    AlertSuppressed(
                        alert_id=aid,
                        folded_into=folded,
                        rule_id=m.rule_id,
                        group_key=group,
                        item_ids=(item.item_id,),
                        event_time=when,
                        entities=m.entities,
                        facets=facets,
                    )
                )
                report.suppressed += 1
            else:
                out.append(
                    AlertRaised(
                        alert_id=aid,
                        rule_id=m.rule_id,
                        rule_version=m.rule_version,
                        level=m.level,
                        title=m.title,
                        item_ids=(item.item_id,),
                        entities=m.entities,
                        evidence=m.evidence,
                        group_key=group,
                        event_time=when,
                        labels=m.labels,
                        annotations=_story_annotations(m.annotations, story),
                        ruleset_hash=self.ruleset.hash,
                        facets=facets,
                    )
                )
                report.raised += 1
            pending.append(contribution)
        # Correlation hits may feed other correlations (chains): a queue, not recursion.
        while pending:
            contribution = pending.pop(0)
            self._aggregate(self._aggregator.feed(contribution), out, report)
            for hit in self._correlator.feed(contribution):
                evt = self._correlation_event(hit, item, facets)
                if evt is None:  # a repeat counted in the page's `RepeatsFolded`
                    report.suppressed += 1
                    continue
                out.append(evt)
                if isinstance(evt, AlertRaised):
                    report.correlations += 1
                else:
                    report.suppressed += 1
                pending.append(_contribution(evt))

    def _fold(
        self,
        folded_into: str,
        rule_id: str,
        rule_version: int,
        item_id: str,
        when: datetime,
        facets: Mapping[str, str],
        match: FoldedMatch | None = None,
    ) -> None:
        """Count a repeat in the page's `RepeatsFolded` for `folded_into` (see `_Fold`), with
        its `match` listed when a correlation or aggregation counts the rule."""
        fold = self._folds.get(folded_into)
        if fold is None:
            fold = self._folds[folded_into] = _Fold(rule_id, rule_version)
        fold.add(item_id, self._position, when, facets.get("source"), match)

    def _correlation_event(
        self, hit: CorrelationHit, item: ItemReceived, facets: Mapping[str, str]
    ) -> AlertRaised | AlertSuppressed | None:
        """The record of a correlation hit: its alert, its repeat, or None for a repeat
        counted in the page's `RepeatsFolded` (past the sample, like a detection rule's,
        when no other rule counts this one's alerts and a single match completed the
        window)."""
        rule = hit.rule
        if not rule.generate:
            return _not_generated(_hit_contribution(hit), hit.group)
        folded = self._throttle.check(
            rule.id, hit.group, hit.window_end, rule.throttle, hit.alert_id
        )
        trigger = hit.trigger
        if (
            folded
            and trigger is not None
            and len(trigger.item_ids) == 1
            and rule.id not in self._listened  # a listener restores whole windows
            and not self._keeps_each_repeat(rule.id, folded)
        ):
            self._fold(
                folded, rule.id, rule.version, trigger.item_ids[0], hit.window_end, trigger.facets
            )
            return None
        corr_facets = dict(hit.facets)
        if folded:
            self._sampled[folded] = self._sampled.get(folded, 0) + 1
            # A repeat lists its whole window only when another rule listens to this one (its
            # contribution must be restorable whole); otherwise the match that completed the
            # window again: the alert it folds into lists the window, and a busy group's
            # repeats would otherwise store every item of the window once per repeat.
            if trigger is None or rule.id in self._listened:
                item_ids, entities = hit.item_ids, hit.entities
            else:
                item_ids, entities = trigger.item_ids, trigger.entities
            return AlertSuppressed(
                alert_id=hit.alert_id,
                folded_into=folded,
                rule_id=rule.id,
                group_key=hit.group,
                item_ids=item_ids,
                event_time=hit.window_end,
                entities=entities,
                facets={**corr_facets, _WINDOW_START: format_time(hit.window_start)},
            )
        return window_alert(
            hit,
            kind="correlation",
            item=_item_context(item),
            ruleset_hash=self.ruleset.hash,
            facets=corr_facets,
        )


# --- helpers ---------------------------------------------------------------------------------


def _rules_of(ruleset: Any) -> Iterable[Any]:
    rules = getattr(ruleset, "rules", ()) or ()
    return rules.values() if isinstance(rules, Mapping) else rules


def _first_place(entities: Sequence[str]) -> str | None:
    return next((e for e in entities if e.startswith("place:")), None)


def throttle_key(
    by: Sequence[str],
    group: str | None,
    facets: Mapping[str, str],
    items: Sequence[str],
    entities: Sequence[str],
) -> str:
    """The throttle group of a match under ``throttle: {by: [...]}`` keys.

    ``place``/``actor`` take the match's first place/actor entity (as ``group`` does for
    places), ``story`` the item's story (else the item itself: an item outside any story is its
    own), facets their value; a missing value is a group of its own (empty). ``none`` is one
    group for the whole rule.
    """
    parts = []
    for name in by:
        if name == "none":
            return ""
        if name == "group":
            value = group or ""
        elif name in ("place", "actor"):
            value = next((e for e in entities if e.startswith(f"{name}:")), "")
        elif name == "story":
            value = facets.get("story") or (items[0] if items else "")
        else:
            value = facets.get(name, "")
        parts.append(f"{name}={value}")
    return "\x00".join(parts)


def _item_entities(ruleset: Any, item: ItemReceived, matches: Sequence[Any]) -> tuple[str, ...]:
    # Every match carries the item's entities; only an item no rule matched needs a separate
    # extraction pass (a second normalization of its text).
    if matches:
        return tuple(matches[0].entities)
    extract = getattr(ruleset, "entities", None)
    return tuple(extract(item)) if callable(extract) else ()


def _item_of(dedupe_key: str | None) -> str:
    """The item id in an item's (``item:<id>``) or a revision's (``revision:<id>:<hash>``)
    dedupe key."""
    parts = (dedupe_key or "").split(":")
    return parts[1] if len(parts) > 1 else ""


def _story_annotations(annotations: Mapping[str, str], story: StoryUpdate | None) -> dict[str, str]:
    """The rule's annotations plus the story's outlet count at alert time."""
    if story is None:
        return dict(annotations)
    outlets = f"reported by {story.outlets} outlet{'s' if story.outlets != 1 else ''}"
    return {**annotations, "story_outlets": str(story.outlets), "reported_by": outlets}


#: The facet a stored `AlertSuppressed` of a correlation keeps its window start in (the event
#: has no field for it), so a chained correlation rebuilt from the log spans it as live.
_WINDOW_START = "window_start"


def _contribution(evt: AlertRaised | AlertSuppressed) -> Contribution:
    start = getattr(evt, "window_start", None)
    if start is None and _WINDOW_START in evt.facets:
        start = parse_time(evt.facets[_WINDOW_START])
    facets = {k: v for k, v in evt.facets.items() if k != _WINDOW_START}
    return Contribution(
        evt.rule_id, evt.event_time, evt.alert_id, evt.item_ids, evt.entities, facets, start
    )


def _hit_contribution(hit: CorrelationHit) -> Contribution:
    return Contribution(
        hit.rule.id,
        hit.window_end,
        hit.alert_id,
        hit.item_ids,
        hit.entities,
        dict(hit.facets),
        hit.window_start,
    )


def _not_generated(c: Contribution, group: str | None) -> AlertSuppressed:
    """The record of a ``generate: false`` rule's match: stored (so correlation state rebuilt
    from the log counts it) but raising and delivering nothing; ``folded_into`` is empty."""
    facets = dict(c.facets)
    if c.window_start is not None:
        facets[_WINDOW_START] = format_time(c.window_start)
    return AlertSuppressed(
        alert_id=c.alert_id,
        folded_into="",
        rule_id=c.rule_id,
        group_key=group,
        item_ids=c.item_ids,
        event_time=c.event_time,
        entities=c.entities,
        facets=facets,
    )


def _item_context(item: ItemReceived) -> dict[str, Any]:
    return {
        "id": item.item_id,
        "title": item.title,
        "summary": item.summary,
        "content": item.content,
        "text": " ".join(p for p in (item.title, item.summary, item.content) if p),
        "author": list(item.authors),
        "tags": list(item.tags),
        "feed": item.feed_id,
        "source": item.source,
        "url": item.url,
        "lang": item.lang,
        "published": item.published.isoformat() if item.published else None,
    }

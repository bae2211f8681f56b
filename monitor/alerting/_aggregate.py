"""Spike, flatline, new_value and cardinality rules over event time: a pure state machine.

The evaluator feeds an `Aggregator` the same `Contribution`\\ s it feeds the `Correlator` (one
per match of a rule, with event time, entities and facets) and tells it when time passes
(`advance`: every evaluated item's event time, and the watcher's clock through
`AlertEvaluator.tick`). No wall clock is read here, so the same inputs in the same order give
the same hits: that is what makes a replay reproduce the alerts.

**Due times.** Spike, flatline and cardinality conditions can become true while nothing
arrives (a dip, a silence, values ageing out of a window). Their counts only change at known
instants (a match's time t, t + T, t + 2T, t + T + lookback), so after each change the engine
computes, per group, the *earliest* instant at which the condition holds if nothing else
arrives, and fires when time reaches it. The alert's event time is that instant, not the moment
an item or a tick happened to reveal it, and its id is rule + version + group + instant, so a
live run (ticks) and a replay (event times of later items) raise the same alert. A new match
before the due time recomputes it.

**After an alert** the group's windows start afresh from the alert's instant (as ElastAlert2's
spike rule clears its windows): matches at or before it no longer count, and ones that arrive
later for that time are late. So a spike raises one alert, not one per further match.

**Late matches.** The watermark is the latest match time a rule has seen. A match before
``watermark - timespan`` (new_value: ``terms_window_size``) is too late and ignored (counted in
``late``); a later one is inserted in event-time order and may fire for a past instant.

**Memory** (per rule; a group with nothing left is forgotten):

* spike: the matches within 3 x timespan of the watermark (current + reference + lateness).
* flatline: the latest ``threshold + threshold_ref`` match times of each group.
* cardinality: the matches within 2 x timespan of the watermark.
* new_value: one time per (group, field, value) seen within ``terms_window_size``.

State is rebuilt on start from the log like the correlator's: detection alerts are fed with
``restore=True`` (nothing fires) and the rule's own alerts with `fired` (the windows restart
where they restarted live).
"""

from __future__ import annotations

import hashlib
import heapq
from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from ..events import AlertRaised, AlertSuppressed, format_time
from ..rules import AGGREGATION_TYPES
from ._correlate import Contribution, Throttle, group_values, window_alert

__all__ = [
    "MAX_ITEMS",
    "AggregateHit",
    "Aggregator",
    "aggregate_alert_id",
    "aggregate_event",
    "split_rules",
]

#: An alert names at most this many contributing items (the latest ones).
MAX_ITEMS = 50
_SWEEP_EVERY = 1024

# An entry: (event time as epoch seconds, arrival sequence, counted value, contribution)
_Entry = tuple[float, int, str | None, Contribution]


@attrs.frozen
class AggregateHit:
    """An aggregation rule fired for `group` at `window_end` (over [window_start, window_end]).

    `summary` says what happened in words; `numbers` holds the figures (current, reference,
    ratio, value, distinct...) as texts, for the alert's annotations."""

    rule: Any  # a monitor.rules AggregationRule
    group: str | None
    window_start: datetime
    window_end: datetime
    item_ids: tuple[str, ...]
    alert_ids: tuple[str, ...]
    entities: tuple[str, ...]
    alert_id: str
    summary: str
    numbers: dict[str, str] = attrs.field(factory=dict, hash=False)


def aggregate_alert_id(rule_id: str, version: int, group: str | None, at: datetime) -> str:
    """Deterministic id of an aggregation alert: rule + version + group + instant."""
    basis = f"agg\x00{rule_id}\x00{version}\x00{group or ''}\x00{format_time(at)}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _span(seconds: float) -> str:
    """A duration in words: 6h, 90m, 2d, 1h30m."""
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60}m"
    return f"{s}s"


def _n(count: int, word: str = "match") -> str:
    return f"{count} {word}{'es' if word.endswith('ch') else 's'}" if count != 1 else f"1 {word}"


class _Group:
    """One (rule, group): its entries, when its windows last restarted, its due token."""

    __slots__ = ("cleared", "entries", "token", "values")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.cleared = float("-inf")
        self.token = 0
        self.values: dict[tuple[str, str], float] = {}  # new_value: (field, value) -> last seen


class _Spec:
    """One aggregation rule, prepared once, with its groups."""

    def __init__(self, rule: Any) -> None:
        self.rule = rule
        self.type: str = rule.type
        self.span = float(rule.timespan)
        self.lateness = self.span
        self.watermark = float("-inf")
        self.first = float("-inf")  # new_value: the first match's time (warm-up)
        self.groups: dict[str | None, _Group] = {}

    # --- what is kept ------------------------------------------------------------------------

    def horizon(self) -> float:
        """Entries before this time can no longer change any answer."""
        if self.type == "spike":
            return self.watermark - 2 * self.span - self.lateness
        if self.type == "flatline":
            return self.watermark - self.span - self.rule.lookback - self.lateness
        return self.watermark - self.span - self.lateness

    def trim(self, g: _Group, *, values: bool = False) -> None:
        """Drop what can no longer count; remembered values (new_value) only when `values`
        (the sweep: scanning them on every match would cost O(values) per match)."""
        entries = g.entries
        horizon = self.horizon()
        if entries and entries[0][0] < horizon:
            del entries[: bisect_left(entries, (horizon,))]
        if self.type == "flatline":
            keep = self.rule.threshold + self.rule.threshold_ref
            if len(entries) > keep:
                del entries[: len(entries) - keep]
        if values and g.values:
            stale = [k for k, ts in g.values.items() if ts < self.watermark - self.span]
            for k in stale:
                del g.values[k]

    def idle(self, g: _Group) -> bool:
        """Whether a group holds nothing that matters (it is then forgotten)."""
        return not g.entries and not g.values and g.cleared < self.watermark - self.lateness

    # --- conditions --------------------------------------------------------------------------

    def _count(self, entries: list[_Entry], lo: float, hi: float) -> int:
        """Entries with lo < time <= hi."""
        return bisect_right(entries, (hi, float("inf"))) - bisect_right(entries, (lo, float("inf")))

    def _distinct(self, entries: list[_Entry], lo: float, hi: float) -> int:
        i = bisect_right(entries, (lo, float("inf")))
        j = bisect_right(entries, (hi, float("inf")))
        return len({e[2] for e in entries[i:j] if e[2]})

    def holds(self, g: _Group, s: float) -> bool:
        """Whether the rule's condition holds for the window ending at instant `s`."""
        e, r, span = g.entries, self.rule, self.span
        if self.type == "spike":
            cur, ref = self._count(e, s - span, s), self._count(e, s - 2 * span, s - span)
            if cur < r.threshold_cur or ref < r.threshold_ref or cur == 0 or ref == 0:
                return False
            up = r.spike_type in ("up", "both") and cur >= ref * r.spike_height
            down = r.spike_type in ("down", "both") and cur * r.spike_height <= ref
            return up or down
        if self.type == "flatline":
            silent = self._count(e, s - span, s) < r.threshold
            return silent and self._count(e, s - span - r.lookback, s - span) >= r.threshold_ref
        distinct = self._distinct(e, s - span, s)
        if r.max_cardinality is not None and distinct > r.max_cardinality:
            return True
        # min: only once the group has been watched for a whole window (as ElastAlert2 does)
        return (
            r.min_cardinality is not None
            and distinct < r.min_cardinality
            and bool(e)
            and s >= max(e[0][0], g.cleared) + span
        )

    def _shifts(self) -> tuple[int, ...]:
        """Up-spikes and max-cardinality can only start at a match (ElastAlert2 checks them at
        each event): shift 0; dips, silences and min-cardinality when a match leaves a window:
        shift 1 (t + timespan)."""
        if self.type == "spike":
            kind = self.rule.spike_type
            return (0, 1) if kind == "both" else (0,) if kind == "up" else (1,)
        if self.type == "flatline":
            return (1,)
        if self.rule.max_cardinality is not None and self.rule.min_cardinality is None:
            return (0,)
        return (0, 1)

    def candidates(self, g: _Group, since: float) -> list[float]:
        """The instants >= `since` at which the condition can change, ascending. Only the
        entries that can shift past `since` are read: for matches in time order, the new one
        (shift 0) and those within a timespan of it (shift 1)."""
        entries, out = g.entries, set()
        for k in self._shifts():
            lo = bisect_left(entries, (since - k * self.span,))
            out.update(e[0] + k * self.span for e in entries[lo:])
        if self.type == "cardinality" and entries:
            out.add(max(entries[0][0], g.cleared) + self.span)
        return sorted(t for t in out if t >= since)

    def due(self, g: _Group, since: float) -> float | None:
        """The earliest instant >= `since` (and after the last restart) where it holds."""
        if self.type == "new_value" or not g.entries:
            return None
        for s in self.candidates(g, since):
            if s > g.cleared and self.holds(g, s):
                return s
        return None

    # --- hits --------------------------------------------------------------------------------

    def hit(self, group: str | None, g: _Group, s: float) -> AggregateHit:
        """The hit at instant `s`, with what happened in words."""
        r, span = self.rule, self.span
        start = s - span
        shown = [e for e in g.entries if start < e[0] <= s]
        numbers: dict[str, str]
        if self.type == "spike":
            cur, ref = len(shown), self._count(g.entries, s - 2 * span, s - span)
            ratio = cur / ref
            summary = (
                f"{_n(cur)} in {_span(span)} against {ref} in the previous {_span(span)} "
                f"(x{ratio:.3g})"
            )
            numbers = {"current": str(cur), "reference": str(ref), "ratio": f"{ratio:.3g}"}
        elif self.type == "flatline":
            last = g.entries[-1][0] if g.entries else start
            ref = self._count(g.entries, s - span - r.lookback, s - span)
            summary = (
                f"silent: {_n(len(shown))} in {_span(span)} (fewer than {r.threshold}) after "
                f"{_n(ref)} in the {_span(r.lookback)} before; last at {format_time(_dt(last))}"
            )
            numbers = {"current": str(len(shown)), "reference": str(ref)}
            shown = [e for e in g.entries if e[0] <= start][-1:] or shown
        else:
            distinct = self._distinct(g.entries, start, s)
            bound = (
                f"more than {r.max_cardinality}"
                if r.max_cardinality is not None and distinct > r.max_cardinality
                else f"fewer than {r.min_cardinality}"
            )
            summary = f"{distinct} distinct {r.cardinality_field} values in {_span(span)} ({bound})"
            numbers = {"distinct": str(distinct)}
        return self._make(group, start, s, [e[3] for e in shown], summary, numbers)

    def _make(
        self,
        group: str | None,
        start: float,
        end: float,
        contributions: Sequence[Contribution],
        summary: str,
        numbers: dict[str, str],
    ) -> AggregateHit:
        contributions = list(contributions)[-MAX_ITEMS:]
        rule = self.rule
        return AggregateHit(
            rule=rule,
            group=group,
            window_start=_dt(start),
            window_end=_dt(end),
            item_ids=tuple(dict.fromkeys(i for c in contributions for i in c.item_ids)),
            alert_ids=tuple(dict.fromkeys(c.alert_id for c in contributions)),
            entities=tuple(sorted({e for c in contributions for e in c.entities})),
            alert_id=aggregate_alert_id(rule.id, rule.version, group, _dt(end)),
            summary=summary,
            numbers=numbers,
        )

    def new_values(self, group: str | None, g: _Group, c: Contribution, ts: float) -> list[Any]:
        """new_value: the hits for values of `c` unseen within the window; remembers them."""
        hits = []
        warm = ts >= self.first + self.rule.warmup
        for field in self.rule.fields:
            for value in group_values((field,), c.entities, c.facets):
                key = (field, value or "")
                seen = g.values.get(key)
                if seen is not None and seen >= ts:
                    continue  # seen since (a late match): neither new nor newer
                g.values[key] = ts
                if warm and (seen is None or seen < ts - self.span):
                    rules = ", ".join(self.rule.rules)
                    summary = (
                        f"new {field} {value}: not seen in {_span(self.span)} of {rules} matches"
                    )
                    hit = self._make(group, ts, ts, [c], summary, {"field": field, "value": key[1]})
                    hits.append(
                        attrs.evolve(
                            hit,
                            alert_id=aggregate_alert_id(
                                self.rule.id,
                                self.rule.version,
                                f"{group or ''}|{field}={value}",
                                _dt(ts),
                            ),
                        )
                    )
        return hits


class Aggregator:
    """Feed matches in, tell it the time, get spike/flatline/new_value/cardinality hits out.

    See the module docstring for the semantics. Not thread-safe (the evaluator holds its lock).
    """

    def __init__(self, rules: Sequence[Any]) -> None:
        self._specs = [_Spec(rule) for rule in rules]
        self._by_id = {s.rule.id: s for s in self._specs}
        self._by_input: dict[str, list[_Spec]] = {}
        for spec in self._specs:
            for rule_id in dict.fromkeys(spec.rule.rules):
                self._by_input.setdefault(rule_id, []).append(spec)
        self._due: list[tuple[float, int, str, str | None, int]] = []
        self._seq = 0
        self._since_sweep = 0
        self._swept = 0
        self.clock = float("-inf")
        #: How many (rule, match) pairs were ignored for arriving too late.
        self.late = 0

    @property
    def inputs(self) -> frozenset[str]:
        """The rule ids some aggregation rule listens to."""
        return frozenset(self._by_input)

    def live_groups(self) -> int:
        """How many (rule, group) states are held."""
        return sum(len(s.groups) for s in self._specs)

    def live_entries(self) -> int:
        """How many matches and remembered values are held in all groups together."""
        return sum(len(g.entries) + len(g.values) for s in self._specs for g in s.groups.values())

    def _schedule(self, spec: _Spec, group: str | None, g: _Group, since: float) -> None:
        g.token += 1
        when = spec.due(g, since)
        if when is not None:
            self._seq += 1
            heapq.heappush(self._due, (when, self._seq, spec.rule.id, group, g.token))

    def feed(self, c: Contribution, *, restore: bool = False) -> list[AggregateHit]:
        """Offer one match; return the hits due by now (none when `restore`)."""
        specs = self._by_input.get(c.rule_id)
        if not specs:
            return []
        ts = c.event_time.timestamp()
        hits: list[AggregateHit] = []
        for spec in specs:
            if spec.type != "new_value" and ts < spec.watermark - spec.lateness:
                self.late += 1
                continue
            spec.watermark = max(spec.watermark, ts)
            if spec.first == float("-inf"):
                spec.first = ts
            values: list[str | None] = [None]
            if spec.type == "cardinality":
                values = list(group_values((spec.rule.cardinality_field,), c.entities, c.facets))
                if not values:
                    continue  # nothing to count
            for group in group_values(spec.rule.group_by, c.entities, c.facets):
                g = spec.groups.get(group)
                if g is None:
                    g = spec.groups[group] = _Group()
                spec.trim(g)
                if spec.type == "new_value":
                    found_hits = spec.new_values(group, g, c, ts)
                    if not restore:
                        hits.extend(found_hits)
                    continue
                if ts <= g.cleared or any(e[3].alert_id == c.alert_id for e in g.entries):
                    continue  # before the windows restarted, or fed twice
                for value in values:  # an item naming two places counts both
                    self._seq += 1
                    insort(g.entries, (ts, self._seq, value, c), key=lambda e: (e[0], e[1]))
                spec.trim(g)
                self._schedule(spec, group, g, ts)
        self._since_sweep += 1
        if self._since_sweep >= max(_SWEEP_EVERY, self._swept):
            self.sweep()
        hits.extend(self.advance(max(ts, self.clock), restore=restore))
        return hits

    def advance(
        self, when: datetime | float, *, strict: bool = False, restore: bool = False
    ) -> list[AggregateHit]:
        """Time has reached `when`: return the hits due at or before it (before it when
        `strict`: an item at `when` is fed next and may change them). `restore` fires none."""
        if not self._specs:  # no aggregation rule: nothing is ever due (called once per item)
            return []
        ts = when.timestamp() if isinstance(when, datetime) else float(when)
        self.clock = max(self.clock, ts)
        if restore:
            return []
        hits = []
        while self._due and (self._due[0][0] < ts or (not strict and self._due[0][0] == ts)):
            at, _seq, rule_id, group, token = heapq.heappop(self._due)
            spec = self._by_id[rule_id]
            g = spec.groups.get(group)
            if g is None or g.token != token:
                continue  # recomputed since
            hits.append(spec.hit(group, g, at))
            self._restart(spec, group, g, at)
        return hits

    def fired(self, rule_id: str, group: str | None, when: datetime) -> None:
        """An alert of aggregation rule `rule_id` for `group` at `when` is in the log (restore):
        restart its windows there, as the live run did when it raised it."""
        spec = self._by_id.get(rule_id)
        if spec is None or spec.type == "new_value":
            return
        g = spec.groups.get(group)
        if g is None:
            g = spec.groups[group] = _Group()
        self._restart(spec, group, g, when.timestamp())

    def _restart(self, spec: _Spec, group: str | None, g: _Group, at: float) -> None:
        g.cleared = max(g.cleared, at)
        del g.entries[: bisect_right(g.entries, (at, float("inf")))]
        self._schedule(spec, group, g, at)

    def owns(self, rule_id: str) -> bool:
        """Whether `rule_id` is one of this aggregator's rules."""
        return rule_id in self._by_id

    def sweep(self) -> None:
        """Drop expired entries everywhere, forget idle groups and stale due times."""
        self._since_sweep = 0
        for spec in self._specs:
            for group in list(spec.groups):
                g = spec.groups[group]
                spec.trim(g, values=True)
                if spec.idle(g):
                    del spec.groups[group]
        self._due = [
            d
            for d in self._due
            if (g := self._by_id[d[2]].groups.get(d[3])) is not None and g.token == d[4]
        ]
        heapq.heapify(self._due)
        self._swept = self.live_groups() + len(self._due)


def split_rules(correlations: Sequence[Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Split a rule set's correlations into (Sigma correlations, aggregation rules)."""
    plain = tuple(c for c in correlations if c.type not in AGGREGATION_TYPES)
    return plain, tuple(c for c in correlations if c.type in AGGREGATION_TYPES)


def aggregate_event(
    hit: AggregateHit, throttle: Throttle, ruleset_hash: str | None
) -> AlertRaised | AlertSuppressed:
    """The alert for `hit` (or its `AlertSuppressed` when the rule's throttle folds it).

    Its annotations are the rule's (rendered with ``rule``, ``labels`` and ``entities``; an
    aggregation alert has no one item) plus ``summary`` (what happened, in words), the figures
    (``current``/``reference``/``ratio``, ``distinct``, ``field``/``value``) and
    ``contributing`` (the ids of the alerts that counted).
    """
    rule = hit.rule
    facets = dict(zip(rule.group_by, (hit.group or "").split("|"), strict=False))
    facets = {k: v for k, v in facets.items() if k not in ("place", "actor") and v}
    folded = throttle.check(rule.id, hit.group, hit.window_end, rule.throttle, hit.alert_id)
    if folded:
        return AlertSuppressed(
            alert_id=hit.alert_id,
            folded_into=folded,
            rule_id=rule.id,
            group_key=hit.group,
            item_ids=hit.item_ids,
            event_time=hit.window_end,
            entities=hit.entities,
            facets=facets,
        )
    return window_alert(
        hit,
        kind="aggregation",
        item={},
        ruleset_hash=ruleset_hash,
        facets=facets,
        first={"summary": hit.summary, **hit.numbers},
    )

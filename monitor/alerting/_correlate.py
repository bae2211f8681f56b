"""Correlation over time and throttling: pure, deterministic state machines (no I/O, no clock).

The evaluator feeds a `Correlator` one `Contribution` per rule match (the alert it raised or
suppressed, with its event time, entities and facets) and gets back the correlation rules that
fire. Everything is keyed by *event time* (an item's published time, else its received time),
never by the wall clock, so feeding the same contributions in the same order always gives the
same answers: that is what makes a replay of the log reproduce the same alerts.

State per (correlation rule, group) is a list of entries sorted by event time. It is bounded:
an entry older than ``watermark - timespan - lateness`` can never again be part of a window
that a new entry could complete, so it is dropped (lazily when its group is touched, and by a
periodic sweep that also forgets empty groups). Nothing lives only here: the evaluator rebuilds
this state on start by feeding back the `AlertRaised`/`AlertSuppressed` records in the log
(`restore=True`: update state, fire nothing).

Late items: the watermark is the latest event time a correlation rule has seen. A contribution
whose event time is before ``watermark - lateness`` is *too late* and ignored by that rule (the
detection alert itself is still raised). Anything later is inserted in event-time order and may
complete a window that lies in the past. ``lateness`` defaults to the rule's timespan.

Window semantics, for a new entry at event time t and a rule with timespan T. A window
[s, s + T] holds the entries that lie wholly inside it: a detection match is an instant, a
correlation alert fed to a chained correlation spans its own window (`Contribution.start`).

* ``event_count``: some window of length T containing t holds a number of matches that
  satisfies ``condition`` (Sigma's gt/gte/lt/lte/eq, several = a range) and, with
  ``distinct``, a number of distinct values of ``distinct.field`` that satisfies its bounds.
* ``value_count``: the number of distinct values of ``condition.field`` satisfies
  ``condition`` (e.g. ``source``: fifty copies of one wire story count once).
* ``temporal``: some window of length T containing t holds a match of every listed rule.
* ``temporal_ordered``: a chain of matches of the listed rules, in the listed order (event time,
  ties broken by arrival), that uses the new entry and spans at most T.

Rules with lower bounds only fire at the entry that completes a window; every new entry that
completes one fires again (a new window, so a new alert id); ``throttle`` folds the repeats.

Rules with an upper bound (``lt``, ``lte``, ``eq``) cannot be decided at a match: a later one
could break the cap. They use tumbling windows per group, [t0, t0 + T] from the group's first
match, decided in `_close` once the rule's watermark passes t0 + T + lateness (after which no
accepted match can fall inside): the window fires if its count satisfies the condition, its
entries are consumed, and the next window opens at the group's first match left. Only event
times move the watermark, so a replay and a restart decide every window alike.
"""

from __future__ import annotations

import functools
import hashlib
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from heapq import heappop, heappush
from itertools import product
from typing import Any

import attrs

from ..events import AlertRaised, format_time
from ..rules import Bounds, render_annotations

__all__ = [
    "Contribution",
    "CorrelationHit",
    "Correlator",
    "Throttle",
    "correlation_alert_id",
    "group_values",
    "window_alert",
]

#: Run the sweep that drops expired entries and empty groups after this many contributions
#: (or more, when there are more groups: the sweep stays amortized O(1) per contribution).
_SWEEP_EVERY = 1024


@attrs.frozen
class Contribution:
    """One rule match offered to the correlator: what it is, when, and about what."""

    rule_id: str
    event_time: datetime
    alert_id: str
    item_ids: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    facets: dict[str, str] = attrs.field(factory=dict, hash=False)
    #: A correlation alert's own window start (its `event_time` is the window end): a chained
    #: correlation only counts it in a window that holds the whole of it.
    window_start: datetime | None = None

    @property
    def start(self) -> datetime:
        """When this match began: its window start, else its event time."""
        return self.window_start or self.event_time


@attrs.frozen(slots=False)  # not slotted: the listings below are computed on first read
class CorrelationHit:
    """A correlation rule fired for `group` over the window [window_start, window_end].

    `contributions` are the matches counted, in event-time order; `facets` are the group's
    values of the rule's facet group-by keys (``source``, ``feed`` ...); `closed` says the
    window was decided when it closed (a rule with an upper bound), not at a match.
    `trigger` is the match whose arrival completed the window (None for a closed window).

    `item_ids`, `alert_ids` and `entities` list the whole window, so they cost as much as the
    window is long; they are computed when first read, and a throttled repeat that stores
    only its trigger (see `AlertEvaluator`) never reads them.
    """

    rule: Any  # a monitor.rules CorrelationRule
    group: str | None
    window_start: datetime
    window_end: datetime
    alert_id: str
    contributions: tuple[Contribution, ...] = ()
    facets: dict[str, str] = attrs.field(factory=dict, hash=False)
    closed: bool = False
    trigger: Contribution | None = None

    @functools.cached_property
    def item_ids(self) -> tuple[str, ...]:
        """Every item of the window, each once, in event-time order."""
        return tuple(dict.fromkeys(i for c in self.contributions for i in c.item_ids))

    @functools.cached_property
    def alert_ids(self) -> tuple[str, ...]:
        """The alerts (raised or suppressed) counted, each once, in event-time order."""
        return tuple(dict.fromkeys(c.alert_id for c in self.contributions))

    @functools.cached_property
    def entities(self) -> tuple[str, ...]:
        """Every entity of the window's matches, sorted."""
        return tuple(sorted({e for c in self.contributions for e in c.entities}))


def correlation_alert_id(
    rule_id: str, version: int, group: str | None, start: datetime, end: datetime
) -> str:
    """Deterministic id of a correlation alert: rule + version + group + window."""
    basis = f"corr\x00{rule_id}\x00{version}\x00{group or ''}\x00"
    basis += f"{format_time(start)}\x00{format_time(end)}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def group_values(
    group_by: Sequence[str], entities: Iterable[str], facets: dict[str, str]
) -> list[str | None]:
    """The groups one match feeds: one per combination of values of the `group_by` keys.

    Entity kinds (``place``, ``actor``) take every entity id of that kind (an item naming two
    places feeds two groups); facet keys (``source``, ``feed``, ``lang``, ``author``) take the
    item's value. No `group_by`: one group, None. A missing value: no group at all.
    """
    if not group_by:
        return [None]
    per_key: list[list[str]] = []
    for key in group_by:
        if key in facets:
            values = [facets[key]] if facets[key] else []
        else:
            prefix = key + ":"
            values = sorted({e for e in entities if e.startswith(prefix)})
        if not values:
            return []
        per_key.append(values)
    return ["|".join(combo) for combo in product(*per_key)]


# An entry: (event time (end) as epoch seconds, arrival sequence, rule id, counted value,
# contribution, start as epoch seconds: the end for a detection match, the window start for a
# correlation alert).
_Entry = tuple[float, int, str, str | None, Contribution, float]


class _Spec:
    """One correlation rule, prepared once: timespan/lateness in seconds, its bounds."""

    __slots__ = (
        "anchors",
        "bounds",
        "closing",
        "distinct",
        "distinct_needed",
        "due",
        "field",
        "lateness",
        "needed",
        "rule",
        "spans",
        "timespan",
        "type",
        "watermark",
    )

    def __init__(self, rule: Any, lateness: float | None) -> None:
        self.rule = rule
        self.type: str = rule.type
        self.timespan = float(rule.timespan)
        self.lateness = float(rule.timespan if lateness is None else lateness)
        condition = rule.condition or {}
        distinct = getattr(rule, "distinct", None) or {}
        counting = self.type in ("event_count", "value_count")
        self.bounds = Bounds.of(condition) if counting else Bounds()
        self.distinct = Bounds.of(distinct) if distinct else None
        self.field: str | None = condition.get("field") or distinct.get("field")
        self.needed = self.bounds.least
        self.distinct_needed = self.distinct.least if self.distinct is not None else 0
        #: Upper-bounded rules decide each window when it closes, not at a match.
        self.closing = counting and (
            self.bounds.upper or (self.distinct is not None and self.distinct.upper)
        )
        #: closing rules: group -> the start of its open window; a heap of (closes at, group).
        self.anchors: dict[str | None, float] = {}
        self.due: list[tuple[float, int, str | None]] = []
        #: Whether a match with a span (a correlation alert) was ever fed: until then every
        #: entry is an instant and windows need no filtering by start.
        self.spans = False
        self.watermark = float("-inf")

    def horizon(self) -> float:
        """Entries before this event time can never be in a window again."""
        return self.watermark - self.timespan - self.lateness


class Correlator:
    """Feed matches in, get correlation hits out; see the module docstring for semantics.

    `lateness` (seconds) overrides every rule's allowed lateness; None means each rule's own
    timespan.
    """

    def __init__(self, correlations: Sequence[Any], *, lateness: float | None = None) -> None:
        self._specs = [_Spec(rule, lateness) for rule in correlations]
        self._by_input: dict[str, list[_Spec]] = {}
        for spec in self._specs:
            for rule_id in dict.fromkeys(spec.rule.rules):
                self._by_input.setdefault(rule_id, []).append(spec)
        self._groups: dict[tuple[str, str | None], list[_Entry]] = {}
        self._seq = 0
        self._since_sweep = 0
        self._swept_size = 0
        #: How many (rule, contribution) pairs were ignored for arriving too late.
        self.late = 0

    @property
    def inputs(self) -> frozenset[str]:
        """The rule ids some correlation rule listens to."""
        return frozenset(self._by_input)

    @property
    def max_timespan(self) -> float:
        """The longest timespan plus lateness of any rule, in seconds (0 without rules)."""
        return max((s.timespan + s.lateness for s in self._specs), default=0.0)

    def live_groups(self) -> int:
        """How many (rule, group) windows currently hold entries."""
        return sum(1 for entries in self._groups.values() if entries)

    def live_entries(self) -> int:
        """How many entries are held in all windows together."""
        return sum(len(entries) for entries in self._groups.values())

    def feed(self, c: Contribution, *, restore: bool = False) -> list[CorrelationHit]:
        """Offer one match; return the correlation hits it completes (none when `restore`)."""
        specs = self._by_input.get(c.rule_id)
        if not specs:
            return []
        ts = c.event_time.timestamp()
        hits: list[CorrelationHit] = []
        groups_by: dict[tuple[str, ...], list[str | None]] = {}  # rules share their group-by
        for spec in specs:
            if ts < spec.watermark - spec.lateness:
                self.late += 1
                continue
            if ts > spec.watermark:
                spec.watermark = ts
            value = c.facets.get(spec.field) if spec.field else None
            horizon = spec.horizon()
            start = ts if c.window_start is None else c.window_start.timestamp()
            if start != ts:
                spec.spans = True
            by = tuple(spec.rule.group_by)
            groups = groups_by.get(by)
            if groups is None:
                groups = groups_by[by] = group_values(by, c.entities, c.facets)
            for group in groups:
                key = (spec.rule.id, group)
                entries = self._groups.get(key)
                if entries is None:
                    entries = self._groups[key] = []
                elif not spec.closing and entries[0][0] < horizon:
                    del entries[: bisect_left(entries, (horizon,))]
                if _seen(entries, ts, c.alert_id):
                    continue  # fed twice (a restore racing another evaluator): no-op
                self._seq += 1
                entry: _Entry = (ts, self._seq, c.rule_id, value, c, start)
                insort(entries, entry, key=lambda e: (e[0], e[1]))
                if spec.closing:
                    self._anchor(spec, group, start)
                    continue
                if restore:
                    continue
                chosen = _evaluate(spec, entries, entry)
                if chosen:
                    hits.append(_hit(spec, group, chosen, trigger=c))
            if spec.closing:
                hits.extend(self._close(spec, restore))
        self._since_sweep += 1
        if self._since_sweep >= max(_SWEEP_EVERY, self._swept_size):
            self.sweep()
        return hits

    def _anchor(self, spec: _Spec, group: str | None, start: float) -> None:
        """Open a window for `group` at `start` unless one opens earlier already."""
        anchor = spec.anchors.get(group)
        if anchor is None or start < anchor:
            spec.anchors[group] = start
            self._seq += 1
            heappush(spec.due, (start + spec.timespan + spec.lateness, self._seq, group))

    def _close(self, spec: _Spec, restore: bool) -> list[CorrelationHit]:
        """Decide every window of an upper-bounded rule that the watermark has passed.

        A window [anchor, anchor + T] closes once the watermark is past its end plus the
        lateness: from then on every match the rule accepts lies after the window, so its
        count is final. Its matches are consumed; the group's next window opens at its first
        match left, if any. `restore` consumes without firing (the alert, if any, is stored).
        """
        hits: list[CorrelationHit] = []
        while spec.due and spec.due[0][0] < spec.watermark:
            _closes, _seq, group = heappop(spec.due)
            anchor = spec.anchors.get(group)
            if anchor is None or anchor + spec.timespan + spec.lateness != _closes:
                continue  # superseded by an earlier anchor
            key = (spec.rule.id, group)
            entries = self._groups.get(key, [])
            end = anchor + spec.timespan
            window = [e for e in entries if e[5] >= anchor and e[0] <= end]
            rest = [e for e in entries if e[0] > end]
            if rest:
                self._groups[key] = rest
                del spec.anchors[group]
                self._anchor(spec, group, min(e[5] for e in rest))
            else:
                self._groups.pop(key, None)
                del spec.anchors[group]
            if not restore and window and _holds(spec, window):
                hits.append(_hit(spec, group, window, anchor, end))
        return hits

    def sweep(self) -> None:
        """Drop expired entries everywhere and forget groups left empty."""
        self._since_sweep = 0
        horizons = {spec.rule.id: spec.horizon() for spec in self._specs}
        closing = {spec.rule.id for spec in self._specs if spec.closing}
        for key in list(self._groups):
            entries = self._groups[key]
            horizon = horizons[key[0]]
            if key[0] in closing:
                pass  # entries leave when their window closes (`_close`)
            elif entries and entries[0][0] < horizon:
                del entries[: bisect_left(entries, (horizon,))]
            if not entries:
                del self._groups[key]
        self._swept_size = len(self._groups)


def _seen(entries: list[_Entry], ts: float, alert_id: str) -> bool:
    """Whether a match with this alert id is already among the entries at time `ts`."""
    i = bisect_left(entries, (ts,))
    while i < len(entries) and entries[i][0] == ts:
        if entries[i][4].alert_id == alert_id:
            return True
        i += 1
    return False


def _evaluate(spec: _Spec, entries: list[_Entry], new: _Entry) -> list[_Entry] | None:
    """Return the entries of a window/chain that `new` completes, or None.

    A window [s, s + T] holds the entries that lie wholly inside it (start >= s, end <= s + T):
    a correlation alert fed to another correlation spans its own window.
    """
    if spec.type == "temporal_ordered":
        return _ordered_chain(spec, entries, new)
    t, span = new[0], spec.timespan
    if t - new[5] > span:
        return None  # a chained alert wider than the timespan fits in no window
    lo = bisect_left(entries, (t - span,))
    hi = bisect_right(entries, (t + span, float("inf")))
    window = entries[lo:hi]
    if window[-1] is new or window[-1][0] == t:
        # Nothing ends after t: every window holding `new` is inside [t - T, t]; check that.
        if spec.spans:
            window = [e for e in window if e[5] >= t - span]
        return window if _holds(spec, window) else None
    # A late entry with later ones around: try every window start s from t - T up to new's
    # start (only entry starts matter: moving s to the next start loses nothing).
    starts = sorted({e[5] for e in window if t - span <= e[5] <= new[5]})
    for s in starts:
        inside = [e for e in window if e[5] >= s and e[0] <= s + span]
        if _holds(spec, inside):
            return inside
    return None


def _holds(spec: _Spec, window: list[_Entry]) -> bool:
    if spec.closing:  # upper bounds: the full comparison, once per closing window
        if spec.type == "value_count":
            return spec.bounds.holds(len({e[3] for e in window if e[3]}))
        if not spec.bounds.holds(len(window)):
            return False
        return spec.distinct is None or spec.distinct.holds(len({e[3] for e in window if e[3]}))
    # Lower bounds only (the hot path): "holds" is "at least the least count".
    if spec.type == "event_count":
        if len(window) < spec.needed:
            return False
        return spec.distinct is None or _has_distinct(window, spec.distinct_needed)
    if spec.type == "value_count":
        return _has_distinct(window, spec.needed)
    # temporal: every listed rule present
    return set(spec.rule.rules) <= {e[2] for e in window}


def _has_distinct(window: list[_Entry], needed: int) -> bool:
    """Whether the window holds at least `needed` distinct counted values. Stops at the
    `needed`-th: a busy group's window holds hundreds of matches from a handful of sources,
    and every match that completes it asks again."""
    if needed <= 0:
        return True
    seen: set[str] = set()
    for entry in window:
        value = entry[3]
        if value and value not in seen:
            seen.add(value)
            if len(seen) >= needed:
                return True
    return False


def _ordered_chain(spec: _Spec, entries: list[_Entry], new: _Entry) -> list[_Entry] | None:
    """Find a chain rules[0] -> rules[1] -> ... through `new` spanning at most T.

    For each place `new` can take in the sequence, take the latest possible predecessors
    (walking back) and the earliest possible successors (walking forward): each greedy choice
    is optimal on its side, so if any chain through `new` fits in T, this one does.
    """
    rules = spec.rule.rules
    at = bisect_left(entries, (new[0], new[1]))  # (time, sequence) is unique: new's place
    for p, rule_id in enumerate(rules):
        if rule_id != new[2]:
            continue
        chain = [new]
        i, need = at - 1, p - 1
        while need >= 0 and i >= 0 and new[0] - entries[i][0] <= spec.timespan:
            if entries[i][2] == rules[need]:
                chain.insert(0, entries[i])
                need -= 1
            i -= 1
        if need >= 0:
            continue
        start = chain[0][0]
        i, need = at + 1, p + 1
        while need < len(rules) and i < len(entries) and entries[i][0] - start <= spec.timespan:
            if entries[i][2] == rules[need]:
                chain.append(entries[i])
                need += 1
            i += 1
        if need == len(rules) and max(e[0] for e in chain) - min(e[5] for e in chain) <= (
            spec.timespan
        ):
            return chain
    return None


def _hit(
    spec: _Spec,
    group: str | None,
    chosen: list[_Entry],
    start_ts: float | None = None,
    end_ts: float | None = None,
    trigger: Contribution | None = None,
) -> CorrelationHit:
    """The hit for `chosen` entries; a closed window passes its own bounds, a window that a
    match completed passes that match (`trigger`)."""
    closed = start_ts is not None
    if start_ts is None:
        # Entries are in end order; only spanned ones (chains) can start before the first.
        start_ts = min(e[5] for e in chosen) if spec.spans else chosen[0][0]
    start = datetime.fromtimestamp(start_ts, tz=UTC)
    end = datetime.fromtimestamp(max(e[0] for e in chosen) if end_ts is None else end_ts, tz=UTC)
    contributions = tuple(e[4] for e in chosen)
    rule = spec.rule
    facets = {
        k: contributions[0].facets[k]
        for k in rule.group_by
        if contributions and k in contributions[0].facets
    }
    return CorrelationHit(
        rule=rule,
        group=group,
        window_start=start,
        window_end=end,
        alert_id=correlation_alert_id(rule.id, rule.version, group, start, end),
        contributions=contributions,
        facets=facets,
        closed=closed,
        trigger=trigger,
    )


class Throttle:
    """Per (rule, group): the event time and id of the last alert delivered.

    `check` answers whether a new alert at event time t is a repeat: within `seconds` of the
    last delivered one (either side, so late items fold too). Repeats are folded into that
    alert; anything else becomes the new last delivered alert. Entries older than the latest
    event time minus the longest throttle seen are dropped by `sweep`, so state stays bounded.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[str, str | None], tuple[float, str, float]] = {}
        self._latest = float("-inf")
        self._since_sweep = 0
        self._swept_size = 0

    def __len__(self) -> int:
        return len(self._last)

    def _current(self, key: tuple[str, str | None]) -> tuple[float, str, float] | None:
        # A stale entry counts as absent, which makes `sweep` a pure memory saving: results
        # never depend on when it ran, so a restart (which sweeps at other moments) decides
        # exactly alike.
        last = self._last.get(key)
        if last is not None and last[0] + 2 * last[2] < self._latest:
            return None
        return last

    def check(
        self, rule_id: str, group: str | None, when: datetime, seconds: float | None, alert_id: str
    ) -> str | None:
        """Return the id of the alert to fold into, or None (and remember this one) to raise."""
        last = self._current((rule_id, group))
        if last is not None and last[1] == alert_id:
            return None  # this very alert is the last delivered one: raising it again dedupes
        if seconds and last is not None and abs(when.timestamp() - last[0]) < seconds:
            return last[1]
        self.record(rule_id, group, when, seconds, alert_id)
        return None

    def record(
        self, rule_id: str, group: str | None, when: datetime, seconds: float | None, alert_id: str
    ) -> None:
        """Remember a delivered alert (used directly when rebuilding from the log)."""
        ts = when.timestamp()
        key = (rule_id, group)
        last = self._current(key)
        if seconds and (last is None or ts >= last[0]):
            self._last[key] = (ts, alert_id, float(seconds))
        self._latest = max(self._latest, ts)
        self._since_sweep += 1
        if self._since_sweep >= max(_SWEEP_EVERY, self._swept_size):
            self.sweep()

    def alert_ids(self) -> set[str]:
        """The ids of the alerts repeats can still fold into (each group's last one)."""
        return {alert for _ts, alert, _seconds in self._last.values()}

    def sweep(self) -> None:
        """Forget groups whose last alert is too old to throttle anything new."""
        self._since_sweep = 0
        for key, (ts, _alert, seconds) in list(self._last.items()):
            if ts + 2 * seconds < self._latest:
                del self._last[key]
        self._swept_size = len(self._last)


def window_alert(
    hit: Any,
    *,
    kind: str,
    item: Mapping[str, Any],
    ruleset_hash: str | None,
    facets: Mapping[str, str],
    first: Mapping[str, str] | None = None,
) -> AlertRaised:
    """The `AlertRaised` of a rule over a window of matches (a correlation's or an
    aggregation's `hit`: rule, group, window, contributing alerts and items). `kind` labels it
    (``correlation`` or ``aggregation``: the rule's type); the rule's annotations are rendered
    with `item` (the completing item's fields, or empty), the rule, its labels and the
    entities, after `first` (figures a type adds); ``contributing`` lists the counted alerts."""
    rule = hit.rule
    rendered = render_annotations(rule, dict(item), hit.entities)
    annotations = {**(first or {}), **rendered}
    annotations.setdefault("contributing", " ".join(hit.alert_ids))
    return AlertRaised(
        alert_id=hit.alert_id,
        rule_id=rule.id,
        rule_version=rule.version,
        level=rule.level,
        title=rule.title,
        item_ids=hit.item_ids,
        entities=hit.entities,
        group_key=hit.group,
        event_time=hit.window_end,
        window_start=hit.window_start,
        window_end=hit.window_end,
        labels={kind: rule.type, **rule.labels},
        annotations=annotations,
        ruleset_hash=ruleset_hash,
        facets=dict(facets),
    )

"""Built-in projections about alerts: `AlertTimeline` (``alert_timeline``) and `RuleHits`
(``rule_hits``)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, ClassVar

from ..events import (
    AlertRaised,
    AlertSuperseded,
    AlertSuppressed,
    Event,
    RepeatsFolded,
    parse_time,
)
from ..log import EventLog, Record
from ._base import Projection, StateView, iter_scan, key, sortable_time

__all__ = ["AlertTimeline", "RuleHits"]


def _add_repeats(state: StateView, alert_id: str, count: int, outlets: Iterable[str]) -> None:
    """Count `count` repeats (and their outlets) on alert `alert_id`'s listing, or keep them
    pending until the alert arrives."""
    time_key = state.get(key("id", alert_id))
    if time_key is None:
        pending_key = key("pending", alert_id)
        pending = state.get(pending_key) or {"n": 0, "outlets": []}
        pending["n"] += count
        pending["outlets"] = sorted(set(pending["outlets"]).union(outlets))
        state.put(pending_key, pending)
        return
    listing = state.get(time_key)
    listing["suppressed"] += count
    listing["outlets"] = sorted(set(listing.get("outlets", ())).union(outlets))
    state.put(time_key, listing)


def _time_bound(value: datetime | str) -> str:
    parsed = parse_time(value)
    assert parsed is not None
    return sortable_time(parsed)


class AlertTimeline(Projection):
    """Every raised alert, ordered by event time, with what a listing shows.

    Keys: ``t:<event time>:<alert_id>`` -> the listing (fixed-width times, so key order is time
    order, then alert id); ``id:<alert_id>`` -> its ``t:`` key, for lookup by id;
    ``pending:<alert_id>`` -> suppressions seen before the alert they fold into (moved onto it
    when it arrives, so the result does not depend on that order); ``folded:<alert_id>`` -> the
    highest item position counted from its `RepeatsFolded` records (see
    `RepeatsFolded.count_new`).

    A listing holds ``alert_id, rule_id, rule_version, level, title, entities, event_time,
    item_ids, evidence`` (the number of evidence spans), ``group_key``, ``position`` (where the
    AlertRaised is in the log) and ``suppressed``: how many later firings were folded into it
    (`AlertSuppressed` events naming it in ``folded_into``, and the repeats counted in
    `RepeatsFolded` records), and ``outlets``: the distinct sources (publisher, else feed) of
    the alert and its repeats, sorted: the final "reported by N outlets". A listing whose item
    was revised so that it no longer matches the rule (`AlertSuperseded`) also holds
    ``no_longer_matches``: the first revision number that did not match. The alert itself
    stays listed.
    """

    name: ClassVar[str] = "alert_timeline"
    version: ClassVar[int] = 2
    types: ClassVar[frozenset[str]] = frozenset(
        {"AlertRaised", "AlertSuppressed", "AlertSuperseded", "RepeatsFolded"}
    )

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """File a raised alert under its event time, or count a suppression on its alert."""
        if isinstance(event, AlertRaised):
            when = sortable_time(event.event_time)
            # The time is fixed-width, so it needs no escaping and key order is time order.
            time_key = f"t:{when}:{key(event.alert_id)}"
            id_key = key("id", event.alert_id)
            pending_key = key("pending", event.alert_id)
            pending = state.get(pending_key)
            if pending is not None:
                state.delete(pending_key)
            else:
                pending = {"n": 0, "outlets": []}
            suppressed = pending["n"]
            outlets = set(pending["outlets"])
            source = event.facets.get("source")
            if source:
                outlets.add(source)
            previous = state.get(id_key)
            if previous is not None:  # the same alert id raised twice: the latest wins
                before = state.get(previous, {})
                suppressed += before.get("suppressed", 0)
                outlets.update(before.get("outlets", ()))
                if previous != time_key:
                    state.delete(previous)
            state.put(
                time_key,
                {
                    "alert_id": event.alert_id,
                    "rule_id": event.rule_id,
                    "rule_version": event.rule_version,
                    "level": event.level,
                    "title": event.title,
                    "entities": list(event.entities),
                    "event_time": when,
                    "item_ids": list(event.item_ids),
                    "evidence": len(event.evidence),
                    "group_key": event.group_key,
                    "position": record.position,
                    "suppressed": suppressed,
                    "outlets": sorted(outlets),
                },
            )
            state.put(id_key, time_key)
        elif isinstance(event, AlertSuppressed):
            if not event.folded_into:  # a `generate: false` rule's match: no alert, no repeat
                return
            source = event.facets.get("source")
            _add_repeats(state, event.folded_into, 1, [source] if source else [])
        elif isinstance(event, RepeatsFolded):
            highest_key = key("folded", event.folded_into)
            counted = {event.folded_into: state.get(highest_key, 0)}
            new = event.count_new(counted)
            state.put(highest_key, counted[event.folded_into])
            _add_repeats(state, event.folded_into, new, event.outlets)
        elif isinstance(event, AlertSuperseded):
            # Always after its alert (the evaluator appends it later); a suppressed alert has
            # no listing to mark.
            time_key = state.get(key("id", event.alert_id))
            listing = state.get(time_key) if time_key is not None else None
            if listing is not None and "no_longer_matches" not in listing:
                listing["no_longer_matches"] = event.revision
                state.put(time_key, listing)

    @classmethod
    def get(cls, log: EventLog, alert_id: str) -> dict[str, Any] | None:
        """Return the listing of alert `alert_id`, None if it was never raised."""
        time_key = log.projection_get(cls.name, key("id", alert_id))
        return None if time_key is None else log.projection_get(cls.name, time_key)

    @classmethod
    def latest(
        cls,
        log: EventLog,
        limit: int = 20,
        *,
        rule: str | None = None,
        level: str | None = None,
        place: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> list[dict[str, Any]]:
        """Return up to `limit` listings, newest event time first, that match every filter.

        `rule` is a rule id, `level` an alert level, `place` a place id (``al_tanf`` or
        ``place:al_tanf``) among the alert's entities; `since` / `until` bound the event time
        (both inclusive). Reads the timeline backwards a page at a time and stops at `since`
        or once `limit` listings are found, so it never loads the whole timeline.
        """
        if limit <= 0:
            return []
        entity = None
        if place is not None:
            entity = place if place.startswith("place:") else f"place:{place}"
        low = _time_bound(since) if since is not None else None
        # ";" sorts just after ":", so every key at exactly `until` is included.
        after = "t:" + _time_bound(until) + ";" if until is not None else None
        out: list[dict[str, Any]] = []
        for _, listing in iter_scan(log, cls.name, "t:", after=after, reverse=True):
            if low is not None and listing["event_time"] < low:
                break
            if rule is not None and listing["rule_id"] != rule:
                continue
            if level is not None and listing["level"] != level:
                continue
            if entity is not None and entity not in listing["entities"]:
                continue
            out.append(listing)
            if len(out) >= limit:
                break
        return out

    @classmethod
    def all(cls, log: EventLog) -> Iterator[dict[str, Any]]:
        """Stream every listing, oldest event time first."""
        for _, listing in iter_scan(log, cls.name, "t:"):
            yield listing


class RuleHits(Projection):
    """Per rule: how many alerts it raised, by level, when (first and last event time), and
    how many firings were suppressed by its throttle.

    Key ``rule:<rule_id>`` -> ``{"rule_id", "alerts", "levels": {level: n}, "first", "last",
    "suppressed"}``; ``first`` / ``last`` are None for a rule that only has suppressions.
    """

    name: ClassVar[str] = "rule_hits"
    version: ClassVar[int] = 2
    types: ClassVar[frozenset[str]] = frozenset({"AlertRaised", "AlertSuppressed", "RepeatsFolded"})

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """Count one alert, or one suppression (or a record of folded ones), on its rule."""
        if not isinstance(event, AlertRaised | AlertSuppressed | RepeatsFolded):  # pragma: no cover
            return
        k = key("rule", event.rule_id)
        hits = state.get(k) or {
            "rule_id": event.rule_id,
            "alerts": 0,
            "levels": {},
            "first": None,
            "last": None,
            "suppressed": 0,
        }
        if isinstance(event, RepeatsFolded):
            highest_key = key("folded", event.folded_into)
            counted = {event.folded_into: state.get(highest_key, 0)}
            hits["suppressed"] += event.count_new(counted)
            state.put(highest_key, counted[event.folded_into])
        elif isinstance(event, AlertSuppressed):
            if not event.folded_into:  # a `generate: false` rule's match: not a repeat
                return
            hits["suppressed"] += 1
        else:
            when = sortable_time(event.event_time)
            hits["alerts"] += 1
            hits["levels"][event.level] = hits["levels"].get(event.level, 0) + 1
            hits["first"] = when if hits["first"] is None else min(hits["first"], when)
            hits["last"] = when if hits["last"] is None else max(hits["last"], when)
        state.put(k, hits)

    @classmethod
    def get(cls, log: EventLog, rule_id: str) -> dict[str, Any] | None:
        """Return the counts of rule `rule_id`, None if it never fired."""
        return log.projection_get(cls.name, key("rule", rule_id))

    @classmethod
    def all(cls, log: EventLog) -> Iterator[dict[str, Any]]:
        """Stream every rule's counts, by rule id."""
        for _, hits in iter_scan(log, cls.name, "rule:"):
            yield hits

    @classmethod
    def top(cls, log: EventLog, limit: int = 10) -> list[dict[str, Any]]:
        """Return the `limit` rules with the most alerts (ties by rule id), streaming the
        counts so memory holds only `limit` of them."""
        return heapq.nsmallest(limit, cls.all(log), key=lambda h: (-h["alerts"], h["rule_id"]))

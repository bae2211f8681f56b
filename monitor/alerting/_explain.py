"""Explain a correlation alert: its window, its condition, and the matches it counted.

A stored correlation alert names the alerts it counted (annotation ``contributing``) and its
items; this module finds those records and items in a log and puts them side by side: each
contributing match with its rule, event time, item (title, feed) and evidence. The log is read
in pages (`iter_events` / `read`), never whole. A ``generate: false`` rule's matches are stored
without evidence; pass the rule set to have their items matched again for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from ..events import AlertRaised, AlertSuppressed, ItemReceived, RepeatsFolded, format_time
from ..log import EventLog
from ..rules import Bounds
from ._evaluator import unfolded_repeats

__all__ = ["Contributor", "CorrelationExplanation", "explain_correlation"]


@attrs.frozen
class Contributor:
    """One match a correlation counted: a detection alert, or another correlation's.

    `raised` is False for a match stored without an alert of its own (``generate: false``,
    or a throttled repeat); `items` are its items as stored in the log (absent ones left out).
    """

    alert_id: str
    rule_id: str
    event_time: datetime | None
    raised: bool
    items: tuple[ItemReceived, ...] = ()
    evidence: tuple[Any, ...] = ()
    window_start: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "rule_id": self.rule_id,
            "event_time": _time(self.event_time),
            "window_start": _time(self.window_start),
            "raised": self.raised,
            "items": [
                {
                    "item_id": i.item_id,
                    "title": i.title,
                    "feed": i.feed_id,
                    "source": i.source,
                    "time": _time(i.published or i.received),
                }
                for i in self.items
            ],
            "evidence": [
                {"field": e.field, "start": e.start, "end": e.end, "text": e.text}
                | ({"selection": e.selection} if getattr(e, "selection", None) else {})
                for e in self.evidence
            ],
        }


@attrs.frozen
class CorrelationExplanation:
    """Why a correlation alert fired: its rule, window, condition and contributing matches."""

    alert: AlertRaised
    rule: Any | None  # the CorrelationRule, when the rule set was given and still has it
    contributors: tuple[Contributor, ...]

    @property
    def timespan(self) -> float | None:
        """The window's length in seconds (end - start)."""
        a = self.alert
        if a.window_start is None or a.window_end is None:
            return None
        return (a.window_end - a.window_start).total_seconds()

    def condition(self) -> str:
        """The rule's type and condition as text, e.g. ``event_count >= 3; distinct source
        >= 2 within 6h`` (the type alone without the rule)."""
        rule = self.rule
        kind = self.alert.labels.get("correlation", "correlation")
        if rule is None:
            return kind
        text = rule.type
        if rule.condition:
            counted = "matches" if rule.type == "event_count" else rule.condition.get("field")
            text += f" {counted} {Bounds.of(rule.condition).describe()}"
        if getattr(rule, "distinct", None):
            text += f"; distinct {rule.distinct['field']} {Bounds.of(rule.distinct).describe()}"
        if rule.type.startswith("temporal"):
            text += f" of {', '.join(rule.rules)}"
        return text + f" within {_span(rule.timespan)}"

    def to_dict(self) -> dict[str, Any]:
        a = self.alert
        return {
            "alert_id": a.alert_id,
            "rule_id": a.rule_id,
            "group": a.group_key,
            "condition": self.condition(),
            "window": {
                "start": _time(a.window_start),
                "end": _time(a.window_end),
                "timespan_seconds": self.timespan,
                "rule_timespan_seconds": None if self.rule is None else self.rule.timespan,
            },
            "contributors": [c.to_dict() for c in self.contributors],
        }

    def lines(self) -> list[str]:
        """The explanation as plain text lines, for a terminal."""
        a = self.alert
        out = [f"correlation {a.rule_id}: {self.condition()}", f"group    {a.group_key or '-'}"]
        if a.window_start is not None and a.window_end is not None:
            span = _span(int(self.timespan or 0))
            out.append(
                f"window   {format_time(a.window_start)} .. {format_time(a.window_end)} ({span})"
            )
        out.append(f"counted  {len(self.contributors)} match(es):")
        for c in self.contributors:
            mark = "" if c.raised else " (no alert of its own)"
            out.append(f"  {_time(c.event_time) or '?'}  {c.rule_id}  {c.alert_id[:12]}{mark}")
            if c.window_start is not None:
                out.append(f"      its window {_time(c.window_start)} .. {_time(c.event_time)}")
            for item in c.items:
                when = _time(item.published or item.received)
                out.append(f"      item {when}  [{item.feed_id}]  {item.title or '(no title)'}")
            for e in c.evidence:
                sel = f" ({e.selection})" if getattr(e, "selection", None) else ""
                out.append(f"      evidence {e.field}[{e.start}:{e.end}] {e.text!r}{sel}")
        return out


def _span(seconds: float) -> str:
    """A duration as the rules write it: 6h, 90m, 1d12h, 45s."""
    seconds = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _items(log: EventLog, ids: Iterable[str]) -> dict[str, ItemReceived]:
    wanted = {f"item:{i}" for i in ids}
    found: dict[str, ItemReceived] = {}
    if not wanted:
        return found
    for record in log.read(types=("ItemReceived",)):
        if record.dedupe_key in wanted:
            item = record.event()
            if isinstance(item, ItemReceived):
                found[item.item_id] = item
            wanted.discard(record.dedupe_key)
            if not wanted:
                break
    return found


def explain_correlation(
    log: EventLog, alert: AlertRaised, ruleset: Any | None = None
) -> CorrelationExplanation:
    """Find the matches `alert` counted (its ``contributing`` annotation) in `log`, with their
    items and evidence. `ruleset` (optional) supplies the rule, for its condition, and the
    evidence of matches stored without it (by matching their items again)."""
    ids = (alert.annotations.get("contributing") or "").split()
    records: dict[str, AlertRaised | AlertSuppressed] = {}
    pending = set(ids)
    if pending:
        types = ("AlertRaised", "AlertSuppressed", "RepeatsFolded")
        for _r, evt in log.iter_events(types=types):
            # A repeat past the sample is listed in its page's fold (`unfolded_repeats`).
            found = unfolded_repeats(evt) if isinstance(evt, RepeatsFolded) else [evt]
            for one in found:
                aid = getattr(one, "alert_id", None)
                if aid in pending and isinstance(one, AlertRaised | AlertSuppressed):
                    records[aid] = one
                    pending.discard(aid)
            if not pending:
                break
    items = _items(log, [i for r in records.values() for i in r.item_ids] or alert.item_ids)
    rule = None
    if ruleset is not None:
        try:
            rule = ruleset.correlation(alert.rule_id)
        except KeyError:
            rule = None
    contributors = []
    for aid in ids:
        evt = records.get(aid)
        if evt is None:
            contributors.append(Contributor(aid, "?", None, False))
            continue
        its = tuple(items[i] for i in evt.item_ids if i in items)
        evidence = tuple(getattr(evt, "evidence", ()) or ())
        if not evidence and ruleset is not None and len(its) == 1:
            evidence = _evidence_again(ruleset, evt.rule_id, its[0])
        contributors.append(
            Contributor(
                aid,
                evt.rule_id,
                evt.event_time,
                isinstance(evt, AlertRaised),
                its,
                evidence,
                getattr(evt, "window_start", None),
            )
        )
    contributors.sort(key=lambda c: (c.event_time is None, c.event_time or alert.event_time))
    return CorrelationExplanation(alert, rule, tuple(contributors))


def _evidence_again(ruleset: Any, rule_id: str, item: ItemReceived) -> tuple[Any, ...]:
    """The evidence `rule_id` finds in `item` now (for matches stored without evidence)."""
    for match in ruleset.match(item):
        if match.rule_id == rule_id:
            return tuple(match.evidence)
    return ()

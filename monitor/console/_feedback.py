"""The `AlertReview` projection (``alert_review``): what analysts said about each alert and,
per rule, how many of its alerts they judged right or wrong.

The console reads it to show an alert's acknowledgement and verdict, and a rule's precision:
``true / (true + false)`` over the alerts reviewed. A false positive counts against its rule;
an analyst who changes their mind moves the alert from one count to the other (the latest
`AlertFeedback` in log order wins), so a rebuild from position 0 gives the same counts.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..events import AlertAcknowledged, AlertFeedback, Event
from ..log import EventLog, Record
from ..projections import Projection, StateView, iter_scan, key

__all__ = ["MAX_NOTES", "AlertReview", "precision"]

#: The notes kept per alert (the latest); older ones stay in the log.
MAX_NOTES = 20


def _rule_counts(rule_id: str) -> dict[str, Any]:
    return {"rule_id": rule_id, "acknowledged": 0, "true_positive": 0, "false_positive": 0}


class AlertReview(Projection):
    """Keys ``a:<alert_id>`` -> ``{"ack": {"by", "when", "note"} | None, "verdict": str | None,
    "notes": [{"verdict", "note", "by", "when"}, ...]}`` (latest `MAX_NOTES`, oldest first);
    ``r:<rule_id>`` -> ``{"rule_id", "acknowledged", "true_positive", "false_positive"}``."""

    name: ClassVar[str] = "alert_review"
    version: ClassVar[int] = 1
    types: ClassVar[frozenset[str]] = frozenset({"AlertAcknowledged", "AlertFeedback"})

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """Fold one acknowledgement or verdict into its alert and its rule."""
        if not isinstance(event, AlertAcknowledged | AlertFeedback):  # pragma: no cover
            return
        alert_key = key("a", event.alert_id)
        rule_key = key("r", event.rule_id)
        review = state.get(alert_key) or {"ack": None, "verdict": None, "notes": []}
        counts = state.get(rule_key) or _rule_counts(event.rule_id)
        when = event.when.isoformat().replace("+00:00", "Z")
        if isinstance(event, AlertAcknowledged):
            if review["ack"] is not None:  # pragma: no cover: stored once per alert
                return
            review["ack"] = {"by": event.by, "when": when, "note": event.note}
            counts["acknowledged"] += 1
        else:
            if review["verdict"] is not None:
                counts[review["verdict"]] -= 1
            review["verdict"] = event.verdict
            counts[event.verdict] += 1
            review["notes"] = [
                *review["notes"],
                {"verdict": event.verdict, "note": event.note, "by": event.by, "when": when},
            ][-MAX_NOTES:]
        state.put(alert_key, review)
        state.put(rule_key, counts)

    @classmethod
    def of_alert(cls, log: EventLog, alert_id: str) -> dict[str, Any] | None:
        """The review of alert `alert_id`, None when nobody reviewed it."""
        return log.projection_get(cls.name, key("a", alert_id))

    @classmethod
    def of_rule(cls, log: EventLog, rule_id: str) -> dict[str, Any]:
        """The review counts of rule `rule_id` (zeros when none)."""
        return log.projection_get(cls.name, key("r", rule_id)) or _rule_counts(rule_id)

    @classmethod
    def rules(cls, log: EventLog) -> dict[str, dict[str, Any]]:
        """Every reviewed rule's counts, by rule id (one per rule: as many as the rules)."""
        return {v["rule_id"]: v for _, v in iter_scan(log, cls.name, "r:")}


def precision(counts: dict[str, Any]) -> float | None:
    """``true / (true + false)`` of a rule's review counts, None when none was judged."""
    judged = counts["true_positive"] + counts["false_positive"]
    return counts["true_positive"] / judged if judged else None

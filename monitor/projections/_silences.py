"""`Silences` (``silences``): every silence with its state, and which alerts each one muted.

It folds the same rule delivery applies (`monitor.events.silence_applies`, over the silences
before the alert in the log), so the listing and the sinks agree on every alert, and a rebuild
from position 0 gives the same marks: the answer is a function of the log alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

from ..events import (
    AlertRaised,
    Event,
    SilenceCreated,
    SilenceExpired,
    format_time,
    parse_time,
    silence_applies,
    to_plain,
)
from ..log import EventLog, Record
from ._base import Projection, StateView, iter_scan, key

__all__ = ["Silences"]

#: A silence that ended this long before an alert was raised is no longer checked against
#: later alerts (it cannot match them unless the clocks of two writers disagree by more).
_PRUNE_AFTER = timedelta(days=7)


def _status(listing: dict[str, Any], now: datetime) -> str:
    if listing.get("expired_at") is not None:
        return "expired"
    silence = listing["silence"]
    if now < parse_time(silence["starts"]):  # type: ignore[operator]
        return "pending"
    if now >= parse_time(silence["ends"]):  # type: ignore[operator]
        return "expired"
    return "active"


class Silences(Projection):
    """Silences and the alerts they muted.

    Keys: ``s:<silence id>`` -> ``{"silence": the SilenceCreated fields, "position",
    "silenced": alerts muted, "expired_at", "expired_by"}``; ``active`` -> the ids of silences
    not yet expired by `SilenceExpired` nor long over; ``a:<alert id>`` -> the id of the
    silence that muted the alert (the oldest of several that match).
    """

    name: ClassVar[str] = "silences"
    version: ClassVar[int] = 1
    types: ClassVar[frozenset[str]] = frozenset({"SilenceCreated", "SilenceExpired", "AlertRaised"})

    def __init__(self) -> None:
        # Parsed silences by id: a cache of immutable state (a silence never changes once
        # stored), so each is decoded once, not once per alert.
        self._parsed: dict[str, SilenceCreated] = {}

    def _silence(self, listing: dict[str, Any]) -> SilenceCreated:
        body = listing["silence"]
        found = self._parsed.get(body["silence_id"])
        if found is None:
            found = self._parsed[body["silence_id"]] = SilenceCreated(**body)
        return found

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """Store a silence, mark its expiry, or mark an alert a silence mutes."""
        if isinstance(event, SilenceCreated):
            k = key("s", event.silence_id)
            if state.get(k) is None:
                state.put(
                    k,
                    {
                        "silence": to_plain(event),
                        "position": record.position,
                        "silenced": 0,
                        "expired_at": None,
                        "expired_by": None,
                    },
                )
                state.put("active", [*state.get("active", []), event.silence_id])
        elif isinstance(event, SilenceExpired):
            k = key("s", event.silence_id)
            listing = state.get(k)
            if listing is not None and listing["expired_at"] is None:
                listing["expired_at"] = format_time(event.when)
                listing["expired_by"] = event.by
                state.put(k, listing)
                state.put("active", [i for i in state.get("active", []) if i != event.silence_id])
        elif isinstance(event, AlertRaised):
            self._mark(event, record, state)

    def _mark(self, alert: AlertRaised, record: Record, state: StateView) -> None:
        active = state.get("active", [])
        if not active:
            return
        raised = record.recorded_time
        keep: list[str] = []
        muted_by: str | None = None
        for silence_id in active:
            k = key("s", silence_id)
            listing = state.get(k)
            silence = self._silence(listing)
            if raised - silence.ends > _PRUNE_AFTER:
                continue
            keep.append(silence_id)
            if muted_by is None and silence_applies(silence, alert, raised):
                muted_by = silence_id
                listing["silenced"] += 1
                state.put(k, listing)
        if len(keep) != len(active):
            state.put("active", keep)
        if muted_by is not None:
            state.put(key("a", alert.alert_id), muted_by)

    # --- queries -------------------------------------------------------------------------

    @classmethod
    def get(cls, log: EventLog, silence_id: str) -> dict[str, Any] | None:
        """Return the stored listing of silence `silence_id`, None if there is none."""
        return log.projection_get(cls.name, key("s", silence_id))

    @classmethod
    def muting(cls, log: EventLog, alert_id: str) -> str | None:
        """Return the id of the silence that muted alert `alert_id`, None if none did."""
        return log.projection_get(cls.name, key("a", alert_id))

    @classmethod
    def all(
        cls, log: EventLog, *, now: datetime, include_expired: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Stream every silence as a flat listing with its ``status`` at `now` (``active``,
        ``pending`` or ``expired``), in id order; expired ones only with `include_expired`."""
        for _, listing in iter_scan(log, cls.name, "s:"):
            status = _status(listing, now)
            if status == "expired" and not include_expired:
                continue
            yield {
                **listing["silence"],
                "status": status,
                "silenced": listing["silenced"],
                "expired_at": listing["expired_at"],
                "expired_by": listing["expired_by"],
                "position": listing["position"],
            }

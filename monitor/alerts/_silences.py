"""`SilenceBook`: the silences delivery applies, read from the log in order with the alerts.

Which silences count for an alert is decided by log order, so every sink, however far behind,
and every replay, gives the same answer: a silence counts for the alert at position ``p`` when
its `SilenceCreated` is before ``p`` and no `SilenceExpired` for it is before ``p``; then
`monitor.events.silence_applies` compares its matchers and time range with the alert and the
time the alert was raised (its record's time). A silence made after an alert was raised never
mutes it, even if a sink had not sent it yet (Alertmanager would: it mutes at notification
time; we keep the answer independent of how late a sink is). The `Silences` projection folds
the same rule for the listing.
"""

from __future__ import annotations

import threading
from datetime import datetime

from ..events import AlertRaised, SilenceCreated, SilenceExpired, silence_applies
from ..log import EventLog, Record

__all__ = ["SILENCE_TYPES", "SilenceBook"]

#: The event types that create and end silences.
SILENCE_TYPES = ("SilenceCreated", "SilenceExpired")


class SilenceBook:
    """Every silence in the log with the positions of its creation and expiry, shared by the
    delivery threads of all sinks (thread-safe).

    The book reads the silences already in the log once, on first use; after that the sinks
    hand it the silence records they meet in their pages (`observe`), so it never scans the
    log again. Silences are few (people make them), so all of them stay in memory.
    """

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._lock = threading.Lock()
        self._loaded = False
        self._created: dict[str, tuple[int, SilenceCreated]] = {}
        self._expired: dict[str, int] = {}

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for record in self.log.read(types=SILENCE_TYPES):
                self._add(record)

    def _add(self, record: Record) -> None:
        event = record.event()
        if isinstance(event, SilenceCreated):
            self._created.setdefault(event.silence_id, (record.position, event))
        elif isinstance(event, SilenceExpired):
            known = self._expired.get(event.silence_id)
            if known is None or record.position < known:
                self._expired[event.silence_id] = record.position

    def observe(self, record: Record) -> None:
        """Take note of a silence record met while reading the log (others are ignored)."""
        if record.type in SILENCE_TYPES:
            with self._lock:
                self._load()
                self._add(record)

    def muting(self, alert: AlertRaised, position: int, raised: datetime) -> str | None:
        """The id of the oldest silence that mutes `alert` (at log `position`, raised at
        `raised`), or None when none does (see the module docstring)."""
        with self._lock:
            self._load()
            candidates = [
                (pos, silence)
                for pos, silence in self._created.values()
                if pos < position and self._expired.get(silence.silence_id, position) >= position
            ]
        for _pos, silence in sorted(candidates, key=lambda c: c[0]):
            if silence_applies(silence, alert, raised):
                return silence.silence_id
        return None

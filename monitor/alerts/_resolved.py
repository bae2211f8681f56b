"""`RaisedLookup`: the `AlertRaised` an `AlertSuperseded` names, for resolved notices.

A notice is sent only for an alert the sink received, which takes the alert itself (its level
and rule for the sink's filters, its position and time for silences). The alert is almost
always among those delivery just read, so a bounded cache of recent alerts answers; an older
one is found by reading the alerts of a window of positions before the notice, widened a few
times (as `ItemLookup` finds items), never the whole log.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from ..events import AlertRaised
from ..log import EventLog, Record

__all__ = ["RaisedLookup"]

_ALERT = ("AlertRaised",)


class RaisedLookup:
    """Find a raised alert by id (thread-safe: shared by every sink's delivery thread).

    Args:
        log: the log.
        window: positions read per step back.
        max_scan: positions looked back at most.
        cache_size: recent alerts remembered.
    """

    def __init__(
        self,
        log: EventLog,
        *,
        window: int = 5000,
        max_scan: int = 200_000,
        cache_size: int = 20_000,
    ) -> None:
        self.log = log
        self.window = max(1, window)
        self.max_scan = max(self.window, max_scan)
        self.cache_size = max(1, cache_size)
        self._cache: OrderedDict[str, tuple[int, datetime, AlertRaised]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, record: Record, alert: AlertRaised) -> None:
        """Keep `alert` (stored as `record`) for a later `find`."""
        with self._lock:
            self._put(record, alert)

    def _put(self, record: Record, alert: AlertRaised) -> None:
        self._cache[alert.alert_id] = (record.position, record.recorded_time, alert)
        self._cache.move_to_end(alert.alert_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def find(self, alert_id: str, before: int) -> tuple[int, datetime, AlertRaised] | None:
        """(position, time raised, alert) of alert `alert_id`, looked for before position
        `before`; None when it is not within `max_scan` positions (a suppressed repeat has no
        `AlertRaised`)."""
        with self._lock:
            hit = self._cache.get(alert_id)
            if hit is not None:
                return hit
            end = before
            while end > 0 and before - end < self.max_scan:
                start = max(0, end - self.window)
                for record in self.log.read_page(start, end - start, _ALERT):
                    if record.position < end:
                        alert = record.event()
                        if isinstance(alert, AlertRaised):
                            self._put(record, alert)
                hit = self._cache.get(alert_id)
                if hit is not None:
                    return hit
                end = start
        return None

"""`ItemLookup`: the headline and link of an alert's item, found without scanning the log.

An `AlertRaised` names its items by id only. The evaluator appends an alert soon after the
items it is about, so the item is almost always among the records just before the alert: the
lookup reads the `ItemReceived` records of a window of positions before the alert (one ranged
read), remembers each item's headline and link in a bounded cache, and widens the window a few
times when the item is older (a correlation over yesterday's items, an ingest of a large file).
An item further back than `max_scan` positions is given up on: the line then shows the rule's
title instead. The cost per alert is a cache hit, or a few ranged reads on a miss; never a scan
of the whole log.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from ..events import AlertRaised, ItemReceived
from ..log import EventLog, Record
from ._sink import ItemRef

__all__ = ["ItemLookup"]

_ITEM = ("ItemReceived",)


class ItemLookup:
    """Find the item an alert is about (see the module docstring). Thread-safe: one lookup is
    shared by every sink's delivery thread.

    Args:
        log: the log the alerts and items are in.
        window: positions read per step back from the alert.
        max_scan: positions looked back at most, over all steps.
        cache_size: items remembered (headline and link only).
    """

    def __init__(
        self,
        log: EventLog,
        *,
        window: int = 2000,
        max_scan: int = 50_000,
        cache_size: int = 20_000,
    ) -> None:
        self.log = log
        self.window = max(1, window)
        self.max_scan = max(self.window, max_scan)
        self.cache_size = max(1, cache_size)
        self._cache: OrderedDict[str, ItemRef] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, alert: AlertRaised, position: int) -> ItemRef | None:
        """The headline and link of `alert`'s latest item found (the alert is at `position`),
        or None when none of its items lies within `max_scan` positions before it."""
        wanted = list(reversed(alert.item_ids))
        if not wanted:
            return None
        with self._lock:
            hit = self._cached(wanted)
            if hit is not None:
                return hit
            end = position
            while end > 0 and position - end < self.max_scan:
                start = max(0, end - self.window)
                self._remember(self.log.read_page(start, end - start, _ITEM))
                hit = self._cached(wanted)
                if hit is not None:
                    return hit
                end = start
        return None

    def _cached(self, wanted: list[str]) -> ItemRef | None:
        for item_id in wanted:
            ref = self._cache.get(item_id)
            if ref is not None:
                self._cache.move_to_end(item_id)
                return ref
        return None

    def _remember(self, records: Sequence[Record]) -> None:
        for record in records:
            item = record.event()
            if isinstance(item, ItemReceived):
                self._cache[item.item_id] = ItemRef(item.title, item.url)
                self._cache.move_to_end(item.item_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

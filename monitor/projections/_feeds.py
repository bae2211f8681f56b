"""Built-in projections about feeds: `FeedStatus` (``feed_status``) and `ItemsByFeedDay`
(``items_by_feed_day``).

`feed_status` is what the watcher reads to resume after a restart (validators for conditional
GET, consecutive failures for backoff, disabled feeds), so its value shape is a contract: the
feeds package builds ``FeedState(**value)`` from it. Change a key only with a version bump and a
matching change there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from ..events import (
    Event,
    FeedDisabled,
    FeedFailed,
    FeedMoved,
    FeedPolled,
    ItemReceived,
    event_time,
)
from ..log import EventLog, Record
from ._base import (
    Projection,
    StateView,
    iter_from,
    iter_scan,
    key,
    sortable_time,
    unkey,
    utc_day,
)

__all__ = ["FEED_STATUS_KEYS", "FeedStatus", "ItemsByFeedDay"]

#: The exact keys of a `feed_status` value, in a readable order.
FEED_STATUS_KEYS = (
    "feed_id",
    "url",
    "moved_from",
    "last_poll",
    "last_success",
    "last_status",
    "etag",
    "last_modified",
    "items",
    "polls",
    "failures",
    "last_error",
    "last_error_kind",
    "retry_after",
    "disabled",
    "disabled_reason",
    "degraded",
    "problem",
)


def _new_feed(feed_id: str, url: str) -> dict[str, Any]:
    return {
        "feed_id": feed_id,
        "url": url,
        "moved_from": None,
        "last_poll": None,
        "last_success": None,
        "last_status": None,
        "etag": None,
        "last_modified": None,
        "items": 0,
        "polls": 0,
        "failures": 0,
        "last_error": None,
        "last_error_kind": None,
        "retry_after": None,
        "disabled": False,
        "disabled_reason": None,
        "degraded": False,
        "problem": None,
    }


def _polled_at(s: dict[str, Any], url: str) -> dict[str, Any]:
    """Record that `url` was polled: a poll elsewhere than the moved-to address means the feed
    list was edited, so the move no longer applies."""
    if url != s["url"]:
        s["url"] = url
        s["moved_from"] = None
    return s


class FeedStatus(Projection):
    """Per feed: where it lives now, how its last polls went, and whether it is disabled.

    Key ``feed:<feed_id>``; value: an object with exactly `FEED_STATUS_KEYS`:

    * ``url``: the feed's current address: the one last polled, or where a `FeedMoved` sent it.
    * ``moved_from``: the address the feed had before its first permanent redirect (None if it
      never moved, or if a later poll used another address, e.g. after an edit by hand). The
      poller follows ``url`` only while the feed list still names ``moved_from``.
    * ``last_poll`` / ``last_success``: times (UTC ISO-8601) of the last attempt and of the last
      successful fetch; ``last_status`` the HTTP status of the last attempt (None if unknown).
    * ``etag`` / ``last_modified``: validators for the next conditional GET. A 304 keeps the ones
      held unless it sends new ones; a 200 replaces them.
    * ``items``: new items reported over all polls; ``polls``: attempts, failed ones included,
      and the unchanged polls a `FeedPolled` folds in (``unchanged_polls``: polls that changed
      nothing are written as a periodic heartbeat, so ``last_poll`` and ``polls`` lag a
      running watcher by at most one heartbeat interval); ``failures``: consecutive failures,
      reset to 0 by a successful poll.
    * ``last_error`` / ``last_error_kind``: the most recent failure (kept after recovery, for
      diagnosis); ``retry_after``: the server's requested delay from the last failure, cleared
      by a success.
    * ``disabled`` / ``disabled_reason``: set by `FeedDisabled`; a later successful poll (a
      feed re-enabled by hand) clears them.
    * ``degraded`` / ``problem``: whether the last successful poll was a malformed feed ingested
      in part, and what was wrong.
    """

    name: ClassVar[str] = "feed_status"
    version: ClassVar[int] = 2
    types: ClassVar[frozenset[str]] = frozenset(
        {"FeedPolled", "FeedFailed", "FeedMoved", "FeedDisabled"}
    )

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """Fold one feed event into its feed's status object."""
        k = key("feed", event.feed_id)  # type: ignore[attr-defined]
        if isinstance(event, FeedPolled):
            s = _polled_at(state.get(k) or _new_feed(event.feed_id, event.url), event.url)
            when = sortable_time(event.polled_at)
            s["last_poll"] = when
            s["last_success"] = when
            s["last_status"] = event.status
            if event.status != 304 or event.etag is not None:
                s["etag"] = event.etag
            if event.status != 304 or event.last_modified is not None:
                s["last_modified"] = event.last_modified
            s["items"] += event.new_items
            s["polls"] += 1 + event.unchanged_polls
            s["failures"] = 0
            s["retry_after"] = None
            s["disabled"] = False
            s["disabled_reason"] = None
            s["degraded"] = event.degraded
            s["problem"] = event.problem
        elif isinstance(event, FeedFailed):
            s = _polled_at(state.get(k) or _new_feed(event.feed_id, event.url), event.url)
            s["last_poll"] = sortable_time(event.failed_at)
            s["last_status"] = event.status
            s["polls"] += 1
            s["failures"] += 1
            s["last_error"] = event.message
            s["last_error_kind"] = event.error_kind
            s["retry_after"] = event.retry_after
        elif isinstance(event, FeedMoved):
            s = state.get(k) or _new_feed(event.feed_id, event.old_url)
            s["moved_from"] = s["moved_from"] or event.old_url
            s["url"] = event.new_url
        elif isinstance(event, FeedDisabled):
            s = state.get(k) or _new_feed(event.feed_id, event.url)
            s["disabled"] = True
            s["disabled_reason"] = event.reason
        else:  # pragma: no cover - the runner passes only `types`
            return
        state.put(k, s)

    @classmethod
    def get(cls, log: EventLog, feed_id: str) -> dict[str, Any] | None:
        """Return the status object of `feed_id`, None if no event about it was folded."""
        return log.projection_get(cls.name, key("feed", feed_id))

    @classmethod
    def all(cls, log: EventLog) -> Iterator[dict[str, Any]]:
        """Stream every feed's status object, by feed id, a page of keys at a time."""
        for _, value in iter_scan(log, cls.name, "feed:"):
            yield value


class ItemsByFeedDay(Projection):
    """How many items each feed delivered per UTC day (of the item's event time: published,
    else received), with per-feed totals and per-day totals over all feeds.

    Keys: ``day:<feed_id>:<YYYY-MM-DD>`` -> count; ``total:<feed_id>`` -> count;
    ``all:<YYYY-MM-DD>`` -> count over every feed. Each stored item counts once (the log stores
    an item once per id). Three integer keys per item keep the fold cheap; the first and last
    day of a feed are read from its day keys when asked.
    """

    name: ClassVar[str] = "items_by_feed_day"
    version: ClassVar[int] = 1
    types: ClassVar[frozenset[str]] = frozenset({"ItemReceived"})

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """Count one item on its feed's day, its feed's total and the day's total."""
        assert isinstance(event, ItemReceived)
        day = utc_day(event_time(event))
        day_key = key("day", event.feed_id, day)
        state.put(day_key, state.get(day_key, 0) + 1)
        all_key = key("all", day)
        state.put(all_key, state.get(all_key, 0) + 1)
        total_key = key("total", event.feed_id)
        state.put(total_key, state.get(total_key, 0) + 1)

    @classmethod
    def days(
        cls, log: EventLog, feed_id: str, *, since: str | None = None, until: str | None = None
    ) -> list[tuple[str, int]]:
        """Return ``(day, count)`` for `feed_id`, oldest first, days within [since, until]
        (``YYYY-MM-DD``, both inclusive, both optional)."""
        prefix = key("day", feed_id) + ":"
        out = []
        for k, count in iter_from(log, cls.name, prefix, since and prefix + since):
            day = k[len(prefix) :]
            if until is not None and day > until:
                break
            out.append((day, count))
        return out

    @classmethod
    def per_day(
        cls, log: EventLog, *, since: str | None = None, until: str | None = None
    ) -> list[tuple[str, int]]:
        """Return ``(day, count)`` over all feeds, oldest first, within [since, until]."""
        out = []
        for k, count in iter_from(log, cls.name, "all:", since and "all:" + since):
            day = k[4:]
            if until is not None and day > until:
                break
            out.append((day, count))
        return out

    @classmethod
    def total(cls, log: EventLog, feed_id: str) -> dict[str, Any] | None:
        """Return ``{"feed_id", "items", "first_day", "last_day"}`` for `feed_id`, or None."""
        items = log.projection_get(cls.name, key("total", feed_id))
        return None if items is None else cls._summary(log, feed_id, items)

    @classmethod
    def totals(cls, log: EventLog) -> Iterator[dict[str, Any]]:
        """Stream every feed's totals (as `total` gives them), by feed id."""
        for k, items in iter_scan(log, cls.name, "total:"):
            yield cls._summary(log, unkey(k[len("total:") :]), items)

    @classmethod
    def _summary(cls, log: EventLog, feed_id: str, items: int) -> dict[str, Any]:
        prefix = key("day", feed_id) + ":"
        first = log.projection_scan(cls.name, prefix, limit=1)
        last = log.projection_scan(cls.name, prefix, limit=1, reverse=True)
        return {
            "feed_id": feed_id,
            "items": items,
            "first_day": first[0][0][len(prefix) :] if first else None,
            "last_day": last[0][0][len(prefix) :] if last else None,
        }

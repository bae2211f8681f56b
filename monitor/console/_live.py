"""Live alerts for the browser: one thread follows the log and fans new alerts out to every
open Server-Sent Events stream.

One follower per console, not one per browser tab: the thread blocks in `EventLog.wait` (the
log's wait/notify API: at once for appends from this process, by polling the head for appends
from others), reads the new `AlertRaised` records a page at a time and hands a small message to
each subscriber. Each subscriber has a bounded queue: a tab that does not keep up (a laptop
asleep on the shift desk) is not allowed to grow memory; its queue is replaced by one
`OVERFLOW` marker and the stream tells the page to reload, which then shows the latest alerts
from the timeline.

Nothing is lost between a page load and its stream: the page carries the log position it was
rendered at, and a new stream first replays the alerts after it (at most `BACKLOG`) up to the
position the follower had reached when the stream subscribed; the follower publishes a batch
and moves its position under one lock, so every alert is sent exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from ..events import AlertRaised
from ..log import EventLog, Record

__all__ = ["BACKLOG", "OVERFLOW", "Broadcaster", "Subscription", "alert_message", "read_alerts"]

log = logging.getLogger("monitor.console")

#: Put in a subscriber's queue, alone, when it overflowed: the stream asks the page to reload.
OVERFLOW: dict[str, Any] = {"overflow": True}
#: At most this many missed alerts are replayed to a new stream; past that, the page reloads.
BACKLOG = 200


def alert_message(
    record: Record,
    clean: Callable[[str], str] = str,
    headline: Callable[[AlertRaised], str] = lambda evt: "",
) -> dict[str, Any]:
    """What a stream sends for one stored `AlertRaised`: its id, rule, level, title, headline
    (`headline(alert)`), time, places and log position (`clean` neutralises the feed's
    text)."""
    evt = record.event()
    assert isinstance(evt, AlertRaised)
    return {
        "headline": clean(headline(evt)),
        "position": record.position,
        "alert_id": evt.alert_id,
        "rule_id": evt.rule_id,
        "level": evt.level,
        "title": clean(evt.title),
        "event_time": evt.event_time.isoformat().replace("+00:00", "Z"),
        "places": [clean(e.split(":", 1)[1]) for e in evt.entities if e.startswith("place:")],
    }


def read_alerts(
    event_log: EventLog,
    after: int,
    until: int,
    clean: Callable[[str], str] = str,
    headline: Callable[[AlertRaised], str] = lambda evt: "",
) -> Iterator[dict[str, Any]]:
    """The messages of the alerts stored at positions in (`after`, `until`], in log order."""
    for record in event_log.read(after, types=("AlertRaised",), until=until):
        yield alert_message(record, clean, headline)


@attrs.define(eq=False)
class Subscription:
    """One stream's queue, the loop that owns it, and the position it starts after."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any]]
    start: int


class Broadcaster:
    """Follows `event_log` in a daemon thread and offers each new alert to every subscriber.

    Args:
        event_log: the log to follow (shared, thread-safe).
        queue_size: the most messages one subscriber may have waiting.
        clean: applied to the feed's text in each message.
        headline: the headline of an alert (its item's title), for each message.
        wait: how long one `EventLog.wait` blocks before it checks for a stop.
    """

    def __init__(
        self,
        event_log: EventLog,
        *,
        queue_size: int = 100,
        clean: Callable[[str], str] = str,
        headline: Callable[[AlertRaised], str] = lambda evt: "",
        wait: float = 0.5,
    ) -> None:
        self.log = event_log
        self.queue_size = queue_size
        self.clean = clean
        self.headline = headline
        self._wait = wait
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._position: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def subscribers(self) -> int:
        """How many streams are open."""
        return len(self._subscribers)

    def start(self) -> None:
        """Start following from the log's head (idempotent)."""
        with self._lock:
            if self._thread is not None:
                return
            self._position = self.log.head()
            self._stop.clear()
            self._thread = threading.Thread(target=self._follow, name="console-live", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and end every stream (each gets `OVERFLOW`, i.e. "reload")."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)
        with self._lock:
            for sub in list(self._subscribers):
                self._post(sub, _overflow, sub.queue)

    def subscribe(self) -> Subscription:
        """Register a stream in the running event loop; its `start` is the position after
        which it receives alerts from the queue (earlier ones: `read_alerts`)."""
        self.start()
        loop = asyncio.get_running_loop()
        with self._lock:
            sub = Subscription(loop, asyncio.Queue(self.queue_size), self._position or 0)
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a stream (it closed)."""
        with self._lock:
            self._subscribers.discard(sub)

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # a broken read must not end the live page for good
                log.exception("console: following the log failed; retrying")
                self._stop.wait(2.0)

    def _step(self) -> None:
        position = self._position or 0
        if not self.log.wait(position, self._wait):
            return
        head = self.log.head()
        messages = list(read_alerts(self.log, position, head, self.clean, self.headline))
        with self._lock:  # publish and move on together: see the module docstring
            for sub in list(self._subscribers):
                for message in messages:
                    if not self._post(sub, _offer, sub.queue, message):
                        break
            self._position = head

    def _post(self, sub: Subscription, function: Callable[..., None], *args: Any) -> bool:
        """Run `function(*args)` in `sub`'s loop; forget `sub` when its loop has closed (a
        stream whose server stopped without unsubscribing). Call with the lock held."""
        try:
            sub.loop.call_soon_threadsafe(function, *args)
        except RuntimeError:  # the loop is closed
            self._subscribers.discard(sub)
            return False
        return True


def _offer(queue: asyncio.Queue[dict[str, Any]], message: dict[str, Any]) -> None:
    """Put `message` in `queue`, or replace its content by `OVERFLOW` when it is full."""
    try:
        queue.put_nowait(message)
    except asyncio.QueueFull:
        _overflow(queue)


def _overflow(queue: asyncio.Queue[dict[str, Any]]) -> None:
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(OVERFLOW)

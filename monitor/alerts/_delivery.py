"""`Delivery`: a log subscriber per sink that hands every `AlertRaised` to the sink.

Each sink has its own checkpoint in the log (``deliver:<sink name>``), advanced only after the
sink accepted the alerts before it. So delivery is at-least-once: after a crash, the alerts of
the unfinished page are delivered again (receivers dedupe on the alert id), and none is ever
skipped. A sink that fails is retried with exponential backoff (by the injected clock) from
the alert that failed, in order; the other sinks go on undisturbed; when the failing sink comes
back it catches up on everything it missed. `AlertSuppressed` records (throttled repeats) are
never read, so never delivered.

Silences are applied here, not when alerts are raised: an alert a silence mutes stays in the
log and is skipped by every sink alike (see `SilenceBook` for the rule). A sink with ``group:``
holds its alerts until their group's digest is due (see `Grouper`); its checkpoint then stays
just before the oldest alert still held, so a crash loses none, and a crash between sending a
digest and moving the checkpoint sends that digest again (at-least-once, as for single
alerts; a digest sent again has the same ``digest_id`` when it holds the same alerts). A sink
with ``send_resolved`` gets a `Resolved` notice for an `AlertSuperseded` whose alert it
received; an alert superseded while it waits in a group is dropped from the digest instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from ..errors import SinkError
from ..events import AlertRaised, AlertSuperseded
from ..log import EventLog, Record
from ._grouping import Digest, Grouper
from ._items import ItemLookup
from ._resolved import RaisedLookup
from ._silences import SILENCE_TYPES, SilenceBook
from ._sink import DeliveryContext, Resolved, Sink

__all__ = ["Backoff", "Delivery", "DeliveryReport", "SinkStatus"]

logger = logging.getLogger(__name__)
#: What delivery reads: alerts, what ends them, and the silences, in log order.
_READ = ("AlertRaised", "AlertSuperseded", *SILENCE_TYPES)
#: The most alerts a grouped sink holds in memory; it reads no further until digests go out.
MAX_HELD = 10_000


@attrs.frozen
class Backoff:
    """Retry delays: `base` seconds after the first failure, times `factor` per further
    failure, never more than `cap`."""

    base: float = 2.0
    factor: float = 2.0
    cap: float = 300.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after `failures` consecutive failures (>= 1)."""
        return min(self.cap, self.base * self.factor ** max(0, failures - 1))


@attrs.frozen
class DeliveryReport:
    """What one `run` did: deliveries that succeeded, and the sinks now waiting to retry."""

    delivered: int = 0
    failing: tuple[str, ...] = ()


@attrs.define
class SinkStatus:
    """Where one sink is: its checkpoint, counts, and its retry state when failing."""

    name: str
    position: int = 0
    delivered: int = 0
    skipped: int = 0
    silenced: int = 0
    held: int = 0
    digests: int = 0
    resolved: int = 0
    failures: int = 0
    next_attempt: datetime | None = None
    last_error: str | None = None


class Delivery:
    """Deliver the log's alerts to `sinks` (see the module docstring).

    `run` catches every due sink up and returns; `run_forever` gives each sink its own
    thread so a slow or failing sink never delays the others.
    """

    def __init__(
        self,
        log: EventLog,
        sinks: Sequence[Sink],
        *,
        clock: Callable[[], datetime],
        page_size: int = 200,
        backoff: Backoff | None = None,
        items: ItemLookup | None = None,
        on_result: Callable[[str, bool], object] | None = None,
        silences: SilenceBook | None = None,
        raised: RaisedLookup | None = None,
    ) -> None:
        names = [s.name for s in sinks]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ValueError(f"two sinks are named {duplicate!r}; names must be unique")
        self.log = log
        self.sinks = tuple(sinks)
        self.clock = clock
        self.page_size = page_size
        self.backoff = backoff or Backoff()
        #: Finds the headline and link for sinks that show them (`Sink.uses_item`).
        self.items = items or ItemLookup(log)
        #: Called with (sink name, delivered?) after every attempt: a metrics hook, kept cheap.
        self.on_result = on_result
        #: The silences (shared by the sinks of a `DeliveryService`).
        self.silences = silences or SilenceBook(log)
        #: Finds the alert a resolved notice is about.
        self.raised = raised or RaisedLookup(log)
        self._status = {
            s.name: SinkStatus(s.name, log.get_checkpoint(self.checkpoint_name(s))) for s in sinks
        }
        # How far each sink has read: its checkpoint, or past it while alerts wait in groups.
        self._cursor = {name: st.position for name, st in self._status.items()}
        self._groupers = {s.name: Grouper(s.settings.group) for s in sinks if s.settings.group}

    @staticmethod
    def checkpoint_name(sink: Sink) -> str:
        """The log checkpoint that records how far `sink` has been delivered."""
        return f"deliver:{sink.name}"

    def status(self) -> list[SinkStatus]:
        """A snapshot of every sink's status, in sink order."""
        return [attrs.evolve(self._status[s.name]) for s in self.sinks]

    def run(self) -> DeliveryReport:
        """Deliver every pending alert to every sink that is not waiting to retry."""
        delivered = sum(self.drain(sink) for sink in self.sinks)
        failing = tuple(s.name for s in self.sinks if self._status[s.name].failures)
        return DeliveryReport(delivered, failing)

    def drain(self, sink: Sink, *, halt: threading.Event | None = None) -> int:
        """Catch `sink` up with the log, or stop at its first failure; return deliveries (the
        alerts sent, alone or in digests).

        When `halt` is set, stop before the next alert and commit the checkpoint up to the
        last one delivered (a bounded shutdown)."""
        state = self._status[sink.name]
        if state.next_attempt is not None and self.clock() < state.next_attempt:
            return 0
        grouper = self._groupers.get(sink.name)
        delivered = 0
        # Every record up to `head` is stored already, so a page shorter than asked for has
        # seen all of them: the cursor then moves over the records after the last alert too.
        # Otherwise each run would scan again every item since the last alert (a quiet rule
        # pack's whole day, at every poll), as projections already avoid (`_catch_up`).
        head = self.log.head()
        while True:
            if grouper is not None:
                sent, ok = self._flush(sink, state, grouper, halt)
                delivered += sent
                if not ok or grouper.held() >= MAX_HELD:
                    return delivered
            page = self.log.read_page(self._cursor[sink.name], self.page_size, _READ)
            if not page:
                self._cursor[sink.name] = max(self._cursor[sink.name], head)
                self._commit(sink, state)
                return delivered
            for record in page:
                if halt is not None and halt.is_set():
                    self._commit(sink, state)
                    return delivered
                if record.type in SILENCE_TYPES:
                    self.silences.observe(record)
                else:
                    sent, ok = self._one(sink, state, grouper, record)
                    delivered += sent
                    if not ok:
                        return delivered
                self._cursor[sink.name] = record.position
            if len(page) < self.page_size:
                self._cursor[sink.name] = max(self._cursor[sink.name], head)
            self._commit(sink, state)

    def _one(
        self, sink: Sink, state: SinkStatus, grouper: Grouper | None, record: Record
    ) -> tuple[int, bool]:
        """Handle one alert or superseded record: (deliveries, whether to go on)."""
        event = record.event()
        if isinstance(event, AlertSuperseded):
            return self._superseded(sink, state, grouper, record, event)
        if not isinstance(event, AlertRaised):
            return 0, True
        self.raised.remember(record, event)
        if not sink.settings.wants(event):
            state.skipped += 1
            return 0, True
        if self.silences.muting(event, record.position, record.recorded_time) is not None:
            state.silenced += 1
            return 0, True
        if grouper is not None:
            grouper.add(record.position, event, record.recorded_time)
            state.held = grouper.held()
            return 0, True
        item = self.items.find(event, record.position) if sink.uses_item else None
        context = DeliveryContext(record.position, state.failures + 1, self.clock(), item=item)
        return self._send(sink, state, lambda: sink.deliver(event, context), 1)

    def _superseded(
        self,
        sink: Sink,
        state: SinkStatus,
        grouper: Grouper | None,
        record: Record,
        event: AlertSuperseded,
    ) -> tuple[int, bool]:
        if grouper is not None and grouper.discard(event.alert_id):
            state.held = grouper.held()
            return 0, True
        if not sink.settings.send_resolved:
            return 0, True
        found = self.raised.find(event.alert_id, record.position)
        if found is None:  # a suppressed repeat, or an alert too far back to matter
            return 0, True
        position, raised, alert = found
        if not sink.settings.wants(alert) or self.silences.muting(alert, position, raised):
            return 0, True  # the sink never received it: nothing to resolve
        context = DeliveryContext(record.position, state.failures + 1, self.clock())
        notice = Resolved(alert, event)
        sent, ok = self._send(sink, state, lambda: sink.deliver_resolved(notice, context), 0)
        if ok:
            state.resolved += 1
        return sent, ok

    def _flush(
        self, sink: Sink, state: SinkStatus, grouper: Grouper, halt: threading.Event | None
    ) -> tuple[int, bool]:
        """Send every digest that is due; (alerts sent, whether all went out)."""
        sent = 0
        now = self.clock()
        for digest, positions in grouper.due(now):
            if halt is not None and halt.is_set():
                break
            items = self._digest_items(sink, digest, positions)
            context = DeliveryContext(positions[-1], state.failures + 1, now, items=items)
            count, ok = self._send(
                sink, state, lambda d=digest, c=context: sink.deliver_digest(d, c), len(positions)
            )
            if not ok:
                return sent, False
            grouper.sent(digest, now)
            state.digests += 1
            state.held = grouper.held()
            sent += count
            self._commit(sink, state)
        return sent, True

    def _digest_items(self, sink: Sink, digest: Digest, positions: tuple[int, ...]) -> tuple:
        if not sink.uses_item:
            return ()
        return tuple(self.items.find(a, p) for a, p in zip(digest.alerts, positions, strict=True))

    def _send(
        self, sink: Sink, state: SinkStatus, send: Callable[[], None], count: int
    ) -> tuple[int, bool]:
        """Call `send`; on success count `count` deliveries, on failure schedule a retry."""
        try:
            send()
        except Exception as exc:  # a sink bug must not stop delivery: retry it later
            self._failed(sink, state, exc)
            self._observe(sink, False)
            return 0, False
        self._observe(sink, True)
        state.delivered += count
        if state.failures:
            logger.info("sink %s recovered after %d failures", sink.name, state.failures)
        state.failures, state.next_attempt, state.last_error = 0, None, None
        return count, True

    def _observe(self, sink: Sink, ok: bool) -> None:
        if self.on_result is not None:
            try:
                self.on_result(sink.name, ok)
            except Exception:  # a metrics hook must never stop delivery
                logger.exception("delivery hook failed")

    def _commit(self, sink: Sink, state: SinkStatus) -> None:
        """Move the checkpoint to what was read, but never past an alert still held."""
        position = self._cursor[sink.name]
        grouper = self._groupers.get(sink.name)
        oldest = grouper.oldest() if grouper is not None else None
        if oldest is not None:
            position = min(position, oldest - 1)
        if position != state.position:
            self.log.set_checkpoint(self.checkpoint_name(sink), position)
            state.position = position

    def next_due(self, sink: Sink) -> datetime | None:
        """When `sink`'s next digest falls due (None: no alert waits in a group)."""
        grouper = self._groupers.get(sink.name)
        return grouper.next_due() if grouper is not None else None

    def _failed(self, sink: Sink, state: SinkStatus, exc: Exception) -> None:
        self._commit(sink, state)
        state.failures += 1
        delay = self.backoff.delay(state.failures)
        state.next_attempt = self.clock() + timedelta(seconds=delay)
        state.last_error = (
            str(exc) if isinstance(exc, SinkError) else f"{type(exc).__name__}: {exc}"
        )
        logger.warning(
            "sink %s failed (attempt %d), retrying in %.0fs: %s",
            sink.name,
            state.failures,
            delay,
            state.last_error,
        )

    def run_forever(self, stop: threading.Event, *, poll_interval: float = 0.5) -> None:
        """Deliver until `stop` is set: one thread per sink, each following the log."""
        threads = [
            threading.Thread(
                target=self._follow, args=(sink, stop, poll_interval), name=f"deliver:{sink.name}"
            )
            for sink in self.sinks
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _follow(self, sink: Sink, stop: threading.Event, poll_interval: float) -> None:
        self.follow(sink, stop, poll_interval=poll_interval)

    def follow(
        self,
        sink: Sink,
        stop: threading.Event,
        *,
        poll_interval: float = 0.5,
        finish: bool = False,
        halt: threading.Event | None = None,
    ) -> None:
        """Deliver to `sink` as the log grows, until `stop` is set (run it in a thread).

        With `finish`, once `stop` is set the sink is caught up with the log one last time
        (unless it is waiting to retry), so what was raised before the stop is delivered;
        setting `halt` cuts that short before the next alert, keeping the checkpoint exact.
        """
        state = self._status[sink.name]
        while not stop.is_set():
            head = self.log.head()  # before draining, so nothing appended meanwhile is missed
            try:
                self.drain(sink, halt=halt)
            except Exception:  # the log itself failed: log it, keep the thread alive
                logger.exception("delivery to %s could not read the log", sink.name)
                stop.wait(poll_interval)
                continue
            due = self.next_due(sink)
            if state.next_attempt is not None:
                wait = (state.next_attempt - self.clock()).total_seconds()
                stop.wait(max(0.0, min(wait, poll_interval)))
            elif due is not None and due <= self.clock():
                continue  # a digest fell due while draining: send it now
            else:
                timeout = poll_interval
                if due is not None:
                    timeout = min(timeout, (due - self.clock()).total_seconds())
                self.log.wait(max(self._cursor[sink.name], head), max(0.0, timeout))
        if finish and state.next_attempt is None and not (halt is not None and halt.is_set()):
            try:
                self.drain(sink, halt=halt)
            except Exception:
                logger.exception("delivery to %s could not read the log", sink.name)

    def close(self) -> None:
        """Close every sink."""
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                logger.exception("closing sink %s failed", sink.name)

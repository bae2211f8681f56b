"""`Delivery`: a log subscriber per sink that hands every `AlertRaised` to the sink.

Each sink has its own checkpoint in the log (``deliver:<sink name>``), advanced only after the
sink accepted the alerts before it. So delivery is at-least-once: after a crash, the alerts of
the unfinished page are delivered again (receivers dedupe on the alert id), and none is ever
skipped. A sink that fails is retried with exponential backoff (by the injected clock) from
the alert that failed, in order; the other sinks go on undisturbed; when the failing sink comes
back it catches up on everything it missed. `AlertSuppressed` records (throttled repeats) are
never read, so never delivered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from ..errors import SinkError
from ..events import AlertRaised
from ..log import EventLog
from ._items import ItemLookup
from ._sink import DeliveryContext, Sink

__all__ = ["Backoff", "Delivery", "DeliveryReport", "SinkStatus"]

logger = logging.getLogger(__name__)
_ALERT = ("AlertRaised",)


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
        self._status = {
            s.name: SinkStatus(s.name, log.get_checkpoint(self.checkpoint_name(s))) for s in sinks
        }

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
        """Catch `sink` up with the log, or stop at its first failure; return deliveries.

        When `halt` is set, stop before the next alert and commit the checkpoint up to the
        last one delivered (a bounded shutdown)."""
        state = self._status[sink.name]
        if state.next_attempt is not None and self.clock() < state.next_attempt:
            return 0
        delivered = 0
        while True:
            page = self.log.read_page(state.position, self.page_size, _ALERT)
            if not page:
                return delivered
            done = state.position
            for record in page:
                if halt is not None and halt.is_set():
                    self._commit(sink, state, done)
                    return delivered
                alert = record.event()
                if not isinstance(alert, AlertRaised) or not sink.settings.wants(alert):
                    state.skipped += 1
                    done = record.position
                    continue
                item = self.items.find(alert, record.position) if sink.uses_item else None
                context = DeliveryContext(
                    record.position, state.failures + 1, self.clock(), item=item
                )
                try:
                    sink.deliver(alert, context)
                except Exception as exc:  # a sink bug must not stop delivery: retry it later
                    self._failed(sink, state, done, exc)
                    self._observe(sink, False)
                    return delivered
                self._observe(sink, True)
                delivered += 1
                state.delivered += 1
                done = record.position
                if state.failures:
                    logger.info("sink %s recovered after %d failures", sink.name, state.failures)
                state.failures, state.next_attempt, state.last_error = 0, None, None
            self._commit(sink, state, done)

    def _observe(self, sink: Sink, ok: bool) -> None:
        if self.on_result is not None:
            try:
                self.on_result(sink.name, ok)
            except Exception:  # a metrics hook must never stop delivery
                logger.exception("delivery hook failed")

    def _commit(self, sink: Sink, state: SinkStatus, position: int) -> None:
        if position != state.position:
            self.log.set_checkpoint(self.checkpoint_name(sink), position)
            state.position = position

    def _failed(self, sink: Sink, state: SinkStatus, done: int, exc: Exception) -> None:
        self._commit(sink, state, done)
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
            if state.next_attempt is not None:
                wait = (state.next_attempt - self.clock()).total_seconds()
                stop.wait(max(0.0, min(wait, poll_interval)))
            else:
                self.log.wait(max(state.position, head), poll_interval)
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

"""`DeliveryService`: `Delivery` in background threads beside a long-running process (the
watcher), with reloading of the sink set and a bounded, draining shutdown.

Each sink gets its own `Delivery` and thread that follows the log (as `Delivery.run_forever`
does), so a slow or failing sink never holds up another, and a reload that replaces one sink
leaves the others running. Checkpoints stay in the log, one per sink (``deliver:<name>``): a
sink stopped cleanly, by a reload or a shutdown, has its checkpoint at the last alert it
delivered, and whoever starts it next (this process after a reload, the next process after a
restart) continues right after it, delivering nothing twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import attrs

from ..log import EventLog
from ._delivery import Backoff, Delivery, SinkStatus
from ._items import ItemLookup
from ._resolved import RaisedLookup
from ._silences import SilenceBook
from ._sink import Sink

__all__ = ["DeliveryService"]

logger = logging.getLogger(__name__)

#: How long a sink stopped by `halt` may take to finish the alert it is sending.
_HALT_GRACE = 2.0


@attrs.define
class _Runner:
    sink: Sink
    delivery: Delivery
    stop: threading.Event = attrs.field(factory=threading.Event)
    halt: threading.Event = attrs.field(factory=threading.Event)
    thread: threading.Thread | None = None


def _same(a: Sink, b: Sink) -> bool:
    return type(a) is type(b) and a.settings == b.settings


class DeliveryService:
    """Deliver the log's alerts to `sinks` from background threads (see the module docstring).

    Call `start` once, `replace` to swap in a reloaded sink set, and `shutdown` at the end. The
    service owns the sinks it is given and closes them when they stop.

    Args:
        log: the event log (shared with the rest of the process; it is thread-safe).
        sinks: where to deliver.
        clock: the delivery clock (retry times, the e-mail Date).
        on_result: called with (sink name, delivered?) after every attempt (metrics).
        poll_interval: the longest a follower waits for new records before looking again.
    """

    def __init__(
        self,
        log: EventLog,
        sinks: Sequence[Sink],
        *,
        clock: Callable[[], datetime],
        backoff: Backoff | None = None,
        on_result: Callable[[str, bool], object] | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        names = [s.name for s in sinks]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ValueError(f"two sinks are named {duplicate!r}; names must be unique")
        self.log = log
        self.clock = clock
        self.backoff = backoff
        self.on_result = on_result
        self.poll_interval = poll_interval
        self.items = ItemLookup(log)
        self.silences = SilenceBook(log)
        self.raised = RaisedLookup(log)
        self._lock = threading.Lock()
        self._started = False
        self._runners: dict[str, _Runner] = {s.name: self._runner(s) for s in sinks}

    def _runner(self, sink: Sink) -> _Runner:
        delivery = Delivery(
            self.log,
            [sink],
            clock=self.clock,
            backoff=self.backoff,
            items=self.items,
            on_result=self.on_result,
            silences=self.silences,
            raised=self.raised,
        )
        return _Runner(sink, delivery)

    @property
    def sinks(self) -> list[Sink]:
        """The sinks being delivered to now."""
        with self._lock:
            return [r.sink for r in self._runners.values()]

    def status(self) -> list[SinkStatus]:
        """Every sink's position, counts and retry state (see `Delivery.status`)."""
        with self._lock:
            runners = list(self._runners.values())
        return [s for r in runners for s in r.delivery.status()]

    def start(self) -> None:
        """Start one follower thread per sink."""
        with self._lock:
            self._started = True
            for runner in self._runners.values():
                self._launch(runner)

    def _launch(self, runner: _Runner) -> None:
        # Daemon threads: a sink stuck in a send (a mail relay that never answers) must not
        # keep the process alive past `shutdown`'s bound.
        runner.thread = threading.Thread(
            target=runner.delivery.follow,
            args=(runner.sink, runner.stop),
            kwargs={"poll_interval": self.poll_interval, "finish": True, "halt": runner.halt},
            name=f"deliver:{runner.sink.name}",
            daemon=True,
        )
        runner.thread.start()

    def replace(self, sinks: Sequence[Sink], *, timeout: float = 10.0) -> tuple[int, int, int]:
        """Swap in a new sink set (a reload): sinks whose type and settings are unchanged keep
        running undisturbed; removed or changed ones are stopped (within `timeout`, after
        catching up) and closed; new or changed ones start from their checkpoints. Returns
        (added, removed, changed)."""
        names = [s.name for s in sinks]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ValueError(f"two sinks are named {duplicate!r}; names must be unique")
        wanted = {s.name: s for s in sinks}
        with self._lock:
            old = dict(self._runners)
            gone = [r for n, r in old.items() if n not in wanted or not _same(r.sink, wanted[n])]
            fresh = [s for n, s in wanted.items() if n not in old or not _same(old[n].sink, s)]
            unused = [s for n, s in wanted.items() if n in old and _same(old[n].sink, s)]
        self._stop(gone, timeout)
        changed = sum(1 for s in fresh if s.name in old)
        with self._lock:
            for runner in gone:
                self._runners.pop(runner.sink.name, None)
            for sink in fresh:
                runner = self._runner(sink)
                self._runners[sink.name] = runner
                if self._started:
                    self._launch(runner)
        for sink in unused:  # the running instance stays; the freshly loaded twin is dropped
            _close(sink)
        return len(fresh) - changed, len(gone) - changed, changed

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop every sink: each first catches up with the log (what was raised before the
        call is delivered), for at most `timeout` seconds in all; then any still busy stops
        before its next alert. Returns True when every sink stopped with its checkpoint at
        its last delivered alert. A sink stuck in a send past the bound is left behind (its
        alert in flight may be delivered again after a restart: at-least-once)."""
        with self._lock:
            runners = list(self._runners.values())
            self._runners = {}
        return self._stop(runners, timeout)

    def _stop(self, runners: Sequence[_Runner], timeout: float) -> bool:
        for runner in runners:
            runner.stop.set()
        deadline = time.monotonic() + max(0.0, timeout)
        for runner in runners:
            if runner.thread is not None:
                runner.thread.join(max(0.0, deadline - time.monotonic()))
        clean = True
        for runner in runners:
            thread = runner.thread
            if thread is not None and thread.is_alive():
                runner.halt.set()
                thread.join(_HALT_GRACE)
            if thread is not None and thread.is_alive():
                clean = False
                logger.warning(
                    "sink %s is still sending after %.0fs; leaving it (its alert in flight may "
                    "be delivered again after a restart)",
                    runner.sink.name,
                    timeout,
                )
                continue
            _close(runner.sink)
        return clean


def _close(sink: Sink) -> None:
    try:
        sink.close()
    except Exception:
        logger.exception("closing sink %s failed", sink.name)

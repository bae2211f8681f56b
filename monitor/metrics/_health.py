"""`Health`: is the watcher doing its job? What ``/healthz`` answers.

Unhealthy (HTTP 503) when either

* the log does not answer: `EventLog.head` fails, or takes longer than `log_timeout` (a locked
  or vanished database), or
* every feed the watcher polls has been failing for longer than `unhealthy_after`: each has
  failed since a moment more than that long ago, with no success since. One healthy feed is
  enough to be healthy, and feeds not polled yet do not count against it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from ..feeds import PollReport
from ..log import EventLog

__all__ = ["Health"]


class Health:
    """Track feed outcomes and check the log on demand (see the module docstring).

    Args:
        log: the watcher's event log.
        unhealthy_after: seconds every feed may fail before the watcher is unhealthy.
        log_timeout: seconds `log.head()` may take before the log counts as unreachable.
        clock: Unix seconds (tests pass a fake one).
    """

    def __init__(
        self,
        log: EventLog,
        *,
        unhealthy_after: float = 1800.0,
        log_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log
        self.unhealthy_after = unhealthy_after
        self.log_timeout = log_timeout
        self._clock = clock
        self._lock = threading.Lock()
        #: feed id -> Unix time of the first failure since its last success (None: healthy).
        self._failing_since: dict[str, float | None] = {}
        # One worker: a check that hangs is not joined by a pile of new ones behind it.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz")
        self._pending: Future[int] | None = None

    def observe_poll(self, report: PollReport) -> None:
        """Record one poll's outcome (cheap: a dict update)."""
        with self._lock:
            if report.ok:
                self._failing_since[report.feed_id] = None
            elif self._failing_since.get(report.feed_id) is None:
                self._failing_since[report.feed_id] = self._clock()

    def forget(self, keep: set[str]) -> None:
        """Drop feeds no longer watched (after a reload of the feed list)."""
        with self._lock:
            for feed_id in set(self._failing_since) - keep:
                del self._failing_since[feed_id]

    def _head(self) -> tuple[int | None, str | None]:
        with self._lock:
            pending = self._pending
            if pending is None or pending.done():
                pending = self._pending = self._pool.submit(self.log.head)
        try:
            return pending.result(timeout=self.log_timeout), None
        except FutureTimeout:
            return None, f"the log did not answer within {self.log_timeout:g}s"
        except Exception as exc:
            return None, f"the log cannot be read: {exc}"

    def check(self) -> tuple[bool, dict[str, Any]]:
        """Return (healthy?, a small JSON-ready body saying why)."""
        head, log_error = self._head()
        now = self._clock()
        with self._lock:
            states = dict(self._failing_since)
        failing = sorted(f for f, since in states.items() if since is not None)
        stale = [
            f
            for f in failing
            if now - states[f] > self.unhealthy_after  # type: ignore[operator]
        ]
        reasons = []
        if log_error is not None:
            reasons.append(log_error)
        if states and len(stale) == len(states):
            reasons.append(
                f"every feed ({len(states)}) has been failing for more than "
                f"{self.unhealthy_after:g}s"
            )
        body: dict[str, Any] = {
            "status": "unhealthy" if reasons else "ok",
            "log": {"ok": log_error is None, "head": head},
            "feeds": {"polled": len(states), "failing": len(failing)},
        }
        if reasons:
            body["reasons"] = reasons
        return not reasons, body

    def close(self) -> None:
        """Stop the check's worker thread (a hung check is left to finish on its own)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

"""What keeps the console's views current without making a page wait.

Two runners fold the log for the console:

* `QUICK` projections, in the request path, only when the log has moved, and without waiting
  for a lease another runner holds (``lease_wait=0``: that runner is folding the same records
  and the page shows its state). They read only alert, silence and review records, so they
  are cheap, and they make an action's result show on the very next page (a silence, a
  verdict, an acknowledgement).
* `CatchUp`, in a daemon thread, for everything that folds every item: the built-in
  projections (item versions, feed status, entity counts, ...), the stories projection and the
  search index. On a long log that no watcher has folded yet this takes minutes; a page never
  waits for it, it shows what has been folded (the search page says how far the index is
  behind). When the watcher runs beside the console, it keeps these current itself and the
  thread has little to do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from ..log import EventLog
from ..projections import (
    AlertTimeline,
    Projection,
    ProjectionRunner,
    RuleHits,
    Silences,
    builtin_projections,
)
from ..search import catch_up
from ._feedback import AlertReview

__all__ = ["CatchUp", "quick_runner"]

log = logging.getLogger("monitor.console")


def quick_runner(event_log: EventLog) -> ProjectionRunner:
    """The request path's runner: alert timeline, rule hits, silences and reviews, never
    waiting for a lease."""
    projections = [AlertTimeline(), RuleHits(), Silences(), AlertReview()]
    return ProjectionRunner(event_log, projections, lease_wait=0.0)


class CatchUp:
    """Folds the built-in projections, `extra` ones (stories) and, on logs that have one, the
    search index, in a daemon thread, a step of `STEP` records at a time (a stop waits for
    one step at most; each step commits with its checkpoints)."""

    #: Records folded between two checks for a stop.
    STEP = 5_000

    def __init__(
        self, event_log: EventLog, extra: Sequence[Projection] = (), *, wait: float = 0.5
    ) -> None:
        self.log = event_log
        self.runner = ProjectionRunner(event_log, [*builtin_projections(), *extra])
        url = getattr(event_log, "url", "") or ""
        self.search = url.startswith(("sqlite:", "postgresql:", "postgres:"))
        self._wait = wait
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread (idempotent)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._follow, name="console-catch-up", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Stop after the step being folded."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=60)

    def _follow(self) -> None:
        at = -1
        while not self._stop.is_set():
            before = at
            try:
                head = self.log.head()
                folded = self.runner.run(until=min(head, max(at, 0) + self.STEP))
                at = min(folded.values(), default=head)
                if at >= head and self.search:
                    catch_up(self.log)
            except Exception:  # a failing fold must not take the console down
                log.exception("console: catching the projections up failed; retrying")
                self._stop.wait(5.0)
                continue
            if at >= head or at == before:  # done, or another runner holds what is left
                self.log.wait(head, self._wait)

"""Leases that keep two runners (threads or processes sharing one log) off one projection.

A projection folded by two runners at once would read the other's half-committed pages and
apply events twice. Before folding, a runner takes the log's lease ``projection:<name>`` for each
projection it is about to change, renews it while it works and releases it when done; a runner
that dies simply stops renewing, and its leases pass on after their time-to-live.

Logs that do not implement leases (a test double, a third-party backend) are run without them;
the runner's checkpoint comparison before each commit still refuses most overlaps.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable

from ..errors import ProjectionError
from ..log import EventLog

__all__ = ["LeaseSet", "supports_leases"]


def supports_leases(log: EventLog) -> bool:
    """Whether `log`'s class implements `acquire_lease` (the interface's default refuses)."""
    return type(log).acquire_lease is not EventLog.acquire_lease


def new_owner() -> str:
    """An owner id unique to this runner: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseSet:
    """The projection leases one run holds.

    Args:
        log: where the leases live.
        owner: this runner's owner id.
        ttl: seconds a lease lasts unless renewed; renewed after a third of it has passed.
        clock / sleep: injected monotonic clock and sleep, so tests need not wait.
    """

    def __init__(
        self,
        log: EventLog,
        owner: str,
        ttl: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.log = log
        self.owner = owner
        self.ttl = ttl
        self.clock = clock
        self.sleep = sleep
        self.enabled = supports_leases(log)
        self.held: list[str] = []
        self._renewed = 0.0

    def acquire(self, names: Iterable[str], wait: float) -> list[str]:
        """Take the leases of `names`, retrying for up to `wait` seconds while another runner
        holds one; return the names now held (all of them unless some stayed busy)."""
        pending = list(names)
        if not self.enabled:
            self.held += pending
            return pending
        deadline = self.clock() + wait
        got: list[str] = []
        delay = 0.02
        while True:
            still = []
            for name in pending:
                if self.log.acquire_lease(_lease(name), self.owner, self.ttl):
                    got.append(name)
                else:
                    still.append(name)
            pending = still
            if not pending or self.clock() >= deadline:
                break
            self.sleep(min(delay, max(deadline - self.clock(), 0.0)))
            delay = min(delay * 2, 0.5)
        self.held += got
        self._renewed = self.clock()
        return got

    def renew(self) -> None:
        """Renew the held leases once a third of their time-to-live has passed.

        Raises:
            ProjectionError: a lease expired and another runner took it over.
        """
        if not self.enabled or self.clock() - self._renewed < self.ttl / 3:
            return
        for name in self.held:
            if not self.log.acquire_lease(_lease(name), self.owner, self.ttl):
                raise ProjectionError(
                    f"projection {name!r}: another runner took over its lease while this one "
                    f"was folding (a page took longer than the {self.ttl:g}s lease); stopped "
                    "without committing"
                )
        self._renewed = self.clock()

    def release(self) -> None:
        """Give up every held lease (errors are ignored: the lease expires anyway)."""
        if self.enabled:
            for name in self.held:
                # A lease left behind (say the log was closed) expires by itself.
                with contextlib.suppress(Exception):
                    self.log.release_lease(_lease(name), self.owner)
        self.held = []


def _lease(name: str) -> str:
    return f"projection:{name}"

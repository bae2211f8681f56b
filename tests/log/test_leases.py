"""Leases, the way watchers sharing one log split the feeds; runs once per backend."""

from __future__ import annotations

import threading
import time

import pytest

from tests.log.conftest import open_backend

HOUR = 3600.0


def test_free_lease_is_granted_and_held_against_others(log):
    """The first owner gets a free lease; another owner is refused while it is held."""
    assert log.acquire_lease("feed:wire", "watcher-a", HOUR) is True
    assert log.acquire_lease("feed:wire", "watcher-b", HOUR) is False


def test_holder_renews_its_own_lease(log):
    """Acquiring a lease one already holds renews it and keeps others out."""
    assert log.acquire_lease("feed:wire", "a", HOUR)
    assert log.acquire_lease("feed:wire", "a", HOUR)
    assert not log.acquire_lease("feed:wire", "b", HOUR)


def test_expired_lease_passes_to_another_owner(log):
    """A holder that stops renewing loses the lease once its ttl has passed."""
    assert log.acquire_lease("feed:wire", "a", 0.05)
    time.sleep(0.2)
    assert log.acquire_lease("feed:wire", "b", HOUR)
    assert not log.acquire_lease("feed:wire", "a", HOUR)


def test_release_frees_the_lease_only_for_its_holder(log):
    """release_lease by a non-holder does nothing; by the holder it frees the lease."""
    assert log.acquire_lease("feed:wire", "a", HOUR)
    log.release_lease("feed:wire", "b")
    assert not log.acquire_lease("feed:wire", "b", HOUR)
    log.release_lease("feed:wire", "a")
    assert log.acquire_lease("feed:wire", "b", HOUR)


def test_leases_are_independent_by_name(log):
    """Holding one feed's lease says nothing about another feed's."""
    assert log.acquire_lease("feed:one", "a", HOUR)
    assert log.acquire_lease("feed:two", "b", HOUR)
    assert not log.acquire_lease("feed:two", "a", HOUR)


def test_ttl_must_be_positive(log):
    """A zero or negative ttl is a clear ValueError, not a lease that never expires."""
    with pytest.raises(ValueError, match="ttl must be a positive"):
        log.acquire_lease("feed:wire", "a", 0)


def test_racing_owners_get_the_lease_exactly_once(log, request, tmp_path):
    """Eight owners racing for one free lease through separate handles: exactly one wins."""
    backend = request.node.callspec.params["log"]
    if backend == "memory":
        handles = [log] * 8  # one process: the owners share the instance
    elif backend == "sqlite":
        handles = [open_backend("sqlite", tmp_path) for _ in range(8)]  # same file
    else:
        from monitor.log._postgres import PostgresLog

        handles = [PostgresLog(log.url, schema=log.schema) for _ in range(8)]
    start = threading.Barrier(len(handles))
    wins: list[str] = []

    def race(handle, owner: str) -> None:
        start.wait()
        if handle.acquire_lease("feed:contested", owner, HOUR):
            wins.append(owner)

    threads = [threading.Thread(target=race, args=(h, f"owner-{i}")) for i, h in enumerate(handles)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if backend != "memory":
        for handle in handles:
            handle.close()
    assert len(wins) == 1
    assert not log.acquire_lease("feed:contested", "late-comer", HOUR)

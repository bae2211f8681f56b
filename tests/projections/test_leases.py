"""Runners sharing one log: projection leases keep them from folding the same projection."""

from __future__ import annotations

import threading

import pytest

from monitor.errors import ProjectionError
from monitor.log import MemoryLog, open_log
from monitor.projections import ProjectionRunner
from tests.conftest import make_item

from .conftest import CountingProjection, open_backend, seen_positions


class FakeTime:
    """A monotonic clock whose `sleep` only moves it forward."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def runner(log, fake: FakeTime, **kw) -> ProjectionRunner:
    """A counting runner on `log` using the fake clock."""
    return ProjectionRunner(log, [CountingProjection()], clock=fake.clock, sleep=fake.sleep, **kw)


def test_run_leaves_a_busy_projection_to_its_holder(log):
    """`run` waits `lease_wait` for a busy projection, then leaves it to its holder."""
    log.append_events([make_item(n) for n in range(5)])
    assert log.acquire_lease("projection:counting", "someone-else", 60)
    fake = FakeTime()
    assert runner(log, fake, lease_wait=2.0).run() == {"counting": 0}
    assert log.projection_state("counting") is None
    assert fake.now >= 2.0 and fake.slept  # it waited (on the injected clock) before giving up
    log.release_lease("projection:counting", "someone-else")
    assert runner(log, fake).run() == {"counting": 5}


def test_rebuild_of_a_busy_projection_is_refused(log):
    """`rebuild` does not drop a projection another runner is updating; it says so."""
    log.append_events([make_item(n) for n in range(3)])
    runner(log, FakeTime()).run()
    assert log.acquire_lease("projection:counting", "someone-else", 60)
    with pytest.raises(ProjectionError, match="being updated by another runner"):
        runner(log, FakeTime(), lease_wait=1.0).rebuild()
    assert seen_positions(log) == {1: 1, 2: 1, 3: 1}


def test_leases_are_released_after_a_run_and_after_a_failure(log):
    """A finished or failed run gives its leases back, so another owner can take them."""
    log.append_events([make_item(n) for n in range(3)])
    runner(log, FakeTime()).run()
    assert log.acquire_lease("projection:counting", "next-owner", 60)
    log.release_lease("projection:counting", "next-owner")

    class Failing(CountingProjection):
        def apply(self, event, record, state):
            raise RuntimeError("no")

    log.append_events([make_item(9)])
    with pytest.raises(ProjectionError):
        ProjectionRunner(log, [Failing()]).run()
    assert log.acquire_lease("projection:counting", "next-owner", 60)


def test_up_to_date_run_takes_no_lease():
    """A run with nothing to do writes nothing, not even a lease."""
    taken = []

    class Spy(MemoryLog):
        def acquire_lease(self, name, owner, ttl):
            taken.append(name)
            return super().acquire_lease(name, owner, ttl)

    log = Spy()
    log.append_events([make_item(1)])
    ProjectionRunner(log, [CountingProjection()]).run()
    assert taken == ["projection:counting"]
    ProjectionRunner(log, [CountingProjection()]).run()
    assert taken == ["projection:counting"]


def test_losing_the_lease_mid_run_stops_without_committing():
    """A run whose lease was taken over while folding stops before committing."""
    fake = FakeTime()

    class Stolen(MemoryLog):
        def acquire_lease(self, name, owner, ttl):
            first = not getattr(self, "_given", False)
            self._given = True
            return first  # renewals fail: someone else holds it by then

    class Slow(CountingProjection):
        def apply(self, event, record, state):
            fake.now += 100  # a page that takes longer than the lease
            super().apply(event, record, state)

    log = Stolen()
    log.append_events([make_item(n) for n in range(6)])
    runner = ProjectionRunner(log, [Slow()], page_size=2, clock=fake.clock, sleep=fake.sleep)
    with pytest.raises(ProjectionError, match="took over its lease"):
        runner.run()
    assert log.projection_state("counting") is None


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_two_threads_running_one_projection_apply_each_event_once(kind, tmp_path):
    """Two runners racing on one log (each with its own connection) fold every event once."""
    if kind == "memory":
        shared = MemoryLog()
        logs = [shared, shared]
    else:
        first = open_backend("sqlite", tmp_path)
        logs = [first, open_log(first.path)]
    logs[0].append_events([make_item(n) for n in range(400)])
    errors = []

    def work(lg):
        try:
            for _ in range(3):
                ProjectionRunner(lg, [CountingProjection()], page_size=7).run()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(lg,)) for lg in logs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert seen_positions(logs[0]) == {p: 1 for p in range(1, 401)}
    for lg in {id(x): x for x in logs}.values():
        lg.close()


def test_threads_sharing_one_runner_apply_each_event_once(tmp_path):
    """Threads calling one runner's `run` at once (as watcher jobs do) fold every event once."""
    log = open_backend("sqlite", tmp_path)
    log.append_events([make_item(n) for n in range(300)])
    shared = ProjectionRunner(log, [CountingProjection()], page_size=5)
    errors = []

    def work():
        try:
            for _ in range(3):
                shared.run()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert seen_positions(log) == {p: 1 for p in range(1, 301)}
    log.close()

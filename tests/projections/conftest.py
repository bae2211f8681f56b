"""Fixtures for the projection tests: a log of every backend, a log whose commits can be made
to fail, and small projections that count what they were given."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pytest

from monitor.errors import LogError
from monitor.events import Event
from monitor.log import (
    AppendResult,
    EventLog,
    MemoryLog,
    NewRecord,
    ProjectionState,
    Record,
    open_log,
)
from monitor.projections import Projection, StateView, key

BACKENDS = ["memory", "sqlite", "postgres"]


def open_backend(name: str, directory) -> EventLog:
    """Open a fresh, empty log of backend `name` (SQLite files go in `directory`)."""
    if name == "memory":
        return MemoryLog()
    if name == "postgres":
        from tests.pg import fresh_postgres_log, pg_url

        return fresh_postgres_log(pg_url())  # skips without MONITOR_TEST_PG
    return open_log(directory / f"log-{next(_serial)}.db")


_serial = itertools.count()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Each log backend's name in turn."""
    return request.param


@pytest.fixture
def log(backend, tmp_path) -> Iterator[EventLog]:
    """A fresh, empty event log of each backend in turn."""
    lg = open_backend(backend, tmp_path)
    yield lg
    lg.close()


@pytest.fixture
def make_log(backend, tmp_path) -> Iterator[Callable[[], EventLog]]:
    """A factory of fresh logs of the current backend, for hypothesis examples. Making one
    closes the previous one, so a long run of examples holds one connection at a time."""
    opened: list[EventLog] = []

    def make() -> EventLog:
        while opened:
            opened.pop().close()
        lg = open_backend(backend, tmp_path)
        opened.append(lg)
        return lg

    yield make
    for lg in opened:
        lg.close()


class FlakyLog(EventLog):
    """Wraps a real log; `commit_projection` raises `LogError` (before writing anything) on the
    calls whose 1-based numbers are in `fail_on`, as a crash inside the commit would."""

    def __init__(self, inner: EventLog, fail_on: Collection[int] = ()) -> None:
        self.inner = inner
        self.url = inner.url
        self.fail_on = set(fail_on)
        self.commits = 0

    def append(
        self, records: Sequence[NewRecord], *, checkpoint: tuple[str, int] | None = None
    ) -> AppendResult:
        return self.inner.append(records, checkpoint=checkpoint)

    def read_page(
        self, after: int, limit: int, types: Collection[str] | None = None
    ) -> list[Record]:
        return self.inner.read_page(after, limit, types)

    def head(self) -> int:
        return self.inner.head()

    def get_checkpoint(self, name: str) -> int:
        return self.inner.get_checkpoint(name)

    def set_checkpoint(self, name: str, position: int) -> None:
        self.inner.set_checkpoint(name, position)

    def projection_state(self, name: str) -> ProjectionState | None:
        return self.inner.projection_state(name)

    def projection_get(self, name: str, key: str) -> Any | None:
        return self.inner.projection_get(name, key)

    def projection_scan(self, name: str, prefix: str = "", **kw: Any) -> list[tuple[str, Any]]:
        return self.inner.projection_scan(name, prefix, **kw)

    def commit_projection(
        self, name: str, version: int, position: int, changes: Mapping[str, Any | None]
    ) -> None:
        self.commits += 1
        if self.commits in self.fail_on:
            raise LogError(f"simulated crash in commit {self.commits}")
        self.inner.commit_projection(name, version, position, changes)

    def drop_projection(self, name: str) -> None:
        self.inner.drop_projection(name)

    def close(self) -> None:
        self.inner.close()


class CountingProjection(Projection):
    """Counts every record it is given: ``seen:<position>`` -> times applied, ``count`` ->
    total. Exactly-once means every position present once with value 1."""

    name: ClassVar[str] = "counting"
    version: ClassVar[int] = 1
    types: ClassVar[frozenset[str] | None] = None

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        k = key("seen", f"{record.position:012d}")
        state.put(k, state.get(k, 0) + 1)
        state.put("count", state.get("count", 0) + 1)


def seen_positions(log: EventLog, name: str = "counting") -> dict[int, int]:
    """Return {position: times applied} recorded by a `CountingProjection` named `name`."""
    rows = log.projection_scan(name, "seen:")
    return {int(k.split(":")[1]): v for k, v in rows}

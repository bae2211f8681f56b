"""Fixtures for the search tests: a fresh log of each backend that holds a search index
(SQLite; PostgreSQL when MONITOR_TEST_PG is set, as in tests/log), and an item builder."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.events import ItemReceived, item_id
from monitor.log import EventLog, open_log

BACKENDS = ["sqlite", "postgres"]
_serial = itertools.count()
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def open_backend(name: str, directory) -> EventLog:
    """A fresh, empty log of backend `name` (SQLite files go in `directory`)."""
    if name == "postgres":
        from tests.pg import fresh_postgres_log, pg_url

        return fresh_postgres_log(pg_url())  # skips without MONITOR_TEST_PG
    return open_log(directory / f"search-{next(_serial)}.db")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Each backend with a search index in turn."""
    return request.param


@pytest.fixture
def make_log(backend, tmp_path) -> Iterator[Callable[[], EventLog]]:
    """A factory of fresh logs of the current backend, closed after the test."""
    opened: list[EventLog] = []

    def make() -> EventLog:
        lg = open_backend(backend, tmp_path)
        opened.append(lg)
        return lg

    yield make
    for lg in opened:
        lg.close()


@pytest.fixture
def log(make_log) -> EventLog:
    """A fresh, empty log of each backend in turn."""
    return make_log()


def item(
    n: int, title: str = "", summary: str = "", *, feed: str = "wire", **fields
) -> ItemReceived:
    """The n-th test item: received `n` minutes after T0 unless `published` is given."""
    guid = f"{feed}-{n}"
    return ItemReceived(
        item_id=item_id(feed, guid=guid),
        feed_id=feed,
        guid=guid,
        received=fields.pop("received", T0 + timedelta(minutes=n)),
        title=title,
        summary=summary,
        **fields,
    )

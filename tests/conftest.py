"""Shared fixtures: item builders and a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.events import ItemReceived, item_id

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


class FrozenClock:
    """A clock tests move by hand: `clock()` returns the current time, `advance` moves it."""

    def __init__(self, start: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at 2026-03-01 12:00 UTC."""
    return FrozenClock()


def make_item(n: int, *, feed: str = "wire", title: str | None = None, **fields) -> ItemReceived:
    """Build the n-th test item of `feed`, with a guid so its id is stable."""
    guid = fields.pop("guid", f"{feed}-{n}")
    received = fields.pop("received", datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    return ItemReceived(
        item_id=item_id(feed, guid=guid),
        feed_id=feed,
        guid=guid,
        received=received,
        title=title if title is not None else f"Item number {n} from {feed}",
        **fields,
    )


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver's one server per session binds to 127.0.0.1 on a free port, whichever
    test folder starts it first (a `localhost` URL would change the origin the feed tests'
    credentials are scoped to)."""
    return ("127.0.0.1", 0)

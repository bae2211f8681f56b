"""Fixtures for the alerts tests: the small test rule pack and timed items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.events import ItemReceived
from monitor.rules._load import load_rules
from tests.conftest import make_item

RULEPACK = Path(__file__).parent / "rulepack"
T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def ruleset():
    """The test rule pack: movement, denial, shelling (6h throttle) and four correlations."""
    return load_rules(RULEPACK)


def timed(n: int, hours: float, title: str, *, source: str | None = None, **kw) -> ItemReceived:
    """Item `n` published `hours` after T0 (received one minute later)."""
    published = T0 + timedelta(hours=hours)
    return make_item(
        n,
        title=title,
        published=published,
        received=published + timedelta(minutes=1),
        source=source,
        **kw,
    )

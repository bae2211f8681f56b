"""The `log` fixture: every backend-neutral log test runs once per backend.

PostgreSQL joins the list when MONITOR_TEST_PG names a server (CI sets it); without it those
cases are skipped with that reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from monitor.log import EventLog, MemoryLog, open_log

BACKENDS = ["memory", "sqlite", "postgres"]


def open_backend(name: str, tmp_path) -> EventLog:
    """Open a fresh, empty log of backend `name`."""
    if name == "memory":
        return MemoryLog()
    if name == "sqlite":
        return open_log(tmp_path / "log.db")
    url = os.environ.get("MONITOR_TEST_PG")
    if not url:
        pytest.skip("PostgreSQL tests need MONITOR_TEST_PG=postgresql://... (CI sets it)")
    from tests.pg import fresh_postgres_log

    return fresh_postgres_log(url)


@pytest.fixture(params=BACKENDS)
def log(request, tmp_path) -> Iterator[EventLog]:
    """A fresh, empty event log of each backend in turn."""
    lg = open_backend(request.param, tmp_path)
    yield lg
    lg.close()

"""Fixtures for the console tests: a log with real-looking data, and a TestClient over it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from monitor import Monitor
from monitor.console import create_app
from tests.console.data import RULES, build

TOKEN = "console-test-token-7f3a"


@pytest.fixture(scope="module")
def data_db(tmp_path_factory):
    """A SQLite log holding the console data, and the ids the tests use."""
    db = tmp_path_factory.mktemp("console") / "m.db"
    return db, build(db)


@pytest.fixture
def db_copy(tmp_path, data_db):
    """A private copy of the data log (for tests that append)."""
    import shutil

    db, ids = data_db
    copy = tmp_path / "m.db"
    shutil.copy(db, copy)
    return copy, ids


def _client(db, token):
    monitor = Monitor.open(str(db), rules=str(RULES))
    client = TestClient(create_app(monitor, token=token, heartbeat=0.2))
    return monitor, client


@pytest.fixture
def client(db_copy):
    """A TestClient over a copy of the data, with actions enabled by `TOKEN`."""
    db, ids = db_copy
    monitor, client = _client(db, TOKEN)
    with client:
        yield client, monitor, ids
    monitor.close()


@pytest.fixture
def readonly(data_db):
    """A TestClient over the data, read-only (no token)."""
    db, ids = data_db
    monitor, client = _client(db, None)
    with client:
        yield client, ids
    monitor.close()

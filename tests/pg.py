"""PostgreSQL helpers for tests: throwaway schemas on the server named by MONITOR_TEST_PG.

Every log a test opens lives in its own schema (``t_<pid>_<n>_<random>``) and its connections
carry their own ``application_name``, so tests running side by side on one server never see
each other's records and can kill only their own connections. The schema is dropped when the
log is closed (and, as a safety net, when the test process exits).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from monitor.log._postgres import _OPTIONS as _LOG_OPTIONS
from monitor.log._postgres import PostgresLog

_serial = itertools.count()
_leftover: set[tuple[str, str]] = set()


def pg_url() -> str:
    """The server URL from MONITOR_TEST_PG; skips the calling test when it is not set."""
    url = os.environ.get("MONITOR_TEST_PG")
    if not url:
        pytest.skip("PostgreSQL tests need MONITOR_TEST_PG=postgresql://... (CI sets it)")
    return url


def new_schema() -> str:
    """A schema name no other test (in this or another process) uses."""
    return f"t_{os.getpid()}_{next(_serial)}_{secrets.token_hex(3)}"


class ThrowawayLog(PostgresLog):
    """A `PostgresLog` in its own schema, dropped when the log is closed."""

    def close(self) -> None:
        super().close()
        drop_schema(self.url, self.schema)


def fresh_postgres_log(url: str, **options: Any) -> PostgresLog:
    """Open an empty log in a new schema of the server at `url`; closing it drops the schema.

    Its connections are named ``<schema>`` in ``pg_stat_activity`` unless `options` say
    otherwise, so `terminate` can cut exactly them."""
    schema = options.pop("schema", None) or new_schema()
    options.setdefault("application_name", schema)
    _leftover.add((url, schema))
    return ThrowawayLog(url, schema=schema, **options)


def log_url(url: str, schema: str, **params: Any) -> str:
    """`url` with ``schema`` and other options in its query, for `open_log` in a child."""
    query = "&".join(f"{k}={v}" for k, v in {"schema": schema, **params}.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


def admin(url: str):
    """A plain autocommit psycopg connection to the test server (the log's own options, such
    as ``schema``, are dropped from `url`'s query first)."""
    import psycopg

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in _LOG_OPTIONS]
    plain = urlunsplit(parts._replace(query=urlencode(query)))
    return psycopg.connect(plain, autocommit=True, application_name="monitor-tests-admin")


def drop_schema(url: str, schema: str) -> None:
    """Drop `schema` and everything in it (no error if it is already gone)."""
    with admin(url) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    _leftover.discard((url, schema))


def terminate(url: str, application_name: str) -> int:
    """Kill every server backend whose application_name is `application_name`; return how
    many were killed (what a server restart does to those connections)."""
    with admin(url) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        ).fetchall()
    return sum(1 for (killed,) in rows if killed)


@atexit.register
def _drop_leftovers() -> None:
    for url, schema in list(_leftover):
        with contextlib.suppress(Exception):  # best effort at exit; the server may be gone
            drop_schema(url, schema)

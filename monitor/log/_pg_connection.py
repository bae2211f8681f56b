"""A PostgreSQL connection that reopens itself with backoff, and psycopg error translation.

Used by `PostgresLog`; kept apart so the log module reads as the log's logic only.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg

from ..errors import LogError, LogLockedError, LogUnavailableError

__all__ = ["ReconnectingConnection", "transaction", "translate"]

_T = TypeVar("_T")
#: SQLSTATEs after which the whole transaction may simply be run again: deadlock detected,
#: serialization failure.
_TRANSIENT = frozenset({"40P01", "40001"})
_TRANSIENT_RETRIES = 5


class ReconnectingConnection:
    """One autocommit connection, opened on first use and reopened with exponential backoff
    (at most `reconnect_timeout` seconds, then `LogUnavailableError`) when it breaks.

    `run` serializes its callers: one operation at a time uses the connection."""

    def __init__(
        self,
        conninfo: str,
        where: str,
        *,
        reconnect_timeout: float,
        configure: Callable[[psycopg.Connection], None] | None = None,
    ) -> None:
        self.conninfo = conninfo
        self.where = where
        self.reconnect_timeout = reconnect_timeout
        self._configure = configure
        self._lock = threading.RLock()
        self._conn: psycopg.Connection | None = None
        self._shut = False

    def run(self, operation: Callable[[psycopg.Connection], _T]) -> _T:
        """Run `operation` on the connection; if the connection is lost, reconnect and run it
        again (so `operation` must be safe to repeat after a failure)."""
        with self._lock:
            deadline: float | None = None
            delay = 0.05
            retries = 0
            while True:
                if self._shut:
                    raise LogError(f"the log at {self.where} was closed; open it again")
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = psycopg.connect(self.conninfo, autocommit=True)
                        if self._configure is not None:
                            self._configure(self._conn)
                    return operation(self._conn)
                except psycopg.Error as exc:
                    if (exc.sqlstate or "") in _TRANSIENT and retries < _TRANSIENT_RETRIES:
                        retries += 1  # the transaction was rolled back: run it again
                        time.sleep(0.01 * retries)
                        continue
                    if not self._lost(exc):
                        raise translate(exc, self.where) from exc
                    self.close()
                    now = time.monotonic()
                    deadline = deadline or now + self.reconnect_timeout
                    if now >= deadline:
                        raise LogUnavailableError(
                            f"PostgreSQL at {self.where} is unreachable (kept retrying for "
                            f"{self.reconnect_timeout:g}s): {_first_line(exc)}; check that the "
                            "server is running and the URL is right"
                        ) from exc
                    time.sleep(min(delay, deadline - now))
                    delay = min(delay * 2, 2.0)

    def _lost(self, exc: psycopg.Error) -> bool:
        """Whether `exc` means the connection is gone (retry) rather than a failed statement."""
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            return not _permanent(exc)
        if isinstance(exc, psycopg.OperationalError) and not exc.sqlstate:
            # Raised by the client, not the server ("connection socket closed"): psycopg may
            # not have marked the connection broken yet when the socket dies mid-statement.
            return not _permanent(exc)
        state = exc.sqlstate or ""
        return state.startswith("08") or state in ("57P01", "57P02", "57P03")

    def shutdown(self) -> None:
        """Close for good: later `run` calls raise instead of reconnecting."""
        self._shut = True
        self.close()

    def close(self) -> None:
        """Close the current connection; the next `run` opens a new one."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()


class transaction:
    """BEGIN ... COMMIT on an autocommit connection; ROLLBACK on error if the line is up.

    Written out (instead of ``conn.transaction()``) so the COMMIT is one visible statement."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN")

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        conn = self._conn
        if kind is None:
            conn.execute("COMMIT")
        elif not (conn.closed or conn.broken):
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")


def _permanent(exc: psycopg.Error) -> bool:
    """Connection errors that waiting will not fix: a wrong password, database or role."""
    text = str(exc).lower()
    return any(
        s in text
        for s in (
            "authentication failed",
            "does not exist",
            "no pg_hba.conf entry",
            "permission denied",
            "invalid",
        )
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def translate(exc: psycopg.Error, where: str) -> LogError:
    """Turn a psycopg error into the `LogError` that tells the user what to do."""
    state = exc.sqlstate or ""
    text = _first_line(exc)
    if state == "55P03":
        return LogLockedError(
            f"PostgreSQL at {where}: another writer held the log's append lock too long "
            f"({text}); is a writer stuck? raise it with ?lock_timeout=SECONDS"
        )
    if _permanent(exc) and state == "":
        return LogUnavailableError(f"cannot connect to PostgreSQL at {where}: {text}")
    return LogError(f"PostgreSQL at {where}: {text}")

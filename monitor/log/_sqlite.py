"""`SQLiteLog`: the default backend: one SQLite file in WAL mode.

Why these choices:

* **Positions.** SQLite allows one writer at a time; an append takes the write lock with
  ``BEGIN IMMEDIATE``, reads the last position and hash, and assigns the next positions itself.
  Positions are therefore gap-free and a reader can never see position n+1 before n.
* **Durability.** ``journal_mode=WAL`` with ``synchronous=NORMAL`` (the default here): a commit
  is in the WAL file before `append` returns, so an acknowledged append survives the crash of the
  process (what the crash test checks). It may be lost on power failure or an OS crash before the
  next checkpoint; pass ``synchronous=full`` (``sqlite:///x.db?synchronous=full``) to trade
  about 2x append speed for that too.
* **Checkpoints.** The WAL is checkpointed every 10,000 pages (about 40 MiB) rather than
  SQLite's 1,000: appends with random dedupe keys touch many index pages, and rewriting them
  less often is the largest cheap gain measured (see benchmarks/README.md).
* **Locks.** Two processes appending to one file wait for each other (``busy_timeout``);
  only a lock held longer than `timeout` seconds becomes a `LogLockedError`.
* **Identity.** ``PRAGMA application_id`` marks the file as ours, so a database of another
  program is refused instead of being written into.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ..errors import (
    LogCorruptedError,
    LogError,
    LogLockedError,
    LogReadOnlyError,
    LogSchemaError,
)
from ._base import (
    AppendResult,
    CheckpointPastHead,
    EventLog,
    NewRecord,
    ProjectionState,
    Record,
    past_head_error,
)
from ._chain import GENESIS, number_batch, record_hash
from ._scan_sql import projection_scan_query
from ._sqlite_open import connect, connect_read_only, flag
from ._sqlite_schema import (
    ALL_CHECKPOINTS,
    APPLICATION_ID,
    INSERT,
    KEY_CHUNK,
    OUR_TABLES,
    SCHEMA,
    SCHEMA_VERSION,
    SELECT,
    TOP_CHECKPOINT,
    TRIGGERS,
    is_busy,
    translate,
)

__all__ = ["SQLiteLog"]

_T = TypeVar("_T")

#: "NMON" as a 32-bit integer, stored in the SQLite header of every log file.


class SQLiteLog(EventLog):
    """The event log in one SQLite file. Thread-safe (one connection behind a lock).

    Args:
        path: the database file; created, with its schema, if it does not exist.
        timeout: seconds to wait for another process's write lock before `LogLockedError`.
        synchronous: ``normal`` (default) or ``full``; see the module docstring.
        create: when False, a missing file is an error instead of a new log.
        read_only: open for reading only (``sqlite:///x.db?read_only=1``): works on a file,
            or in a directory, that cannot be written (read-only media, a backup); every
            write raises `LogReadOnlyError`. See `connect_read_only` for the WAL details.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float | str = 30.0,
        synchronous: str = "normal",
        create: bool | str = True,
        read_only: bool | str = False,
    ) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._timeout = float(timeout)
        if str(synchronous).lower() not in ("normal", "full", "extra"):
            raise LogError(f"synchronous must be normal, full or extra, not {synchronous!r}")
        self._lock = threading.RLock()
        self._appended = threading.Condition(self._lock)
        self.read_only = flag(read_only)
        if self.read_only:
            self._conn = connect_read_only(self.path, self._timeout)
        else:
            self._conn = connect(self.path, self._timeout, create=flag(create))
        try:
            self._prepare(str(synchronous).upper())
        except BaseException:
            self._conn.close()
            raise

    # --- opening --------------------------------------------------------------------------

    def _prepare(self, synchronous: str) -> None:
        conn = self._conn
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
                )
            ]
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        foreign = [t for t in tables if t not in OUR_TABLES and not t.startswith("sqlite_")]
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and foreign):
            shown = ", ".join(tables[:5]) + (" ..." if len(tables) > 5 else "")
            raise LogSchemaError(
                f"{self.path} is an SQLite database of another application "
                f"(tables: {shown or 'none'}); choose another path for the log"
            )
        if self.read_only:
            self._check_read_only(app_id)
            return
        try:
            if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
                raise LogError(f"{self.path}: could not switch the database to WAL mode")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            # Dedupe keys are content hashes, so each batch dirties about one index page per
            # record; checkpointing every 10,000 WAL pages instead of 1,000 rewrites those hot
            # pages far less often (+30% CPU, ~2x wall on batched appends here). The WAL is
            # cut back to 64 MiB after each checkpoint.
            conn.execute("PRAGMA wal_autocheckpoint=10000")
            conn.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
            conn.execute("PRAGMA cache_size=-32768")  # 32 MiB: keeps the hot index in memory
            conn.execute("PRAGMA foreign_keys=OFF")
            if app_id == 0:
                with self._write():
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(
                        "INSERT OR IGNORE INTO monitor_meta VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            row = conn.execute(
                "SELECT value FROM monitor_meta WHERE key='schema_version'"
            ).fetchone()
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        if row is None:
            raise LogCorruptedError(f"{self.path}: log metadata is missing (damaged file?)")
        self._check_version(row[0])
        self._upgrade(int(row[0]))

    def _check_version(self, stored: str) -> None:
        if int(stored) > SCHEMA_VERSION:
            raise LogSchemaError(
                f"{self.path} was written by a newer news-monitor (log schema {stored}, "
                f"this program knows {SCHEMA_VERSION}); upgrade news-monitor"
            )

    def _check_read_only(self, app_id: int) -> None:
        """What `_prepare` checks when nothing may be written: ours, and not too new."""
        if app_id != APPLICATION_ID:
            raise LogSchemaError(f"{self.path} is not a monitor log (no log schema in it)")
        row = self._query("SELECT value FROM monitor_meta WHERE key='schema_version'")
        if not row:
            raise LogCorruptedError(f"{self.path}: log metadata is missing (damaged file?)")
        self._check_version(row[0][0])

    def _upgrade(self, stored: int) -> None:
        """Bring a log written by an older release up to `SCHEMA_VERSION`.

        Version 2 adds the triggers that make the events table refuse UPDATE and DELETE. They
        are also re-created whenever they are missing, whatever the version says: someone
        who dropped them to edit records by hand gets them back at the next open (and
        `verify` finds what was edited)."""
        present = {r[0] for r in self._query("SELECT name FROM sqlite_master WHERE type='trigger'")}
        if stored >= SCHEMA_VERSION and present >= TRIGGERS.keys():
            return
        try:
            with self._write() as conn:
                for trigger in TRIGGERS.values():
                    conn.execute(trigger)  # IF NOT EXISTS: a concurrent upgrade is harmless
                conn.execute(
                    "UPDATE monitor_meta SET value = ? WHERE key = 'schema_version' "
                    "AND CAST(value AS INTEGER) < ?",
                    (str(SCHEMA_VERSION), SCHEMA_VERSION),
                )
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc

    # --- transactions ---------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Hold the process lock and SQLite's write lock; commit on success, else roll back."""
        if self.read_only:
            raise LogReadOnlyError(
                f"{self.path} was opened read-only (read_only=True), so nothing can be "
                "written to it; open it without read_only to write"
            )
        with self._lock:
            conn = self._conn
            self._begin_immediate(conn)
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        """Roll back what is left of a failed transaction, keeping the original error.

        After SQLITE_FULL, SQLITE_IOERR and a few others SQLite has already rolled the
        transaction back itself; an unconditional ROLLBACK then fails with "cannot rollback -
        no transaction is active", and that error, not the real one, reached the user."""
        if conn.in_transaction:
            with suppress(sqlite3.Error):  # the original error is the one worth reporting
                conn.execute("ROLLBACK")

    def _begin_immediate(self, conn: sqlite3.Connection) -> None:
        # busy_timeout already waits inside SQLite; this loop only covers the cases where
        # SQLite returns BUSY at once (e.g. a WAL recovery in progress in another process).
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise translate(exc, self.path) from exc
                if time.monotonic() >= deadline:
                    raise LogLockedError(
                        f"{self.path} is locked by another process (waited "
                        f"{self._timeout:g}s); is another writer stuck? raise the timeout "
                        "with sqlite:///PATH?timeout=SECONDS"
                    ) from exc
                time.sleep(0.01)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise translate(exc, self.path) from exc

    # --- the log --------------------------------------------------------------------------

    def append(
        self, records: Sequence[NewRecord], *, checkpoint: tuple[str, int] | None = None
    ) -> AppendResult:
        records = list(records)
        if not records and checkpoint is None:
            return AppendResult(())
        try:
            with self._write() as conn:
                existing = self._existing_keys(conn, records)
                row = conn.execute(
                    "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
                ).fetchone()
                position, previous = (row[0], row[1]) if row else (0, GENESIS)
                if records:
                    self._refuse_past_head(conn, position)
                rows, positions = number_batch(
                    records, existing, position, previous, time.time_ns() // 1000
                )
                if rows:
                    conn.executemany(INSERT, rows)
                if checkpoint is not None:
                    conn.execute(
                        "INSERT INTO checkpoints VALUES (?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET position = excluded.position",
                        checkpoint,
                    )
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        if rows:
            with self._appended:
                self._appended.notify_all()
        return AppendResult(positions)

    def _import_verified(self, records: Sequence[Record]) -> None:
        """Store `records` exactly as they are (positions, times, hashes) after the last one
        stored: what `salvage` copies from a damaged log. Each must continue the chain, which
        is checked again here, inside the write lock, so this can never break it."""
        try:
            with self._write() as conn:
                row = conn.execute(
                    "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
                ).fetchone()
                position, previous = (row[0], row[1]) if row else (0, GENESIS)
                for record in records:
                    position += 1
                    if record.position != position or record_hash(previous, record) != record.hash:
                        raise LogCorruptedError(
                            f"{self.path}: record {record.position} does not continue the "
                            f"chain at position {position}; nothing of this batch was stored"
                        )
                    previous = record.hash
                conn.executemany(INSERT, [attrs.astuple(r) for r in records])
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc

    @staticmethod
    def _refuse_past_head(conn: sqlite3.Connection, head: int) -> None:
        """Refuse new records while a checkpoint is past the head (see `EventLog`): they
        would take positions that something already folded, and be skipped by it. Costs one
        look at the few checkpoint rows per append, not per record."""
        (top,) = conn.execute(TOP_CHECKPOINT).fetchone()
        if top is not None and top > head:
            past = [
                CheckpointPastHead(kind, name, position, head)
                for kind, name, position in sorted(conn.execute(ALL_CHECKPOINTS))
                if position > head
            ]
            raise past_head_error(past)

    @staticmethod
    def _existing_keys(conn: sqlite3.Connection, records: Sequence[NewRecord]) -> set[str]:
        keys = list({r.dedupe_key for r in records if r.dedupe_key is not None})
        found: set[str] = set()
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = keys[start : start + KEY_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in conn.execute(
                    f"SELECT dedupe_key FROM events WHERE dedupe_key IN ({marks})", chunk
                )
            )
        return found

    def read_page(
        self, after: int, limit: int, types: Collection[str] | None = None
    ) -> list[Record]:
        if types is None:
            rows = self._query(
                SELECT + "WHERE position > ? ORDER BY position LIMIT ?", (after, limit)
            )
        else:
            wanted = sorted(types)
            marks = ",".join("?" * len(wanted))
            rows = self._query(
                SELECT + f"WHERE position > ? AND type IN ({marks}) ORDER BY position LIMIT ?",
                (after, *wanted, limit),
            )
        return [Record(*row) for row in rows]

    def read_key_prefix(
        self, prefix: str, types: Collection[str], *, until: int | None = None
    ) -> list[Record]:
        # A range on the dedupe key index: keys starting with `prefix` sort between it and
        # the prefix with its last character raised by one (BINARY collation).
        high = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        wanted = sorted(types)
        marks = ",".join("?" * len(wanted))
        rows = self._query(
            SELECT + f"WHERE dedupe_key >= ? AND dedupe_key < ? AND type IN ({marks}) "
            "AND position <= ? ORDER BY position",
            (prefix, high, *wanted, until if until is not None else 2**62),
        )
        return [Record(*row) for row in rows]

    def read_positions(self, positions: Sequence[int]) -> list[Record]:
        found: list[Record] = []
        for start in range(0, len(positions), KEY_CHUNK):
            chunk = list(positions[start : start + KEY_CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                SELECT + f"WHERE position IN ({marks}) ORDER BY position", tuple(chunk)
            )
            found.extend(Record(*row) for row in rows)
        return found

    def head(self) -> int:
        return self._query("SELECT coalesce(max(position), 0) FROM events")[0][0]

    def wait(self, after: int, timeout: float) -> bool:
        # Appends from this process wake us at once; appends from other processes are seen
        # by polling, since SQLite has no cross-process notification.
        deadline = time.monotonic() + timeout
        while True:
            if self.head() > after:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._appended:
                self._appended.wait(min(0.1, remaining))

    # --- checkpoints and projection state -------------------------------------------------

    def get_checkpoint(self, name: str) -> int:
        rows = self._query("SELECT position FROM checkpoints WHERE name = ?", (name,))
        return rows[0][0] if rows else 0

    def set_checkpoint(self, name: str, position: int) -> None:
        self.append([], checkpoint=(name, position))

    def checkpoint_positions(self) -> list[tuple[str, str, int]]:
        return [tuple(row) for row in self._query(ALL_CHECKPOINTS)]

    def projection_state(self, name: str) -> ProjectionState | None:
        rows = self._query("SELECT version, position FROM projections WHERE name = ?", (name,))
        return ProjectionState(*rows[0]) if rows else None

    def projection_get(self, name: str, key: str) -> Any | None:
        rows = self._query(
            "SELECT value FROM projection_rows WHERE name = ? AND key = ?", (name, key)
        )
        return json.loads(rows[0][0]) if rows else None

    def projection_scan(
        self,
        name: str,
        prefix: str = "",
        *,
        reverse: bool = False,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[tuple[str, Any]]:
        sql, params = projection_scan_query(
            "SELECT key, value FROM projection_rows WHERE name = ?",
            name,
            prefix,
            reverse=reverse,
            limit=limit,
            after=after,
            mark="?",
        )
        return [(k, json.loads(v)) for k, v in self._query(sql, params)]

    def commit_projection(
        self, name: str, version: int, position: int, changes: Mapping[str, Any | None]
    ) -> None:
        upserts = [
            (name, k, json.dumps(v, sort_keys=True, separators=(",", ":")))
            for k, v in changes.items()
            if v is not None
        ]
        deletes = [(name, k) for k, v in changes.items() if v is None]
        try:
            with self._write() as conn:
                if deletes:
                    conn.executemany(
                        "DELETE FROM projection_rows WHERE name = ? AND key = ?", deletes
                    )
                if upserts:
                    conn.executemany(
                        "INSERT INTO projection_rows VALUES (?, ?, ?) "
                        "ON CONFLICT(name, key) DO UPDATE SET value = excluded.value",
                        upserts,
                    )
                conn.execute(
                    "INSERT INTO projections VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE "
                    "SET version = excluded.version, position = excluded.position",
                    (name, version, position),
                )
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc

    def drop_projection(self, name: str) -> None:
        try:
            with self._write() as conn:
                conn.execute("DELETE FROM projection_rows WHERE name = ?", (name,))
                conn.execute("DELETE FROM projections WHERE name = ?", (name,))
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc

    def with_connection(self, operation: Callable[[Any], _T], *, write: bool = False) -> _T:
        try:
            if write:
                with self._write() as conn:
                    return operation(conn)
            with self._lock:
                return operation(self._conn)
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc

    def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        if not ttl > 0:
            raise ValueError(f"lease ttl must be a positive number of seconds, not {ttl!r}")
        now = time.time_ns() // 1000  # wall clock: the processes sharing the file share it
        try:
            with self._write() as conn:
                cursor = conn.execute(
                    "INSERT INTO leases VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE "
                    "SET owner = excluded.owner, expires_at = excluded.expires_at "
                    "WHERE leases.expires_at < ? OR leases.owner = excluded.owner",
                    (name, owner, now + round(ttl * 1_000_000), now),
                )
                return cursor.rowcount == 1
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc

    def release_lease(self, name: str, owner: str) -> None:
        try:
            with self._write() as conn:
                conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

"""`PostgresLog`: the log in a PostgreSQL schema, shared by watchers on several machines.

Why these choices:

* **Positions: one advisory transaction lock per append.** A sequence is not enough: writer A
  takes id 7, writer B takes id 8 and commits first, a follower reads 8 and moves on, then A
  commits 7 behind its back. So every append first takes ``pg_advisory_xact_lock(K)`` (K is
  derived from the schema name), then reads the last position and hash and numbers its records
  from there. Writers are serialized; PostgreSQL makes a commit visible before it releases the
  transaction's locks, so the next writer's snapshot (taken after it got the lock) sees the
  previous records, and *commit order equals position order*: a reader that sees position n has
  already been able to see every position below n. Positions stay gap-free because nothing is
  numbered outside the lock (a rolled-back append numbered nothing that anyone kept). A
  transaction-id fence would allow parallel writers but needs snapshot bookkeeping in every
  reader; watchers append a few hundred items a minute, so one short critical section (a few
  round trips) costs nothing that matters. An advisory lock rather than ``LOCK TABLE``: it does
  not conflict with autovacuum, index builds or readers.
* **Dedupe.** Inside the lock the keys of the batch are looked up (no other writer can insert
  between the look-up and the insert), and a unique index on ``dedupe_key`` backs that up, so a
  key is stored once across processes and machines.
* **Hash chain.** Identical to the other backends (`chain_hash`); ``recorded_at`` is the
  server's clock, read inside the lock, so it is one clock for every machine.
* **Followers** LISTEN on a channel named after the schema on a dedicated connection; each
  append sends ``pg_notify`` with its last position inside its transaction (delivered at
  commit). Without a notification `wait` still re-reads the head every `poll_interval` seconds.
* **Connection loss.** Every operation runs on a connection that is reopened with exponential
  backoff (for at most `reconnect_timeout` seconds, then `LogUnavailableError`). An append that
  fails before COMMIT was sent is simply retried; one that fails while committing is checked
  after reconnecting: if the record at its last position carries the hash it computed, the
  append did commit and its result is returned, otherwise it is retried. An append thus either
  returns (committed, exactly once) or raises.
* **Projections.** `commit_projection` writes the rows and the checkpoint in one transaction
  that first takes a per-projection advisory lock, so two processes committing the same
  projection take turns instead of deadlocking on its rows. A deadlock or serialization
  failure that happens anyway is retried (the transaction was rolled back whole).
* **Leases** (`acquire_lease`) are rows upserted atomically with
  ``ON CONFLICT ... DO UPDATE ... WHERE expires_at < now() OR owner = me``, timed by the server
  clock, so watchers on machines with skewed clocks still agree.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from ..errors import LogCorruptedError, LogError, LogReadOnlyError, LogSchemaError
from ._base import (
    AppendResult,
    CheckpointPastHead,
    EventLog,
    NewRecord,
    ProjectionState,
    Record,
    past_head_error,
)
from ._chain import GENESIS, number_batch
from ._pg_connection import ReconnectingConnection, transaction
from ._pg_sql import APPEND_ONLY_DDL, APPEND_ONLY_TRIGGERS, DDL, OUR_TABLES, STATEMENTS
from ._scan_sql import projection_scan_query

__all__ = ["PostgresLog"]

_T = TypeVar("_T")

#: 1: the first release. 2: triggers make the events table append-only (`_install_triggers`).
SCHEMA_VERSION = 2
_FALSE = ("false", "0", "no", "off", "")
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,47}")
#: URL query parameters that are options of this class, not of libpq.
_OPTIONS = (
    "schema",
    "lock_timeout",
    "reconnect_timeout",
    "poll_interval",
    "connect_timeout",
    "read_only",
)


class PostgresLog(EventLog):
    """The event log in schema `schema` of a PostgreSQL database; see the module docstring.

    Thread-safe. Holds three connections: one for appends and other writes, one for reads (so
    a reader is never queued behind a writer waiting for the append lock) and one that LISTENs.

    Args:
        url: ``postgresql://user[:password]@host[:port]/dbname[?param=value...]``; libpq
            parameters in the query are passed on, the keyword options below may be given
            there too (``?schema=monitor_b&lock_timeout=5``).
        schema: the schema holding the log's tables, created if missing. Watchers that should
            share one log use the same database and schema.
        lock_timeout: seconds an append waits for the append lock before `LogLockedError`.
        reconnect_timeout: seconds to keep reconnecting before `LogUnavailableError`.
        poll_interval: the slow poll of `wait` when no notification arrives.
        connect_timeout: seconds one connection attempt may take.
        application_name: shown in ``pg_stat_activity`` for our connections.
        read_only: only read (``?read_only=1``): nothing is created or upgraded, every
            write raises `LogReadOnlyError`, and the sessions are read-only on the server
            too (``default_transaction_read_only``), so a role with SELECT alone suffices.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "monitor",
        lock_timeout: float | str = 30.0,
        reconnect_timeout: float | str = 30.0,
        poll_interval: float | str = 1.0,
        connect_timeout: float | str = 5.0,
        application_name: str = "news-monitor",
        read_only: bool | str = False,
    ) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        options = {k: query.pop(k) for k in _OPTIONS if k in query}
        schema = options.get("schema", schema)
        if not _SCHEMA_NAME.fullmatch(schema):
            raise LogError(
                f"invalid schema name {schema!r}: use letters, digits and _ (at most 48, "
                "not starting with a digit)"
            )
        query.setdefault("application_name", application_name)
        seconds = _seconds("connect_timeout", options.get("connect_timeout", connect_timeout))
        query.setdefault("connect_timeout", str(max(1, round(seconds))))
        self.schema = schema
        self.read_only = str(options.get("read_only", read_only)).lower() not in _FALSE
        if "schema" not in options and schema != "monitor":  # so that `url` reopens this log
            url = urlunsplit(
                parts._replace(query="&".join(filter(None, [parts.query, f"schema={schema}"])))
            )
        self.url = url
        self.application_name = query["application_name"]
        # libpq decodes %XX in a URI but takes "+" literally: quote spaces as %20, not "+".
        self._conninfo = urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
        self._where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        self._lock_timeout = _seconds("lock_timeout", options.get("lock_timeout", lock_timeout))
        reconnect = _seconds(
            "reconnect_timeout", options.get("reconnect_timeout", reconnect_timeout)
        )
        self._poll_interval = _seconds("poll_interval", options.get("poll_interval", poll_interval))
        digest = hashlib.sha256(f"news-monitor log {schema}".encode()).digest()
        self._lock_key = int.from_bytes(digest[:8], "big", signed=True)
        self._lock_key32 = int.from_bytes(digest[8:12], "big", signed=True)
        self._channel = f"monitor_log_{schema}"
        ident = sql.Identifier(schema).as_string(None)
        self._sql = {name: text.replace("{s}", ident) for name, text in STATEMENTS.items()}
        self._ddl = DDL.replace("{s}", ident)
        self._append_only_ddl = {k: v.replace("{s}", ident) for k, v in APPEND_ONLY_DDL.items()}
        self._listen_sql = f"LISTEN {sql.Identifier(self._channel).as_string(None)}"
        self._writer = ReconnectingConnection(
            self._conninfo, self._where, reconnect_timeout=reconnect, configure=self._configure
        )
        self._reader = ReconnectingConnection(
            self._conninfo, self._where, reconnect_timeout=reconnect, configure=self._configure
        )
        self._listener_lock = threading.Lock()
        self._listener: psycopg.Connection | None = None
        self._notified = 0
        self._closed = False
        try:
            self._writer.run(self._prepare)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        parts = urlsplit(self.url)
        if parts.password:  # never print a password into a log file
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return f"<PostgresLog {urlunsplit(parts._replace(netloc=netloc))}>"
        return super().__repr__()

    # --- opening --------------------------------------------------------------------------

    def _prepare(self, conn: psycopg.Connection) -> None:
        schema = self.schema
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
            )
        }
        if tables and "monitor_meta" not in tables:
            shown = ", ".join(sorted(tables)[:5]) + (" ..." if len(tables) > 5 else "")
            raise LogSchemaError(
                f"schema {schema!r} in {self._where} belongs to another application "
                f"(tables: {shown}); choose another schema with ?schema=NAME"
            )
        if self.read_only and not tables >= OUR_TABLES:
            raise LogError(
                f"schema {schema!r} in {self._where} holds no log (opened read-only, so "
                "none was created); check the URL's database and ?schema="
            )
        if not tables >= OUR_TABLES:
            with transaction(conn):
                conn.execute(self._sql["lock"], (self._lock_key,))  # one creator at a time
                for statement in self._ddl.split(";"):
                    conn.execute(statement)
        row = conn.execute(
            f"SELECT value FROM {sql.Identifier(schema).as_string(None)}.monitor_meta "
            "WHERE key = 'schema_version'"
        ).fetchone()
        if row is None:
            raise LogCorruptedError(
                f"schema {schema!r} in {self._where}: the log's metadata row is missing "
                "(was monitor_meta emptied by hand?)"
            )
        if int(row[0]) > SCHEMA_VERSION:
            raise LogSchemaError(
                f"schema {schema!r} in {self._where} was written by a newer news-monitor "
                f"(log schema {row[0]}, this program knows {SCHEMA_VERSION}); "
                "upgrade news-monitor"
            )
        if not self.read_only:
            self._install_triggers(conn, int(row[0]))

    def _install_triggers(self, conn: psycopg.Connection, stored: int) -> None:
        """Make the events table refuse UPDATE, DELETE and TRUNCATE (schema version 2).

        Idempotent and safe when several watchers open the log at once: the missing triggers
        are looked up again under the append lock before any is created. A log made by an
        older release gets them the first time it is opened by a role that may create
        triggers on the table (its owner). The watcher's own role should not own the table
        (see README, Integrity and recovery); when such a role opens a log that still lacks
        the triggers, they cannot be added, and the error says who must open it once."""

        def missing() -> list[str]:
            present = {r[0] for r in conn.execute(self._sql["triggers"])}
            return [t for t in APPEND_ONLY_TRIGGERS if t not in present]

        if stored >= SCHEMA_VERSION and not missing():
            return
        try:
            with transaction(conn):
                conn.execute(self._sql["lock"], (self._lock_key,))
                absent = missing()
                if absent:
                    conn.execute(self._append_only_ddl["function"])
                for name in absent:
                    conn.execute(self._append_only_ddl[name])
                conn.execute(self._sql["set_version"], (str(SCHEMA_VERSION), SCHEMA_VERSION))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise LogSchemaError(
                f"schema {self.schema!r} in {self._where} was made by an older news-monitor "
                "and its events table has no append-only triggers yet; this role may not "
                "add them. Open the log once as the owner of that table (for example "
                "`monitor --db URL stats`), then start the watchers again"
            ) from exc

    def _configure(self, conn: psycopg.Connection) -> None:
        """Session settings of each new connection (the writer's and the reader's)."""
        if self.read_only:
            conn.execute("SET default_transaction_read_only = on")
        conn.execute(
            "SELECT set_config('lock_timeout', %s, false)",
            (f"{max(1, round(self._lock_timeout * 1000))}ms",),
        )

    # --- the log --------------------------------------------------------------------------

    def append(
        self, records: Sequence[NewRecord], *, checkpoint: tuple[str, int] | None = None
    ) -> AppendResult:
        self._writable()
        records = list(records)
        if not records and checkpoint is None:
            return AppendResult(())
        tried: dict[str, Any] = {}  # what an attempt that may have committed wrote

        def attempt(conn: psycopg.Connection) -> AppendResult:
            if tried:
                row = conn.execute(self._sql["hash_at"], (tried["last"],)).fetchone()
                if row is not None and bytes(row[0]) == tried["hash"]:
                    return tried["result"]  # it did commit before the connection broke
                tried.clear()
            with transaction(conn):
                conn.execute(self._sql["lock"], (self._lock_key,))
                keys = list({r.dedupe_key for r in records if r.dedupe_key is not None})
                head, previous, now, found, top = conn.execute(
                    self._sql["head"], (keys,)
                ).fetchone()
                if records and top is not None and top > (head or 0):
                    self._refuse_past_head(conn, head or 0)
                previous = bytes(previous) if previous is not None else GENESIS
                rows, numbered = number_batch(records, set(found or ()), head or 0, previous, now)
                result = AppendResult(numbered)
                if len(rows) == 1:
                    conn.execute(self._sql["insert"], rows[0])
                elif rows:
                    with conn.cursor().copy(self._sql["copy"]) as copy:
                        for row in rows:
                            copy.write_row(row)
                if checkpoint is not None:
                    conn.execute(self._sql["checkpoint"], checkpoint)
                if rows:
                    last, last_hash = rows[-1][0], rows[-1][6]
                    self._announce(conn, last)
                    tried.update(last=last, hash=last_hash, result=result)
            return result

        return self._writer.run(attempt)

    def _refuse_past_head(self, conn: psycopg.Connection, head: int) -> None:
        """Refuse new records while a checkpoint is past the head (see `EventLog`)."""
        past = [
            CheckpointPastHead(kind, name, position, head)
            for kind, name, position in sorted(conn.execute(self._sql["checkpoints"]))
            if position > head
        ]
        raise past_head_error(past)

    def _writable(self) -> None:
        """Refuse a write on a log opened read-only, before touching the server."""
        if self.read_only:
            raise LogReadOnlyError(
                f"the log in schema {self.schema!r} at {self._where} was opened read-only "
                "(read_only=True), so nothing can be written to it; open it without "
                "read_only to write"
            )

    def _announce(self, conn: psycopg.Connection, position: int) -> None:
        """Queue the notification of the new head; PostgreSQL delivers it at commit."""
        conn.execute(self._sql["notify"], (self._channel, str(position)))

    def read_page(
        self, after: int, limit: int, types: Collection[str] | None = None
    ) -> list[Record]:
        if types is None:
            query, params = self._sql["page"], (after, limit)
        else:
            query, params = self._sql["page_types"], (after, sorted(types), limit)

        def page(conn: psycopg.Connection) -> list[Record]:
            rows = conn.execute(query, params, binary=True).fetchall()
            return [Record(p, t, v, bytes(d), k, r, bytes(h)) for p, t, v, d, k, r, h in rows]

        return self._reader.run(page)

    def read_positions(self, positions: Sequence[int]) -> list[Record]:
        wanted = list(positions)

        def read(conn: psycopg.Connection) -> list[Record]:
            rows = conn.execute(self._sql["positions"], (wanted,), binary=True).fetchall()
            return [Record(p, t, v, bytes(d), k, r, bytes(h)) for p, t, v, d, k, r, h in rows]

        return self._reader.run(read) if wanted else []

    def head(self) -> int:
        return self._reader.run(lambda c: c.execute(self._sql["max"]).fetchone()[0])

    def wait(self, after: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if self._notified > after or self.head() > after:
            return True
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            slice_ = min(remaining, self._poll_interval)
            if self._listener_lock.acquire(timeout=slice_):
                try:
                    heard = self._listen(after, slice_)
                finally:
                    self._listener_lock.release()
                if heard:
                    return True
            if self._notified > after or self.head() > after:
                return True

    def _listen(self, after: int, timeout: float) -> bool:
        """Consume notifications for up to `timeout` seconds; True once one names a position
        after `after`. Returns False at once after (re)connecting, so the caller re-reads the
        head: notifications sent while nobody listened are gone."""
        conn = self._listener
        if self._closed:
            return False
        if conn is None or conn.closed:
            try:
                conn = psycopg.connect(self._conninfo, autocommit=True)
                conn.execute(self._listen_sql)
            except psycopg.Error:
                time.sleep(timeout)  # the server is away: fall back to the slow poll
                return False
            self._listener = conn
            return False
        deadline = time.monotonic() + timeout
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                for note in conn.notifies(timeout=remaining, stop_after=1):
                    self._notified = max(self._notified, int(note.payload or 0))
                if self._notified > after:
                    return True
        except psycopg.Error:
            conn.close()
            self._listener = None
        return False

    # --- checkpoints, projection state, leases --------------------------------------------

    def get_checkpoint(self, name: str) -> int:
        row = self._reader.run(lambda c: c.execute(self._sql["get_checkpoint"], (name,)).fetchone())
        return row[0] if row else 0

    def set_checkpoint(self, name: str, position: int) -> None:
        self.append([], checkpoint=(name, position))

    def checkpoint_positions(self) -> list[tuple[str, str, int]]:
        rows = self._reader.run(lambda c: c.execute(self._sql["checkpoints"]).fetchall())
        return [tuple(row) for row in rows]

    def projection_state(self, name: str) -> ProjectionState | None:
        row = self._reader.run(lambda c: c.execute(self._sql["state"], (name,)).fetchone())
        return ProjectionState(*row) if row else None

    def projection_get(self, name: str, key: str) -> Any | None:
        row = self._reader.run(lambda c: c.execute(self._sql["get"], (name, key)).fetchone())
        return json.loads(row[0]) if row else None

    def projection_scan(
        self,
        name: str,
        prefix: str = "",
        *,
        reverse: bool = False,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[tuple[str, Any]]:
        query, params = projection_scan_query(
            self._sql["scan"],
            name,
            prefix,
            reverse=reverse,
            limit=limit,
            after=after,
            mark="%s",
        )
        rows = self._reader.run(lambda c: c.execute(query, params).fetchall())
        return [(k, json.loads(v)) for k, v in rows]

    def commit_projection(
        self, name: str, version: int, position: int, changes: Mapping[str, Any | None]
    ) -> None:
        self._writable()
        upserts = [
            (name, k, json.dumps(v, sort_keys=True, separators=(",", ":")))
            for k, v in changes.items()
            if v is not None
        ]
        deletes = [k for k, v in changes.items() if v is None]

        def commit(conn: psycopg.Connection) -> None:
            # Re-running after a lost connection is harmless: it writes the same values.
            with transaction(conn):
                # Two processes committing the same projection take turns instead of locking
                # its rows in different orders (a deadlock).
                conn.execute(self._sql["projection_lock"], (self._lock_key32, name))
                if deletes:
                    conn.execute(self._sql["delete_keys"], (name, deletes))
                if upserts:
                    conn.cursor().executemany(self._sql["upsert"], upserts)
                conn.execute(self._sql["set_state"], (name, version, position))

        self._writer.run(commit)

    def drop_projection(self, name: str) -> None:
        self._writable()

        def drop(conn: psycopg.Connection) -> None:
            with transaction(conn):
                conn.execute(self._sql["projection_lock"], (self._lock_key32, name))
                conn.execute(self._sql["drop_rows"], (name,))
                conn.execute(self._sql["drop_state"], (name,))

        self._writer.run(drop)

    def with_connection(self, operation: Callable[[Any], _T], *, write: bool = False) -> _T:
        if not write:
            return self._reader.run(operation)
        self._writable()

        def in_transaction(conn: psycopg.Connection) -> _T:
            with transaction(conn):
                return operation(conn)

        return self._writer.run(in_transaction)

    def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        if not ttl > 0:
            raise ValueError(f"lease ttl must be a positive number of seconds, not {ttl!r}")
        self._writable()
        row = self._writer.run(
            lambda c: c.execute(self._sql["acquire"], (name, owner, float(ttl))).fetchone()
        )
        return row is not None

    def release_lease(self, name: str, owner: str) -> None:
        self._writable()
        self._writer.run(lambda c: c.execute(self._sql["release"], (name, owner)))

    def close(self) -> None:
        self._closed = True
        for conn in (self._writer, self._reader):
            conn.shutdown()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()


def _seconds(name: str, value: float | str) -> float:
    """`value` (a keyword or URL option) as a non-negative number of seconds."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0:
        raise LogError(f"{name} must be a number of seconds, not {value!r}")
    return seconds

"""The SQLite log's file format and its failure modes: the schema, how a new file is created
without ever being seen half made, and how sqlite3 errors become `LogError`s that say what to
do. Split from `_sqlite` so that module holds only the log's behaviour.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import suppress
from pathlib import Path

from ..errors import (
    LogCorruptedError,
    LogError,
    LogFullError,
    LogLockedError,
    LogReadOnlyError,
)

__all__ = [
    "ALL_CHECKPOINTS",
    "APPEND_ONLY",
    "APPLICATION_ID",
    "INSERT",
    "KEY_CHUNK",
    "OUR_TABLES",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SELECT",
    "TOP_CHECKPOINT",
    "TRIGGERS",
    "create_atomically",
    "is_busy",
    "is_full",
    "translate",
]

APPLICATION_ID = 0x4E4D4F4E
#: 1: the first release. 2: the events table refuses UPDATE and DELETE (triggers `TRIGGERS`);
#: a version-1 log gets them the first time this program opens it read-write.
SCHEMA_VERSION = 2

#: What the database says to anyone who tries to change or delete a record, whatever the
#: program: the log's promise "records are never updated or deleted" is kept by the file
#: itself, not only by this code.
APPEND_ONLY = (
    "news-monitor: the event log is append-only; records are never updated or deleted "
    "(see the README, Integrity and recovery)"
)
#: Kept apart from `SCHEMA`, whose statements are split on ";" (a trigger body has one).
TRIGGERS = {
    "events_no_update": "CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
    "events_no_delete": "CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
}

# Leases (owner, expiry in microseconds since the epoch); also created on first use in logs
# made before leases existed.
LEASES = """
CREATE TABLE IF NOT EXISTS leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS monitor_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    position    INTEGER PRIMARY KEY,
    type        TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    dedupe_key  TEXT,
    recorded_at INTEGER NOT NULL,
    data        BLOB    NOT NULL,
    hash        BLOB    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_dedupe_key
    ON events (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS checkpoints (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS projections (
    name     TEXT PRIMARY KEY,
    version  INTEGER NOT NULL,
    position INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS projection_rows (
    name  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
) WITHOUT ROWID;
"""
SCHEMA += LEASES

OUR_TABLES = frozenset(
    {"monitor_meta", "events", "checkpoints", "projections", "projection_rows", "leases"}
)
INSERT = (
    "INSERT INTO events (position, type, version, data, dedupe_key, recorded_at, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
SELECT = "SELECT position, type, version, data, dedupe_key, recorded_at, hash FROM events "
#: Every checkpoint as (kind, name, position); and the highest position among them.
ALL_CHECKPOINTS = (
    "SELECT 'subscriber', name, position FROM checkpoints "
    "UNION ALL SELECT 'projection', name, position FROM projections"
)
TOP_CHECKPOINT = (
    "SELECT max(position) FROM "
    "(SELECT position FROM checkpoints UNION ALL SELECT position FROM projections)"
)
KEY_CHUNK = 500  # stays under SQLite's default limit of bound parameters per statement


def create_atomically(path: Path) -> None:
    """Create a new, empty log at `path` so that no other process ever sees it half made.

    `sqlite3.connect` creates a 0-byte file that gets its header only at the first write; a
    second process opening the path in between (two watchers started at once) would find an
    empty file, which is refused as damaged. So the new log is built in a private file beside
    it and hard-linked into place: the path either does not exist or holds a complete log. If
    another process links its file first, ours is dropped and theirs is used. Where hard links
    are not supported, SQLite creates the file in place as before.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.new")
    try:
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            for trigger in TRIGGERS.values():
                conn.execute(trigger)
            conn.execute(
                "INSERT INTO monitor_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        finally:
            conn.close()  # the last connection folds the WAL into the file and removes it
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created the log first; use theirs
        except OSError:
            pass  # no hard links here: sqlite3.connect will create the file in place
    except sqlite3.Error as exc:
        raise translate(exc, path) from exc
    finally:
        for suffix in ("", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                os.unlink(f"{tmp}{suffix}")


def is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc)
    return "locked" in text or "busy" in text


def translate(exc: sqlite3.Error, path: Path) -> LogError:
    """Turn an sqlite3 error into the `LogError` that tells the user what to do."""
    text = str(exc)
    if isinstance(exc, LogError):
        return exc
    if is_busy(exc):
        return LogLockedError(f"{path} is locked by another process: {text}")
    if "readonly" in text or "read-only" in text:
        return LogReadOnlyError(
            f"{path} cannot be written ({text}); check the permissions of the file and of "
            "its directory (SQLite needs to create the -wal and -shm files beside it)"
        )
    if "unable to open" in text:
        parent = path.parent if str(path.parent) else Path(".")
        if not os.access(parent, os.W_OK):
            return LogReadOnlyError(f"cannot open {path}: directory {parent} is not writable")
        return LogError(f"cannot open {path}: {text}")
    if "not a database" in text or "file is encrypted" in text:
        return LogCorruptedError(f"{path} is not a monitor log (not an SQLite database)")
    if "malformed" in text or "corrupt" in text:
        return LogCorruptedError(
            f"{path} is damaged ({text}); restore it from a backup, or copy every record "
            f"that still verifies into a new log with `monitor salvage {path} NEW.db`"
        )
    if is_full(exc):
        return LogFullError(
            f"cannot write to {path}: the disk holding it is full, or the database reached "
            f"its size limit ({text}); nothing of this write was stored and every record "
            "stored before is intact. Free space on that disk, then try again"
        )
    if APPEND_ONLY in text:
        return LogError(f"{path}: {APPEND_ONLY}")
    return LogError(f"{path}: {text}")


def is_full(exc: sqlite3.Error) -> bool:
    """Whether `exc` is SQLITE_FULL: the disk, or ``PRAGMA max_page_count``, is exhausted."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF == sqlite3.SQLITE_FULL:
        return True
    return "disk is full" in str(exc)

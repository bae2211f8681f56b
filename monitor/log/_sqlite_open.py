"""Opening the SQLite log's file, read-write or read-only: the checks made before SQLite
touches a path, and how a log on read-only media is read. Split from `_sqlite` so that module
holds the log's behaviour."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from ..errors import LogCorruptedError, LogError, LogReadOnlyError
from ._sqlite_schema import create_atomically, translate

__all__ = ["connect", "connect_read_only", "flag"]


def connect(path: Path, timeout: float, *, create: bool) -> sqlite3.Connection:
    """Open `path` read-write, creating a new log there first when it does not exist and
    `create` is set; refuse a directory, an empty file and a directory we cannot write."""
    if path.is_dir():
        raise LogError(f"{path} is a directory; give the path of a log file inside it")
    exists = path.exists()
    if exists and path.stat().st_size == 0:
        raise LogCorruptedError(
            f"{path} is an empty file, not a monitor log (a truncated copy?); "
            "move it away to start a new log there"
        )
    if not exists:
        if not create:
            raise LogError(f"{path} does not exist")
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise LogError(f"cannot create {path}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise LogReadOnlyError(f"cannot create {path}: directory {parent} is not writable")
        create_atomically(path)
    try:
        conn = sqlite3.connect(
            str(path),
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise translate(exc, path) from exc
    return conn


def connect_read_only(path: Path, timeout: float) -> sqlite3.Connection:
    """Open the file with ``mode=ro``: SQLite then never writes the file.

    A WAL database opened read-only still needs its ``-shm`` index, which SQLite creates
    beside the file. In a directory we cannot write, with no ``-shm`` there, that fails;
    when there is no ``-wal`` file either, every record is in the main file (the last
    connection folded the WAL in and removed it) and no writer is active (a writer keeps
    the ``-wal`` open), so the file is opened ``immutable=1``, which needs no ``-shm``.
    A ``-wal`` left beside the file without a ``-shm`` cannot be read this way: that is
    refused, saying to copy the files somewhere writable."""
    if path.is_dir():
        raise LogError(f"{path} is a directory; give the path of a log file inside it")
    if not path.exists():
        raise LogError(f"{path} does not exist")
    if path.stat().st_size == 0:
        raise LogCorruptedError(f"{path} is an empty file, not a monitor log")
    base = "file:" + quote(str(path.resolve())) + "?mode=ro"
    try:
        return _probe(base, timeout)
    except sqlite3.OperationalError as exc:
        wal = Path(f"{path}-wal")
        if not _cannot_open(exc):
            raise translate(exc, path) from exc
        if wal.exists() and wal.stat().st_size > 0:
            raise LogReadOnlyError(
                f"cannot read {path} read-only: its write-ahead log {wal.name} holds "
                f"records, and SQLite cannot create {path.name}-shm beside it in "
                f"{path.parent}, which is not writable; copy {path.name} and "
                f"{wal.name} to a writable directory and open the copy"
            ) from exc
    try:
        return _probe(base + "&immutable=1", timeout)
    except sqlite3.Error as exc:
        raise translate(exc, path) from exc


def _probe(uri: str, timeout: float) -> sqlite3.Connection:
    """Connect to `uri` and read from it once (SQLite reports open errors at first use)."""
    conn = sqlite3.connect(
        uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def flag(value: bool | str) -> bool:
    """A boolean option given as a bool or as URL text (``1``, ``true``, ``0``, ``no``...)."""
    return str(value).lower() not in ("false", "0", "no", "off", "")


def _cannot_open(exc: sqlite3.Error) -> bool:
    """Whether a read-only open failed for want of a writable directory (the -shm file)."""
    name = getattr(exc, "sqlite_errorname", "")
    return name in ("SQLITE_CANTOPEN", "SQLITE_READONLY_DIRECTORY") or "unable to open" in str(exc)

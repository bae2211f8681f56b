"""`backup`: a consistent copy of a live SQLite log, taken with SQLite's online backup API.

Why not ``cp``: a log in WAL mode keeps its newest records in the ``-wal`` file until a
checkpoint folds them into the main file, and a writer may be halfway through either. A copy
of the main file alone misses records; a copy of both taken while a writer runs can pair a
main file and a WAL from different moments, which SQLite then reads as damage.

How the copy stays consistent without stopping the watcher:

* The source is opened read-only (``mode=ro``) and a read transaction is started on it before
  the first page is copied. In WAL mode a reader holds a *snapshot*: it sees the log exactly
  as it was when the transaction began, and writers are never blocked by it. Every page
  copied comes from that one snapshot, so the copy is a prefix of the log, whatever the
  watcher appends meanwhile. The head (position and hash) is read in the same transaction,
  which is what the copy is compared with.
* ``Connection.backup(pages=N, progress=...)`` copies N pages per step and reports after
  each, which drives the progress bar. Its ``sleep`` only applies when a step finds the
  source busy or locked; with the read transaction held that does not happen in WAL mode.
  Without the held transaction, SQLite restarts a stepped backup from the first page
  whenever another connection writes between two steps, so a busy watcher could keep a
  large backup from ever finishing.
* While the snapshot is held, the WAL cannot be checkpointed past it, so it grows by what
  is appended during the backup; the next checkpoint after the backup cuts it back.

The copy is written to a hidden temporary file in the destination's folder, switched out of
WAL mode (a backup is one self-contained file, with no ``-wal`` or ``-shm`` beside it),
opened read-only and verified (the hash chain, and its head against the source's head at copy
time), flushed to disk, and only then renamed onto the destination, so the destination is
either absent, the previous file (with ``force``), or a complete verified copy.

PostgreSQL logs are refused: use ``pg_dump`` (see the README, "Running it in production").
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

import attrs

from ..errors import LogCorruptedError, LogError
from ._base import EventLog
from ._open import open_log
from ._sqlite_schema import translate

__all__ = ["BackupResult", "backup"]

#: Pages per backup step: 1,024 pages is 4 MiB with SQLite's default 4 KiB pages.
PAGES_PER_STEP = 1024

PG_REFUSAL = (
    "monitor backup copies SQLite logs only; back up a PostgreSQL log with pg_dump, e.g. "
    "pg_dump --format=custom --schema=monitor --file=monitor.dump 'postgresql://...' "
    "(see the README, Running it in production)"
)


@attrs.frozen
class BackupResult:
    """What `backup` wrote.

    `records` is the copy's last position (the source's head when the copy was taken) and
    `head_hash` that record's hash in hex (None for an empty log); the copy's hash chain was
    verified up to it. `size` is the copy's size in bytes, `seconds` the time taken, `pages`
    the database pages copied."""

    source: str
    dest: str
    records: int
    head_hash: str | None
    size: int
    seconds: float
    pages: int


def backup(
    source: str | Path | EventLog,
    dest: str | Path,
    *,
    force: bool = False,
    pages: int = PAGES_PER_STEP,
    progress: Callable[[int, int], None] | None = None,
) -> BackupResult:
    """Copy the SQLite log `source` to the new file `dest`, consistently, while it is in use.

    Args:
        source: a path, a ``sqlite:///`` URL, or an open `SQLiteLog` (its file is opened
            again, read-only; the open log is not used or blocked).
        dest: the file to write. Its folder must exist.
        force: replace `dest` if it exists (it must not be in use: its ``-wal`` and ``-shm``
            files, if any, are removed with it).
        pages: database pages copied per step (at least 1).
        progress: called after every step with (pages copied, pages in all).

    Returns:
        A `BackupResult`.

    Raises:
        LogError: `source` is a PostgreSQL or in-memory log (use ``pg_dump``), `dest`
            exists and `force` is not set, `dest` is the source itself, or a file cannot
            be read or written. Nothing is left at `dest` (or the old file stays).
        LogCorruptedError: the copy's hash chain does not verify (the source's own does
            not: run ``monitor verify`` on it), or its head is not the source's.
    """
    if pages < 1:
        raise ValueError(f"pages must be at least 1, not {pages!r}")
    started = time.monotonic()
    target = Path(dest)
    with _open_source(source) as log:
        _check_dest(Path(log.path), target, force)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.backup-tmp")
        try:
            head, head_hash, copied = _copy(log, tmp, pages, progress)
            _check_copy(tmp, head, head_hash)
            _fsync(tmp)
            _move_into_place(tmp, target, force)
        finally:
            for suffix in ("", "-journal", "-wal", "-shm"):
                with suppress(FileNotFoundError):
                    os.unlink(f"{tmp}{suffix}")
        source_name = str(log.path)
    return BackupResult(
        source=source_name,
        dest=str(target),
        records=head,
        head_hash=None if head_hash is None else head_hash.hex(),
        size=target.stat().st_size,
        seconds=round(time.monotonic() - started, 3),
        pages=copied,
    )


def _open_source(source: str | Path | EventLog) -> EventLog:
    """Open the source read-only; refuse any backend but SQLite before connecting to it."""
    from ._sqlite import SQLiteLog

    if isinstance(source, EventLog):
        if not isinstance(source, SQLiteLog):
            raise LogError(_refusal(source.url))
        return SQLiteLog(source.path, read_only=True)
    text = str(source)
    _refusal_if_not_sqlite(text)
    log = open_log(text, read_only=True)
    if not isinstance(log, SQLiteLog):  # pragma: no cover - the scheme check covers it
        log.close()
        raise LogError(_refusal(text))
    return log


def _refusal_if_not_sqlite(text: str) -> None:
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres") or text in ("memory:", "memory://", ":memory:"):
        raise LogError(_refusal(text))


def _refusal(url: str) -> str:
    if url.startswith("memory"):
        return "an in-memory log has no file to back up; monitor backup copies SQLite logs"
    return PG_REFUSAL


def _check_dest(source: Path, target: Path, force: bool) -> None:
    if target.is_dir():
        raise LogError(f"{target} is a directory; give the path of the backup file inside it")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise LogError(f"cannot write {target}: directory {parent} does not exist")
    if target.exists() and os.path.samefile(target, source):
        raise LogError(f"{target} is the log being backed up; choose another path")
    if force:
        return
    for existing in (target, Path(f"{target}-wal")):
        if existing.exists():
            raise LogError(
                f"{existing} already exists; monitor backup never overwrites a file unless "
                "given --force (force=True): choose another path"
            )


def _copy(
    log: EventLog, tmp: Path, pages: int, progress: Callable[[int, int], None] | None
) -> tuple[int, bytes | None, int]:
    """Copy one snapshot of `log` into `tmp`; return its (head, head hash, pages copied)."""
    conn: sqlite3.Connection = log._conn  # type: ignore[attr-defined]
    total = 0

    def step(_status: int, remaining: int, count: int) -> None:
        nonlocal total
        total = count
        if progress is not None:
            progress(count - remaining, count)

    with log._lock:  # type: ignore[attr-defined]
        try:
            conn.execute("BEGIN")  # deferred: the SELECT below starts the read snapshot
            row = conn.execute(
                "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
            ).fetchone()
            out = sqlite3.connect(str(tmp), isolation_level=None)
            try:
                conn.backup(out, pages=pages, progress=step)
                out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                out.close()
        except sqlite3.Error as exc:
            raise translate(exc, Path(log.path)) from exc  # type: ignore[attr-defined]
        finally:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
    head, head_hash = (row[0], bytes(row[1])) if row else (0, None)
    return head, head_hash, total


def _check_copy(tmp: Path, head: int, head_hash: bytes | None) -> None:
    """Verify the copy's chain and that it ends where the source did when it was copied."""
    from ._sqlite import SQLiteLog

    with SQLiteLog(tmp, read_only=True) as copy:
        result = copy.verify()
        last = copy.read_page(head - 1, 1) if head else []
        copy_head = copy.head()
    if not result.ok:
        raise LogCorruptedError(
            f"the copy does not verify at record {result.first_bad}: {result.reason}. It was "
            "taken from one snapshot of the log, so the log itself fails there: run monitor "
            "verify on it (and monitor salvage to keep what still verifies); nothing was written"
        )
    copied_hash = bytes(last[0].hash) if last else None
    if copy_head != head or copied_hash != head_hash:
        raise LogCorruptedError(
            f"the copy ends at record {copy_head}, the log ended at {head} when it was copied "
            "(or their head hashes differ); nothing was written"
        )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(tmp: Path, target: Path, force: bool) -> None:
    """Rename the finished copy onto `target` and make the rename durable."""
    if force:
        for suffix in ("-wal", "-shm"):  # an old WAL would be replayed into the new file
            with suppress(FileNotFoundError):
                os.unlink(f"{target}{suffix}")
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)  # fails if a file appeared there meanwhile: never overwrite
        except FileExistsError as exc:
            raise LogError(
                f"{target} appeared while the backup ran; nothing was overwritten"
            ) from exc
        except OSError:
            if target.exists():
                raise LogError(f"{target} already exists; nothing was overwritten") from None
            os.replace(tmp, target)  # no hard links on this file system
    parent = target.parent if str(target.parent) else Path(".")
    with suppress(OSError):  # not every platform can open a directory
        fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

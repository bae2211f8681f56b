"""`salvage`: copy what can still be trusted out of a damaged log into a new one.

A log whose file is damaged (overwritten pages) or whose records were edited cannot be repaired
in place: the hash chain says where it breaks, not what the bytes were. What can be saved is
the longest run of records, from the first, that still reads and still verifies. `salvage`
copies exactly that run into a new SQLite log, record for record: the same positions, bytes,
times and hashes, so the new log's chain is the old one's prefix and a signed checkpoint taken
of the old log at or before the break still matches the new one. Checkpoints and projection
state are not copied (they describe records that may be gone); `monitor replay` rebuilds the
projections from the salvaged records, and subscribers start from the beginning.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs

from ..errors import LogCorruptedError, LogError
from ._base import EventLog, Record
from ._chain import GENESIS, record_hash
from ._open import open_log

__all__ = ["SalvageResult", "salvage"]

_PAGE = 1000


@attrs.frozen
class SalvageResult:
    """What `salvage` copied.

    `copied` records (positions 1 to `copied`) are in the new log `dest`. `stopped_at` is the
    first position not copied and `reason` says why (None for both when every record the
    source holds was copied). `source_head` is the last position the source claims, None when
    even that could not be read."""

    source: str
    dest: str
    copied: int
    stopped_at: int | None
    reason: str | None
    source_head: int | None

    @property
    def complete(self) -> bool:
        """Whether every record of the source was copied."""
        return self.stopped_at is None


def salvage(source: str | Path, dest: str | Path, *, page_size: int = _PAGE) -> SalvageResult:
    """Copy every record of `source` whose chain still verifies, in order, into a new SQLite
    log at `dest`; stop at the first record that cannot be read or does not verify.

    `source` is a path or URL of any backend; it is opened read-only and never written. A
    damaged SQLite file is read as far as it can be: when a page of records cannot be read,
    the records are read one by one until one cannot.

    Raises:
        LogError: `dest` already exists (nothing is overwritten), or `source` cannot be
            opened at all. An error while writing `dest` leaves it a valid log of the records
            copied so far.
    """
    from ._sqlite import SQLiteLog

    target = Path(dest)
    for existing in (target, Path(f"{target}-wal")):
        if existing.exists():
            raise LogError(
                f"{existing} already exists; salvage writes a new log and never overwrites "
                "one: choose another path"
            )
    with open_log(source, read_only=True) as old:
        source_head = _head(old)
        with SQLiteLog(target) as new:
            copied, stopped_at, reason = _copy(old, new, page_size)
        if stopped_at is None and source_head is not None and copied < source_head:
            stopped_at = copied + 1
            reason = f"record {stopped_at} cannot be read"
    return SalvageResult(str(source), str(target), copied, stopped_at, reason, source_head)


def _head(log: EventLog) -> int | None:
    try:
        return log.head()
    except LogCorruptedError:
        return None


def _copy(old: EventLog, new: EventLog, page_size: int) -> tuple[int, int | None, str | None]:
    """Copy the verified prefix of `old` into `new`; return (copied, stopped_at, reason)."""
    previous, expected = GENESIS, 1
    batch: list[Record] = []
    stopped: tuple[int | None, str | None] = (None, None)
    for record in _readable(old, page_size):
        if isinstance(record, str):
            stopped = (expected, record)
            break
        if record.position != expected:
            stopped = (expected, f"record {expected} is missing (next stored is {record.position})")
            break
        try:
            intact = record_hash(previous, record) == record.hash
        except (TypeError, ValueError, AttributeError) as exc:  # a field of the wrong type
            stopped = (expected, f"record {expected} is unreadable ({exc})")
            break
        if not intact:
            stopped = (expected, f"record {expected}'s stored hash does not match its content")
            break
        batch.append(record)
        previous, expected = record.hash, expected + 1
        if len(batch) >= page_size:
            new._import_verified(batch)  # type: ignore[attr-defined]
            batch = []
    if batch:
        new._import_verified(batch)  # type: ignore[attr-defined]
    return expected - 1, stopped[0], stopped[1]


def _readable(log: EventLog, page_size: int) -> Iterator[Record | str]:
    """Yield the records of `log` in order, then, if one cannot be read, a str saying so.

    Reads pages while they read; after a page fails, reads one record at a time, since a
    damaged page of the table stops a scan but a look-up by position may still reach the
    records around it."""
    after = 0
    size = page_size
    while True:
        try:
            page = log.read_page(after, size)
        except LogCorruptedError as exc:
            if size > 1:
                size = 1
                continue
            detail = exc.__cause__ if exc.__cause__ is not None else exc
            yield f"record {after + 1} cannot be read (the file is damaged: {detail})"
            return
        if not page:
            return
        yield from page
        after = page[-1].position

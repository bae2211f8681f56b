"""The hash chain that makes the log tamper-evident.

Each record's hash covers the previous record's hash and every stored field of the record, in a
fixed byte layout, so changing one byte anywhere (or dropping, inserting or reordering a record)
breaks every hash from that record on. Written by hand because it is twelve lines over hashlib.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["GENESIS", "chain_hash", "number_batch", "record_hash"]

#: The "previous hash" of the first record.
GENESIS = bytes(32)


def chain_hash(
    previous: bytes,
    position: int,
    type_name: str,
    version: int,
    dedupe_key: str | None,
    recorded_at: int,
    data: bytes,
) -> bytes:
    """Return sha256(previous + header + data); the header separates fields with 0x1f."""
    header = f"{position}\x1f{type_name}\x1f{version}\x1f{dedupe_key or ''}\x1f{recorded_at}\x1f"
    return hashlib.sha256(previous + header.encode("utf-8") + data).digest()


class NewRecordLike(Protocol):
    type: str
    version: int
    dedupe_key: str | None
    data: bytes


class _RecordLike(Protocol):
    position: int
    type: str
    version: int
    dedupe_key: str | None
    recorded_at: int
    data: bytes


def record_hash(previous: bytes, record: _RecordLike) -> bytes:
    """Return the chain hash `record` should have after a record whose hash is `previous`."""
    return chain_hash(
        previous,
        record.position,
        record.type,
        record.version,
        record.dedupe_key,
        record.recorded_at,
        record.data,
    )


def number_batch(
    records: Sequence[NewRecordLike],
    existing: set[str],
    position: int,
    previous: bytes,
    recorded_at: int,
) -> tuple[list[tuple[Any, ...]], tuple[int | None, ...]]:
    """Give each record of a batch its position and chained hash, skipping duplicates.

    Every backend appends through this, inside its write lock: `existing` holds the batch's
    dedupe keys already stored (it is extended with the batch's own, so the first copy of a
    key in a batch wins); `position` and `previous` are the last stored position and hash.
    Returns the rows to store, as tuples in `Record` field order (position, type, version,
    data, dedupe_key, recorded_at, hash), and each input's position (None for a duplicate).
    """
    rows: list[tuple[Any, ...]] = []
    positions: list[int | None] = []
    for rec in records:
        key = rec.dedupe_key
        if key is not None:
            if key in existing:
                positions.append(None)
                continue
            existing.add(key)
        position += 1
        previous = chain_hash(previous, position, rec.type, rec.version, key, recorded_at, rec.data)
        rows.append((position, rec.type, rec.version, rec.data, key, recorded_at, previous))
        positions.append(position)
    return rows, tuple(positions)

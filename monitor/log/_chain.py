"""The hash chain that makes the log tamper-evident.

Each record's hash covers the previous record's hash and every stored field of the record, in a
fixed byte layout, so changing one byte anywhere (or dropping, inserting or reordering a record)
breaks every hash from that record on. Written by hand because it is twelve lines over hashlib.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

__all__ = ["GENESIS", "chain_hash", "record_hash"]

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

"""`MemoryLog`: the event log held in this process's memory (alias ``memory:``).

For tests, `monitor rules test` dry runs and short-lived scripts. It keeps every guarantee of
the interface except durability: everything is gone when the process ends.
"""

from __future__ import annotations

import bisect
import copy
import json
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ._base import AppendResult, EventLog, NewRecord, ProjectionState, Record
from ._chain import GENESIS, number_batch

__all__ = ["MemoryLog"]


class MemoryLog(EventLog):
    """An in-memory log. Thread-safe; `wait` wakes as soon as another thread appends.

    Unlike the database backends it does not refuse appends while a checkpoint is past its
    head: records in memory cannot be lost, and a scratch memory log may legitimately hold
    another log's positions as checkpoints (a backtest keeps its evaluator's there)."""

    def __init__(self) -> None:
        self.url = "memory:"
        self._records: list[Record] = []
        self._keys: set[str] = set()
        self._checkpoints: dict[str, int] = {}
        self._projections: dict[str, ProjectionState] = {}
        self._rows: dict[str, dict[str, str]] = {}
        self._leases: dict[str, tuple[str, float]] = {}  # name -> (owner, expires, monotonic)
        self._lock = threading.Lock()
        self._appended = threading.Condition(self._lock)

    def append(
        self, records: Sequence[NewRecord], *, checkpoint: tuple[str, int] | None = None
    ) -> AppendResult:
        with self._lock:
            previous = self._records[-1].hash if self._records else GENESIS
            position = len(self._records)
            existing = {r.dedupe_key for r in records if r.dedupe_key in self._keys}
            rows, positions = number_batch(
                records, existing, position, previous, time.time_ns() // 1000
            )
            new = [Record(*row) for row in rows]
            self._records.extend(new)
            self._keys.update(r.dedupe_key for r in new if r.dedupe_key is not None)
            if checkpoint is not None:
                self._checkpoints[checkpoint[0]] = checkpoint[1]
            if new:
                self._appended.notify_all()
        return AppendResult(positions)

    def read_page(
        self, after: int, limit: int, types: Collection[str] | None = None
    ) -> list[Record]:
        with self._lock:
            records = self._records
            if types is None:
                return records[max(after, 0) : max(after, 0) + limit]
            wanted = set(types)
            page: list[Record] = []
            for record in records[max(after, 0) :]:
                if record.type in wanted:
                    page.append(record)
                    if len(page) >= limit:
                        break
            return page

    def head(self) -> int:
        with self._lock:
            return len(self._records)

    def wait(self, after: int, timeout: float) -> bool:
        with self._appended:
            return self._appended.wait_for(lambda: len(self._records) > after, timeout)

    def get_checkpoint(self, name: str) -> int:
        with self._lock:
            return self._checkpoints.get(name, 0)

    def set_checkpoint(self, name: str, position: int) -> None:
        with self._lock:
            self._checkpoints[name] = position

    def checkpoint_positions(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return [("subscriber", n, p) for n, p in self._checkpoints.items()] + [
                ("projection", n, state.position) for n, state in self._projections.items()
            ]

    def projection_state(self, name: str) -> ProjectionState | None:
        with self._lock:
            return self._projections.get(name)

    def projection_get(self, name: str, key: str) -> Any | None:
        with self._lock:
            raw = self._rows.get(name, {}).get(key)
        return None if raw is None else json.loads(raw)

    def projection_scan(
        self,
        name: str,
        prefix: str = "",
        *,
        reverse: bool = False,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[tuple[str, Any]]:
        with self._lock:
            keys = sorted(k for k in self._rows.get(name, {}) if k.startswith(prefix))
            if after is not None:
                if reverse:
                    keys = keys[: bisect.bisect_left(keys, after)]
                else:
                    keys = keys[bisect.bisect_right(keys, after) :]
            if reverse:
                keys.reverse()
            if limit is not None:
                keys = keys[:limit]
            rows = self._rows.get(name, {})
            return [(k, json.loads(rows[k])) for k in keys]

    def commit_projection(
        self, name: str, version: int, position: int, changes: Mapping[str, Any | None]
    ) -> None:
        # Values are stored as JSON text, as the database backends do, so a projection cannot
        # depend on sharing mutable objects with its store.
        encoded = {
            k: None if v is None else json.dumps(v, sort_keys=True, separators=(",", ":"))
            for k, v in changes.items()
        }
        with self._lock:
            rows = self._rows.setdefault(name, {})
            for key, value in encoded.items():
                if value is None:
                    rows.pop(key, None)
                else:
                    rows[key] = value
            self._projections[name] = ProjectionState(version, position)

    def drop_projection(self, name: str) -> None:
        with self._lock:
            self._rows.pop(name, None)
            self._projections.pop(name, None)

    def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        if not ttl > 0:
            raise ValueError(f"lease ttl must be a positive number of seconds, not {ttl!r}")
        with self._lock:
            now = time.monotonic()
            holder = self._leases.get(name)
            if holder is not None and holder[0] != owner and holder[1] >= now:
                return False
            self._leases[name] = (owner, now + ttl)
            return True

    def release_lease(self, name: str, owner: str) -> None:
        with self._lock:
            if self._leases.get(name, ("",))[0] == owner:
                del self._leases[name]

    def close(self) -> None:
        """Nothing to release; the records stay readable until the object is dropped."""

    def __deepcopy__(self, memo: dict[int, Any]) -> MemoryLog:
        clone = MemoryLog()
        with self._lock:
            clone._records = list(self._records)
            clone._keys = set(self._keys)
            clone._checkpoints = dict(self._checkpoints)
            clone._projections = dict(self._projections)
            clone._rows = copy.deepcopy(self._rows, memo)
        return clone

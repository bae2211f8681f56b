"""Exact sets and maps kept on a private temporary SQLite database instead of in memory.

What an evaluator must remember for the whole history grows with the history: which rules
matched which item (so that a revision years later can supersede the right alerts), and, in a
backtest, the dedupe keys of everything it wrote and the keys of the alerts it would raise.
In Python objects that is 100-200 bytes an entry, gigabytes over a year of items. Here it
costs SQLite's page cache (2 MB, `_CACHE_KIB`) whatever the history's size; the database
file is SQLite's own temporary file (``sqlite3.connect("")``), created when the cache first
spills and deleted when the connection closes.

Writes are buffered and go in with one ``executemany`` per `_FLUSH_AT` entries (a page of
the evaluator costs one statement, not one per entry); reads flush first, so a read always sees
every write before it. The stdlib's `sqlite3` is the library for this (an on-disk B-tree with
a bounded cache); `shelve`/`dbm` have no batched writes and no bounded cache.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence

__all__ = ["SpillKeys", "SpillMatches"]

_CACHE_KIB = 2048
_FLUSH_AT = 4096
_CHUNK = 500  # keys per ``IN (...)`` lookup (well under SQLite's variable limit)


def _temporary_database() -> sqlite3.Connection:
    db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
    db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    db.execute("PRAGMA journal_mode = OFF")  # a scratch database: nothing to roll back to
    db.execute("PRAGMA synchronous = OFF")
    return db


class _Spilled:
    """A temporary database with a write buffer (shared by the two kinds below)."""

    _insert: str

    def __init__(self, schema: str) -> None:
        self._db = _temporary_database()
        self._db.execute(schema)
        self._pending: list[tuple[str, ...]] = []
        self._lock = threading.Lock()  # one connection: its statements must not interleave

    def _flush(self) -> None:
        if self._pending:
            self._db.execute("BEGIN")
            self._db.executemany(self._insert, self._pending)
            self._db.execute("COMMIT")
            self._pending.clear()

    def _buffer(self, row: tuple[str, ...]) -> None:
        with self._lock:  # the buffer and the flush that empties it change together
            self._pending.append(row)
            if len(self._pending) >= _FLUSH_AT:
                self._flush()

    def close(self) -> None:
        """Drop the temporary database (its file, if it had spilled to one, goes with it)."""
        with self._lock:
            self._pending.clear()
            self._db.close()


class SpillKeys(_Spilled):
    """An exact set of strings: `add_new` says which of a batch were not in it before."""

    _insert = "INSERT OR IGNORE INTO keys (key) VALUES (?)"

    def __init__(self) -> None:
        super().__init__("CREATE TABLE keys (key TEXT PRIMARY KEY) WITHOUT ROWID")

    def add_new(self, keys: Sequence[str]) -> list[bool]:
        """Add `keys`; for each, in order, whether it was new (False for one already in the
        set or repeated earlier in this batch)."""
        with self._lock:
            self._flush()
            known = self._known(keys)
            fresh: list[bool] = []
            for key in keys:
                new = key not in known
                fresh.append(new)
                if new:
                    known.add(key)
                    self._pending.append((key,))
            self._flush()
            return fresh

    def add(self, key: str) -> None:
        """Add one key (buffered; duplicates are ignored)."""
        self._buffer((key,))

    def _known(self, keys: Sequence[str]) -> set[str]:
        unique = list(dict.fromkeys(keys))
        known: set[str] = set()
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key FROM keys WHERE key IN ({marks})", chunk)
            known.update(key for (key,) in rows)
        return known

    def missing_from(self, other: SpillKeys) -> Iterator[str]:
        """The keys of this set that `other` lacks, streamed in key order: a merge of the two
        sorted B-trees, so neither is loaded. Neither set may change while it is read."""
        with self._lock, other._lock:
            self._flush()
            other._flush()
        mine = self._db.execute("SELECT key FROM keys ORDER BY key")
        theirs = other._db.execute("SELECT key FROM keys ORDER BY key")
        yield from _difference(mine, theirs)


def _difference(mine: Iterable[tuple[str]], theirs: Iterable[tuple[str]]) -> Iterator[str]:
    """Keys of the sorted `mine` that the sorted `theirs` lacks."""
    other = iter(theirs)
    current = next(other, None)
    for (key,) in mine:
        while current is not None and current[0] < key:
            current = next(other, None)
        if current is None or current[0] != key:
            yield key


class SpillMatches(_Spilled):
    """Item id -> rule id -> alert id, the first alert id kept (``setdefault`` semantics):
    which rules some version of an item matched, for its revisions."""

    _insert = "INSERT OR IGNORE INTO matched (item, rule, alert) VALUES (?, ?, ?)"

    def __init__(self) -> None:
        super().__init__(
            "CREATE TABLE matched (item TEXT, rule TEXT, alert TEXT, PRIMARY KEY (item, rule))"
            " WITHOUT ROWID"
        )

    def remember(self, item_id: str, rule_id: str, alert_id: str) -> None:
        """Remember that `rule_id` matched `item_id` as `alert_id` (unless it already did)."""
        self._buffer((item_id, rule_id, alert_id))

    def rules_of(self, item_id: str) -> dict[str, str]:
        """Rule id -> alert id for every rule some version of `item_id` matched."""
        with self._lock:
            self._flush()
            rows = self._db.execute(
                "SELECT rule, alert FROM matched WHERE item = ? ORDER BY rule", (item_id,)
            )
            return dict(rows)

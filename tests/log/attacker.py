"""The attacker's moves against a log's stored records, on each backend, for the signed
checkpoint tests: delete the newest records, edit one without recomputing, or edit one and
recompute every later hash (what someone who knows the chain format does).

Each backend's rows are changed behind the program's back: the memory log's list, the SQLite
file through a second `sqlite3` connection, the PostgreSQL table through an admin connection.
Append-only triggers, where present, are dropped or disabled first, as anyone who can write
the database can do.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import attrs

from monitor.log import GENESIS, MemoryLog, Record, record_hash


class Attacker:
    """The moves, over three backend primitives: `records`, `delete_after` and `store`."""

    def records(self) -> list[Record]:
        """Every stored record, in position order."""
        raise NotImplementedError

    def delete_after(self, position: int) -> None:
        """Delete every record with a position greater than `position`."""
        raise NotImplementedError

    def store(self, record: Record) -> None:
        """Overwrite the stored data and hash of the record at `record.position`."""
        raise NotImplementedError

    def truncate(self, k: int) -> None:
        """Delete the newest `k` records."""
        self.delete_after(len(self.records()) - k)

    def edit(self, position: int) -> None:
        """Change record `position`'s bytes and leave its hash alone."""
        record = self.records()[position - 1]
        self.store(attrs.evolve(record, data=record.data + b" "))

    def rewrite(self, position: int) -> None:
        """Change record `position`'s bytes, then recompute its hash and every later one."""
        records = self.records()
        previous = records[position - 2].hash if position > 1 else GENESIS
        for record in records[position - 1 :]:
            if record.position == position:
                record = attrs.evolve(record, data=record.data + b" ")
            previous = record_hash(previous, record)
            self.store(attrs.evolve(record, hash=previous))


class MemoryAttacker(Attacker):
    def __init__(self, log: MemoryLog) -> None:
        self._records = log._records  # the attacker reaches into the process's memory

    def records(self) -> list[Record]:
        return list(self._records)

    def delete_after(self, position: int) -> None:
        del self._records[position:]

    def store(self, record: Record) -> None:
        self._records[record.position - 1] = record


class SQLiteAttacker(Attacker):
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        triggers = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
        ).fetchall()
        for (name,) in triggers:
            self._conn.execute(f'DROP TRIGGER "{name}"')

    def records(self) -> list[Record]:
        rows = self._conn.execute(
            "SELECT position, type, version, data, dedupe_key, recorded_at, hash FROM events "
            "ORDER BY position"
        ).fetchall()
        return [Record(*row) for row in rows]

    def delete_after(self, position: int) -> None:
        self._conn.execute("DELETE FROM events WHERE position > ?", (position,))

    def store(self, record: Record) -> None:
        self._conn.execute(
            "UPDATE events SET data = ?, hash = ? WHERE position = ?",
            (record.data, record.hash, record.position),
        )

    def close(self) -> None:
        self._conn.close()


class PostgresAttacker(Attacker):
    def __init__(self, log) -> None:
        from tests.pg import admin

        self._conn = admin(log.url)
        self._table = f'"{log.schema}".events'
        self._conn.execute(f"ALTER TABLE {self._table} DISABLE TRIGGER USER")

    def records(self) -> list[Record]:
        rows = self._conn.execute(
            f"SELECT position, type, version, data, dedupe_key, recorded_at, hash "
            f"FROM {self._table} ORDER BY position"
        ).fetchall()
        return [Record(p, t, v, bytes(d), k, r, bytes(h)) for p, t, v, d, k, r, h in rows]

    def delete_after(self, position: int) -> None:
        self._conn.execute(f"DELETE FROM {self._table} WHERE position > %s", (position,))

    def store(self, record: Record) -> None:
        self._conn.execute(
            f"UPDATE {self._table} SET data = %s, hash = %s WHERE position = %s",
            (record.data, record.hash, record.position),
        )

    def close(self) -> None:
        self._conn.close()

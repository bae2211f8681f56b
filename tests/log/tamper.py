"""Helpers for tests that play the attacker: change a log's file behind the program's back."""

from __future__ import annotations

import sqlite3

from monitor.log import EventLog, MemoryLog
from monitor.log._sqlite import SQLiteLog
from monitor.log._sqlite_schema import TRIGGERS

__all__ = ["drop_append_only_triggers", "lose_tail"]


def drop_append_only_triggers(conn: sqlite3.Connection) -> None:
    """Drop the triggers that make the events table refuse UPDATE and DELETE, as anyone who
    can write the file can: the log's own defence is then the hash chain (`verify`)."""
    for name in TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")


def lose_tail(log: EventLog, keep: int) -> None:
    """Delete every record after position `keep` behind the log's back, as a deleted tail or
    a partial restore leaves it (triggers are dropped or disabled first, as an attacker or an
    administrator can). Checkpoints and projection state are left as they were."""
    if isinstance(log, MemoryLog):
        del log._records[keep:]  # reaching into the process's memory
        log._keys = {r.dedupe_key for r in log._records if r.dedupe_key is not None}
    elif isinstance(log, SQLiteLog):
        with sqlite3.connect(log.path) as conn:
            drop_append_only_triggers(conn)
            conn.execute("DELETE FROM events WHERE position > ?", (keep,))
        conn.close()
    else:
        from tests.pg import admin

        events = f'"{log.schema}".events'  # type: ignore[attr-defined]
        with admin(log.url) as conn:
            conn.execute(f"ALTER TABLE {events} DISABLE TRIGGER USER")
            conn.execute(f"DELETE FROM {events} WHERE position > %s", (keep,))
            conn.execute(f"ALTER TABLE {events} ENABLE TRIGGER USER")

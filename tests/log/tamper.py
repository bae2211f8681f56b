"""Helpers for tests that play the attacker: change a log's file behind the program's back."""

from __future__ import annotations

import sqlite3

from monitor.log._sqlite_schema import TRIGGERS

__all__ = ["drop_append_only_triggers"]


def drop_append_only_triggers(conn: sqlite3.Connection) -> None:
    """Drop the triggers that make the events table refuse UPDATE and DELETE, as anyone who
    can write the file can: the log's own defence is then the hash chain (`verify`)."""
    for name in TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")

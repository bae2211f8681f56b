"""SQLite-only behaviour: the file on disk, bad files, locks and tampering."""

from __future__ import annotations

import sqlite3

import pytest

from monitor.errors import (
    LogCorruptedError,
    LogError,
    LogFullError,
    LogLockedError,
    LogSchemaError,
)
from monitor.log import NewRecord, open_log
from monitor.log._sqlite import APPLICATION_ID, SQLiteLog
from tests.conftest import make_item
from tests.log.tamper import drop_append_only_triggers


def records(n: int, start: int = 0) -> list[NewRecord]:
    """n small records with distinct dedupe keys."""
    return [NewRecord("T", 1, b'{"v":"%d"}' % i, f"k{i}") for i in range(start, start + n)]


def test_reopened_log_keeps_records_keys_and_chain(tmp_path):
    """Everything appended is there after closing and reopening the file."""
    path = tmp_path / "log.db"
    with open_log(path) as lg:
        lg.append(records(10))
        lg.set_checkpoint("sub", 4)
    with open_log(f"sqlite:///{path}") as lg:
        assert lg.head() == 10
        assert lg.append(records(3, start=8)).positions == (None, None, 11)
        assert lg.get_checkpoint("sub") == 4
        assert lg.verify().ok


def test_file_is_marked_as_ours(tmp_path):
    """A new log carries our application id in its SQLite header."""
    path = tmp_path / "log.db"
    open_log(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_not_a_database(tmp_path):
    """A text file is refused as 'not a monitor log' and left unchanged."""
    path = tmp_path / "notes.db"
    path.write_text("shopping list\n" * 100)
    with pytest.raises(LogCorruptedError, match="not a monitor log"):
        open_log(path)
    assert path.read_text() == "shopping list\n" * 100


def test_empty_file_is_refused(tmp_path):
    """A zero-byte file (a truncated copy?) is not silently turned into a new log."""
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(LogCorruptedError, match="empty file"):
        open_log(path)
    assert path.stat().st_size == 0


def test_database_of_another_application(tmp_path):
    """An SQLite file with someone else's tables is refused and not written to."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, 'Ada')")
    with pytest.raises(LogSchemaError, match=r"another application.*customers"):
        open_log(path)
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["customers"]


def test_log_from_a_newer_program_is_refused(tmp_path):
    """A log whose schema version is newer than ours says to upgrade."""
    path = tmp_path / "future.db"
    open_log(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE monitor_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(LogSchemaError, match="newer news-monitor"):
        open_log(path)


def test_directory_path_is_refused(tmp_path):
    """Pointing the log at a directory explains what to give instead."""
    with pytest.raises(LogError, match="is a directory"):
        open_log(tmp_path)


def test_missing_parent_directory(tmp_path):
    """A path in a directory that does not exist is a clear error, not a crash."""
    with pytest.raises(LogError, match="does not exist"):
        open_log(tmp_path / "nope" / "log.db")


def test_lock_held_too_long_is_a_clear_error_and_loses_nothing(tmp_path):
    """A writer that holds the lock past the timeout gives LogLockedError; later appends work."""
    path = tmp_path / "log.db"
    lg = SQLiteLog(path, timeout=0.2)
    lg.append(records(2))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(LogLockedError, match="locked by another process"):
        lg.append(records(1, start=2))
    blocker.execute("ROLLBACK")
    blocker.close()
    assert lg.append(records(1, start=2)).positions == (3,)
    assert lg.verify().ok
    lg.close()


def test_tampered_payload_is_found_at_its_record(tmp_path):
    """Changing one stored byte of record 7 makes verify fail exactly there."""
    path = tmp_path / "log.db"
    with open_log(path) as lg:
        lg.append_events([make_item(n) for n in range(20)])
    with sqlite3.connect(path) as conn:
        drop_append_only_triggers(conn)  # as an attacker with write access to the file would
        (data,) = conn.execute("SELECT data FROM events WHERE position = 7").fetchone()
        changed = data.replace(b"Item number", b"Item numbeR", 1)
        conn.execute("UPDATE events SET data = ? WHERE position = 7", (changed,))
    with open_log(path) as lg:
        result = lg.verify()
    assert (result.ok, result.first_bad, result.checked) == (False, 7, 6)


def test_deleted_record_is_found(tmp_path):
    """A record removed from the middle shows up as missing at its position."""
    path = tmp_path / "log.db"
    with open_log(path) as lg:
        lg.append(records(10))
    with sqlite3.connect(path) as conn:
        drop_append_only_triggers(conn)  # as an attacker with write access to the file would
        conn.execute("DELETE FROM events WHERE position = 4")
    with open_log(path) as lg:
        result = lg.verify()
    assert not result.ok and result.first_bad == 4 and "missing" in result.reason


def test_options_come_from_the_url(tmp_path):
    """Query parameters of a sqlite URL configure the backend."""
    lg = open_log(f"sqlite:///{tmp_path / 'x.db'}?timeout=1.5&synchronous=full")
    assert isinstance(lg, SQLiteLog) and lg._timeout == 1.5
    assert lg._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    lg.close()


def test_unknown_url_scheme(tmp_path):
    """An unknown scheme lists the forms that work."""
    with pytest.raises(LogError, match="unknown log URL scheme 'mongodb'"):
        open_log("mongodb://localhost/x")


def test_full_disk_is_a_clear_error_and_keeps_what_was_stored(tmp_path):
    """When the database cannot grow, append fails cleanly and earlier records survive."""
    path = tmp_path / "log.db"
    lg = SQLiteLog(path)
    lg.append(records(5))
    pages = lg._conn.execute("PRAGMA page_count").fetchone()[0]
    lg._conn.execute(f"PRAGMA max_page_count={pages}")  # simulates a full disk
    big = [NewRecord("T", 1, b"x" * 50_000, f"big{i}") for i in range(5)]
    with pytest.raises(LogFullError, match=r"cannot write to .*log\.db: the disk") as caught:
        lg.append(big)
    assert "rollback" not in str(caught.value)
    lg.close()
    with open_log(path) as again:
        assert again.head() == 5 and again.verify().ok


def test_damaged_pages_are_reported_as_corruption(tmp_path):
    """Garbage written over the middle of the file gives LogCorruptedError, not a traceback."""
    path = tmp_path / "log.db"
    with open_log(path) as lg:
        lg.append([NewRecord("T", 1, b"y" * 3000, f"k{i}") for i in range(200)])
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.seek(4096 * 2)
        fh.write(b"\xde\xad\xbe\xef" * ((size - 4096 * 3) // 4))
    with pytest.raises(LogCorruptedError, match=r"damaged|not a monitor log"), open_log(path) as lg:
        lg.verify()

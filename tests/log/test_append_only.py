"""The database itself refuses to change or delete records (issue 13, part 1).

Every test here goes around the program, straight to the database, as a careless script or an
attacker would: the triggers must stop them whatever the client.
"""

from __future__ import annotations

import sqlite3

import pytest

from monitor.log import NewRecord, open_log
from monitor.log._sqlite_schema import SCHEMA_VERSION, TRIGGERS
from tests.log.tamper import drop_append_only_triggers


def records(n: int) -> list[NewRecord]:
    """n small records with distinct dedupe keys."""
    return [NewRecord("T", 1, b'{"v":"%d"}' % i, f"k{i}") for i in range(n)]


def sqlite_log(tmp_path, n: int = 5):
    """The path of a fresh SQLite log holding `n` records."""
    path = tmp_path / "log.db"
    with open_log(path) as lg:
        lg.append(records(n))
    return path


class TestSQLite:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE events SET data = x'00' WHERE position = 2",
            "UPDATE events SET hash = hash",
            "DELETE FROM events WHERE position = 5",
            "DELETE FROM events",
        ],
    )
    def test_update_and_delete_are_refused(self, tmp_path, statement):
        """Changing or deleting records through any SQLite client is refused, and nothing
        changes: the chain still verifies and every record is there."""
        path = sqlite_log(tmp_path)
        with (
            sqlite3.connect(path) as conn,
            pytest.raises(
                sqlite3.IntegrityError, match="news-monitor: the event log is append-only"
            ),
        ):
            conn.execute(statement)
        with open_log(path) as lg:
            assert lg.head() == 5 and lg.verify().ok

    def test_other_tables_stay_writable(self, tmp_path):
        """Checkpoints, projection state and leases are still updated and deleted."""
        path = sqlite_log(tmp_path)
        with open_log(path) as lg:
            lg.set_checkpoint("sub", 3)
            lg.set_checkpoint("sub", 4)
            lg.commit_projection("p", 1, 5, {"a": 1, "b": 2})
            lg.commit_projection("p", 1, 5, {"a": None})
            lg.drop_projection("p")
            assert lg.acquire_lease("l", "me", 10)
            lg.release_lease("l", "me")
            assert lg.get_checkpoint("sub") == 4 and lg.projection_state("p") is None

    def test_log_of_the_previous_release_is_upgraded_on_open(self, tmp_path):
        """A version-1 log (no triggers) gets them, and version 2, when opened read-write;
        its records are untouched."""
        path = sqlite_log(tmp_path)
        with sqlite3.connect(path) as conn:  # what the previous release left on disk
            drop_append_only_triggers(conn)
            conn.execute("UPDATE monitor_meta SET value = '1' WHERE key = 'schema_version'")
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE events SET data = data WHERE 0")  # no trigger: allowed
        with open_log(path) as lg:
            assert lg.head() == 5 and lg.verify().ok
        with sqlite3.connect(path) as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            (version,) = conn.execute(
                "SELECT value FROM monitor_meta WHERE key = 'schema_version'"
            ).fetchone()
            assert names >= set(TRIGGERS) and int(version) == SCHEMA_VERSION == 2
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute("DELETE FROM events WHERE position = 1")

    def test_dropped_triggers_come_back_at_the_next_open(self, tmp_path):
        """Triggers dropped by hand in a current log are re-created by the next open."""
        path = sqlite_log(tmp_path)
        with sqlite3.connect(path) as conn:
            drop_append_only_triggers(conn)
        open_log(path).close()
        with sqlite3.connect(path) as conn, pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE events SET type = 'X'")

    def test_read_only_open_does_not_upgrade(self, tmp_path):
        """Opening a version-1 log read-only reads it and leaves the file as it was."""
        path = sqlite_log(tmp_path)
        with sqlite3.connect(path) as conn:
            drop_append_only_triggers(conn)
            conn.execute("UPDATE monitor_meta SET value = '1' WHERE key = 'schema_version'")
        with open_log(path, read_only=True) as lg:
            assert lg.head() == 5 and lg.verify().ok
        with sqlite3.connect(path) as conn:
            triggers = conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
            assert not triggers.fetchall()


class TestPostgres:
    @pytest.fixture
    def pg(self):
        """A fresh PostgreSQL log holding 5 records, and an admin connection to its server."""
        from tests.pg import admin, fresh_postgres_log, pg_url

        url = pg_url()
        lg = fresh_postgres_log(url)
        lg.append(records(5))
        with admin(url) as conn:
            yield lg, conn
        lg.close()

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE {s}.events SET data = '\\x00'::bytea WHERE position = 2",
            "DELETE FROM {s}.events WHERE position = 5",
            "TRUNCATE {s}.events",
        ],
    )
    def test_update_delete_and_truncate_are_refused(self, pg, statement):
        """Even the server's superuser changing records by hand is refused by the triggers,
        and every record is still there and verifies."""
        import psycopg

        lg, conn = pg
        with pytest.raises(psycopg.Error, match="news-monitor: the event log is append-only"):
            conn.execute(statement.replace("{s}", f'"{lg.schema}"'))
        assert lg.head() == 5 and lg.verify().ok

    def test_schema_of_the_previous_release_is_upgraded_on_open(self, pg):
        """A version-1 schema (no triggers) gets them, and version 2, when a log opens it."""
        import psycopg

        from monitor.log._postgres import PostgresLog

        lg, conn = pg
        s = f'"{lg.schema}"'
        conn.execute(f"DROP TRIGGER events_append_only ON {s}.events")
        conn.execute(f"DROP TRIGGER events_no_truncate ON {s}.events")
        conn.execute(f"DROP FUNCTION {s}.refuse_change()")
        conn.execute(f"UPDATE {s}.monitor_meta SET value = '1' WHERE key = 'schema_version'")
        conn.execute(f"UPDATE {s}.events SET type = type WHERE false")  # allowed: no trigger
        again = PostgresLog(lg.url, schema=lg.schema)
        try:
            assert again.head() == 5 and again.verify().ok
        finally:
            again.close()
        (version,) = conn.execute(
            f"SELECT value FROM {s}.monitor_meta WHERE key = 'schema_version'"
        ).fetchone()
        assert version == "2"
        with pytest.raises(psycopg.Error, match="append-only"):
            conn.execute(f"DELETE FROM {s}.events")

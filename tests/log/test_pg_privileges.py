"""The PostgreSQL privileges the README recommends (Integrity and recovery) are enough to run a
watcher, and leave it unable to change, delete or truncate records, or to switch the triggers
off. Roles are made for the test and dropped after it; the test connects as the server's
superuser and takes each role with libpq's ``options=-c role=...``."""

from __future__ import annotations

import secrets
from urllib.parse import quote

import pytest

from monitor.errors import LogError, LogSchemaError
from monitor.log import NewRecord
from monitor.log._postgres import PostgresLog
from tests.pg import admin, drop_schema, new_schema, pg_url


def as_role(url: str, role: str, schema: str) -> str:
    """`url` opening the log in `schema` as `role`."""
    options = quote(f"-c role={role}")
    return f"{url}{'&' if '?' in url else '?'}schema={schema}&options={options}"


@pytest.fixture
def roles():
    """An owner role that creates the log, and a watcher role granted what the README says."""
    url = pg_url()
    tag = secrets.token_hex(3)
    owner, watcher, schema = f"t_owner_{tag}", f"t_watcher_{tag}", new_schema()
    with admin(url) as conn:
        database = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(f"CREATE ROLE {owner}")
        conn.execute(f"CREATE ROLE {watcher}")
        conn.execute(f'GRANT CREATE ON DATABASE "{database}" TO {owner}')
    PostgresLog(as_role(url, owner, schema)).close()  # the owner creates tables and triggers
    s = f'"{schema}"'
    with admin(url) as conn:
        for grant in (
            f"GRANT USAGE ON SCHEMA {s} TO {watcher}",
            f"GRANT SELECT, INSERT ON {s}.events TO {watcher}",
            f"GRANT SELECT ON {s}.monitor_meta TO {watcher}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.checkpoints, {s}.projections, "
            f"{s}.projection_rows, {s}.leases TO {watcher}",
        ):
            conn.execute(grant)
    yield url, owner, watcher, schema
    drop_schema(url, schema)
    with admin(url) as conn:
        for role in (owner, watcher):
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_the_watcher_role_runs_but_cannot_change_records(roles):
    """With the README's grants a watcher appends, reads, projects, checkpoints and leases;
    UPDATE, DELETE, TRUNCATE and disabling the triggers are all refused to it."""
    import psycopg

    url, _owner, watcher, schema = roles
    lg = PostgresLog(as_role(url, watcher, schema))
    try:
        lg.append([NewRecord("T", 1, b"{}", f"k{i}") for i in range(3)], checkpoint=("rules", 0))
        lg.commit_projection("items", 1, 3, {"a": 1})
        lg.commit_projection("items", 1, 3, {"a": None})
        assert lg.acquire_lease("feed:x", "me", 30)
        lg.release_lease("feed:x", "me")
        assert lg.head() == 3 and lg.verify().ok
    finally:
        lg.close()
    s = f'"{schema}"'
    with admin(url) as conn:
        conn.execute(f"SET ROLE {watcher}")
        for statement in (
            f"UPDATE {s}.events SET type = 'X'",
            f"DELETE FROM {s}.events",
            f"TRUNCATE {s}.events",
            f"ALTER TABLE {s}.events DISABLE TRIGGER USER",
            f"DROP TRIGGER events_append_only ON {s}.events",
        ):
            with pytest.raises(psycopg.Error, match=r"permission denied|must be owner"):
                conn.execute(statement)


def test_a_watcher_role_cannot_upgrade_an_old_log_and_says_who_can(roles):
    """A schema-1 log (no triggers) opened by the watcher role is refused with a message
    that says to open it once as the owner; the owner's open then upgrades it."""
    url, owner, watcher, schema = roles
    s = f'"{schema}"'
    with admin(url) as conn:
        conn.execute(f"DROP TRIGGER events_append_only ON {s}.events")
        conn.execute(f"DROP TRIGGER events_no_truncate ON {s}.events")
        conn.execute(f"UPDATE {s}.monitor_meta SET value = '1'")
    with pytest.raises(LogSchemaError, match="Open the log once as the owner"):
        PostgresLog(as_role(url, watcher, schema))
    PostgresLog(as_role(url, owner, schema)).close()
    PostgresLog(as_role(url, watcher, schema)).close()
    reader = PostgresLog(as_role(url, watcher, schema), read_only=True)
    try:
        with pytest.raises(LogError, match="opened read-only"):
            reader.append([NewRecord("T", 1, b"{}", "k")])
    finally:
        reader.close()

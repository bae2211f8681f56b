"""The SQL of the PostgreSQL log: its tables and every statement, with ``{s}`` standing for the
(quoted) schema name, substituted once when a `PostgresLog` is opened."""

from __future__ import annotations

__all__ = ["APPEND_ONLY_DDL", "APPEND_ONLY_TRIGGERS", "COLUMNS", "DDL", "OUR_TABLES", "STATEMENTS"]

DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.monitor_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.events (
    position    bigint  PRIMARY KEY,
    type        text    NOT NULL,
    version     integer NOT NULL,
    dedupe_key  text,
    recorded_at bigint  NOT NULL,
    data        bytea   NOT NULL,
    hash        bytea   NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_dedupe_key
    ON {s}.events (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.checkpoints (name text PRIMARY KEY, position bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.projections (
    name text PRIMARY KEY, version integer NOT NULL, position bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.projection_rows (
    name  text NOT NULL,
    key   text COLLATE "C" NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (name, key)
);
CREATE TABLE IF NOT EXISTS {s}.leases (
    name text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL
);
INSERT INTO {s}.monitor_meta VALUES ('schema_version', '1') ON CONFLICT DO NOTHING
"""
#: The triggers that make the events table append-only, by name; `APPEND_ONLY_DDL` creates
#: them. A row trigger refuses UPDATE and DELETE, a statement trigger TRUNCATE (which fires no
#: row triggers). Only the table's owner (or a superuser) can disable or drop them, which is
#: why the watcher's role must not own the table (README, Integrity and recovery).
APPEND_ONLY_TRIGGERS = ("events_append_only", "events_no_truncate")
#: Run one statement at a time (the function body holds ";"), inside the append lock, for the
#: triggers found missing: the function first, then ``CREATE TRIGGER <name>`` per trigger.
APPEND_ONLY_DDL = {
    "function": """
CREATE OR REPLACE FUNCTION {s}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'news-monitor: the event log is append-only; % on %.% is refused',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'records are never updated or deleted (README, Integrity and recovery)';
END
$$""",
    "events_append_only": "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON "
    "{s}.events FOR EACH ROW EXECUTE FUNCTION {s}.refuse_change()",
    "events_no_truncate": "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON {s}.events "
    "FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse_change()",
}
OUR_TABLES = frozenset(
    {"monitor_meta", "events", "checkpoints", "projections", "projection_rows", "leases"}
)
COLUMNS = "position, type, version, data, dedupe_key, recorded_at, hash"
# Inside the lock, in one round trip: the last position and hash, the server clock in
# microseconds, which of the batch's dedupe keys are already stored, and the highest
# checkpoint (an append is refused while one is past the head).
HEAD = """
SELECT (SELECT position FROM {s}.events ORDER BY position DESC LIMIT 1),
       (SELECT hash FROM {s}.events ORDER BY position DESC LIMIT 1),
       (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,
       (SELECT array_agg(dedupe_key) FROM {s}.events WHERE dedupe_key = ANY(%s)),
       (SELECT max(position) FROM (SELECT position FROM {s}.checkpoints
                                   UNION ALL SELECT position FROM {s}.projections) c)
"""
#: Every checkpoint as (kind, name, position).
ALL_CHECKPOINTS = (
    "SELECT 'subscriber', name, position FROM {s}.checkpoints "
    "UNION ALL SELECT 'projection', name, position FROM {s}.projections"
)
STATEMENTS = {
    "lock": "SELECT pg_advisory_xact_lock(%s)",
    "triggers": "SELECT tgname FROM pg_trigger WHERE tgrelid = '{s}.events'::regclass "
    "AND NOT tgisinternal",
    "set_version": "UPDATE {s}.monitor_meta SET value = %s WHERE key = 'schema_version' "
    "AND value::integer < %s",
    # Two-key form: a lock space apart from the one-key append lock.
    "projection_lock": "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
    "head": HEAD,
    "checkpoints": ALL_CHECKPOINTS,
    "insert": "INSERT INTO {s}.events (" + COLUMNS + ") VALUES (%s, %s, %s, %s, %s, %s, %s)",
    "copy": "COPY {s}.events (" + COLUMNS + ") FROM STDIN",
    "checkpoint": "INSERT INTO {s}.checkpoints VALUES (%s, %s) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
    "notify": "SELECT pg_notify(%s, %s)",
    "hash_at": "SELECT hash FROM {s}.events WHERE position = %s",
    "page": "SELECT " + COLUMNS + " FROM {s}.events WHERE position > %s ORDER BY position LIMIT %s",
    "page_types": "SELECT " + COLUMNS + " FROM {s}.events WHERE position > %s "
    "AND type = ANY(%s) ORDER BY position LIMIT %s",
    "positions": "SELECT " + COLUMNS + " FROM {s}.events WHERE position = ANY(%s) "
    "ORDER BY position",
    "max": "SELECT coalesce(max(position), 0) FROM {s}.events",
    "get_checkpoint": "SELECT position FROM {s}.checkpoints WHERE name = %s",
    "state": "SELECT version, position FROM {s}.projections WHERE name = %s",
    "get": "SELECT value FROM {s}.projection_rows WHERE name = %s AND key = %s",
    "delete_keys": "DELETE FROM {s}.projection_rows WHERE name = %s AND key = ANY(%s)",
    "upsert": "INSERT INTO {s}.projection_rows VALUES (%s, %s, %s) "
    "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
    "set_state": "INSERT INTO {s}.projections VALUES (%s, %s, %s) ON CONFLICT (name) "
    "DO UPDATE SET version = excluded.version, position = excluded.position",
    "scan": "SELECT key, value FROM {s}.projection_rows WHERE name = %s",
    "drop_rows": "DELETE FROM {s}.projection_rows WHERE name = %s",
    "drop_state": "DELETE FROM {s}.projections WHERE name = %s",
    "acquire": "INSERT INTO {s}.leases AS l VALUES "
    "(%s, %s, clock_timestamp() + %s * interval '1 second') "
    "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
    "WHERE l.expires_at < clock_timestamp() OR l.owner = excluded.owner RETURNING l.owner",
    "release": "DELETE FROM {s}.leases WHERE name = %s AND owner = %s",
}

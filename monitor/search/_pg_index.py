"""The search index in a PostgreSQL log: a tsvector column with a GIN index.

The same tables as the SQLite index (`_sqlite_index`), in the log's schema; ``tsv`` is
``to_tsvector('simple', ...)`` of the folded title (weight A) and body, so the ``simple``
configuration only splits the already normalized words, and queries are ``to_tsquery('simple',
...)`` of the text `_render.to_tsquery` builds. The capture trigger is a PL/pgSQL function that
returns NULL, so the projection's rows are turned into index rows and never stored.
"""

from __future__ import annotations

from typing import Any

from ..log import EventLog
from ._filters import SORTS, Filters, Hit, filter_sql
from ._projection import SEARCH_PROJECTION
from ._sqlite_index import SearchTimeout, _hit

__all__ = ["PostgresIndex"]

DDL = [
    """CREATE TABLE IF NOT EXISTS {s}search_docs (
        id bigint PRIMARY KEY, item_id text NOT NULL UNIQUE, feed_id text NOT NULL,
        lang text, text_lang text, ts bigint NOT NULL, received bigint NOT NULL,
        title text NOT NULL, url text, ntitle text NOT NULL, nbody text NOT NULL,
        tsv tsvector NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS search_docs_tsv ON {s}search_docs USING gin (tsv)",
    "CREATE INDEX IF NOT EXISTS search_docs_ts ON {s}search_docs (ts, id)",
    "CREATE INDEX IF NOT EXISTS search_docs_feed ON {s}search_docs (feed_id, ts)",
    """CREATE TABLE IF NOT EXISTS {s}search_entities (
        entity text NOT NULL, item_id text NOT NULL, PRIMARY KEY (entity, item_id))""",
    """CREATE TABLE IF NOT EXISTS {s}search_rules (
        rule_id text NOT NULL, item_id text NOT NULL, alert_id text NOT NULL,
        position bigint NOT NULL, PRIMARY KEY (rule_id, item_id, alert_id))""",
    "CREATE INDEX IF NOT EXISTS search_rules_item ON {s}search_rules (item_id)",
    """CREATE OR REPLACE FUNCTION {s}search_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE v jsonb := NEW.value::jsonb;
BEGIN
    IF left(NEW.key, 2) = 'd:' THEN
        DELETE FROM {s}search_docs WHERE item_id = v->>'i';
        INSERT INTO {s}search_docs VALUES (
            (v->>'p')::bigint, v->>'i', v->>'f', v->>'l', v->>'tl', (v->>'ts')::bigint,
            (v->>'r')::bigint, v->>'t', v->>'u', v->>'nt', v->>'nb',
            setweight(to_tsvector('simple', v->>'nt'), 'A') || to_tsvector('simple', v->>'nb'));
    ELSIF left(NEW.key, 2) = 'e:' THEN
        INSERT INTO {s}search_entities VALUES (v->>'e', v->>'i') ON CONFLICT DO NOTHING;
    ELSIF left(NEW.key, 2) = 'a:' THEN
        INSERT INTO {s}search_rules VALUES (v->>'r', v->>'i', v->>'a', (v->>'p')::bigint)
            ON CONFLICT DO NOTHING;
    ELSE
        RETURN NEW;
    END IF;
    RETURN NULL;
END
$$""",
    """CREATE OR REPLACE FUNCTION {s}search_drop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {s}search_docs;
    DELETE FROM {s}search_entities;
    DELETE FROM {s}search_rules;
    RETURN NULL;
END
$$""",
    f"""CREATE TRIGGER search_capture BEFORE INSERT ON {{s}}projection_rows FOR EACH ROW
    WHEN (NEW.name = '{SEARCH_PROJECTION}') EXECUTE FUNCTION {{s}}search_capture()""",
    f"""CREATE TRIGGER search_drop AFTER DELETE ON {{s}}projections FOR EACH ROW
    WHEN (OLD.name = '{SEARCH_PROJECTION}') EXECUTE FUNCTION {{s}}search_drop()""",
]

_COLUMNS = "d.id, d.item_id, d.feed_id, d.lang, d.text_lang, d.ts, d.title, d.url"


class PostgresIndex:
    """Install and query the index in a PostgreSQL log (through `EventLog.with_connection`)."""

    mark = "%s"

    def __init__(self, log: EventLog) -> None:
        self.log = log
        schema = log.schema  # type: ignore[attr-defined]
        self.prefix = '"' + schema.replace('"', '""') + '".'
        self.schema = schema

    def _sql(self, text: str) -> str:
        return text.replace("{s}", self.prefix)

    def installed(self) -> bool:
        """Whether the tables and triggers exist."""
        return self.log.with_connection(self.installed_in)

    def install(self) -> None:
        """Create the tables, functions and triggers (idempotent; one creator at a time)."""
        if self.installed():
            return

        def create(conn: Any) -> None:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.prefix + "search",))
            if self.installed_in(conn):
                return
            for statement in DDL:
                conn.execute(self._sql(statement))

        self.log.with_connection(create, write=True)

    def installed_in(self, conn: Any) -> bool:
        """`installed`, on a connection already held."""
        row = conn.execute(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = r.relnamespace "
            "WHERE n.nspname = %s AND t.tgname = 'search_drop'",
            (self.schema,),
        ).fetchone()
        return bool(row[0])

    def query(
        self,
        match: str | None,
        filters: Filters,
        sort: str,
        limit: int,
        offset: int,
        after: tuple[int, int] | None,
        timeout: float,
    ) -> list[Hit]:
        """Run one page of a search (`match` is a tsquery text) or a listing (None)."""
        assert sort in SORTS
        where, params = filter_sql(filters, self.mark)
        where = self._sql(where)
        if after is not None:
            where += " AND (d.ts < %s OR (d.ts = %s AND d.id < %s))"
            params += [after[0], after[0], after[1]]
        newest = "ORDER BY d.ts DESC, d.id DESC"
        docs = self._sql("{s}search_docs")
        if match is None:
            sql = f"SELECT {_COLUMNS}, '', 0.0 FROM {docs} d WHERE true{where} {newest}"
            sql += " LIMIT %s OFFSET %s"
            args: list[Any] = [*params, limit, offset]
        else:
            # Rank as a cost (lower is better), like FTS5's bm25; the headline is computed
            # for the page's rows only.
            order = "ORDER BY score, d.id" if sort == "rank" else newest
            inner = (
                f"SELECT {_COLUMNS}, d.ntitle, d.nbody, -ts_rank_cd(d.tsv, q) AS score, q "
                f"FROM {docs} d, to_tsquery('simple', %s) q WHERE d.tsv @@ q{where} "
                f"{order} LIMIT %s OFFSET %s"
            )
            sql = (
                "SELECT id, item_id, feed_id, lang, text_lang, ts, title, url, "
                "ts_headline('simple', CASE WHEN nbody = '' THEN ntitle ELSE nbody END, q, "
                "'StartSel=[, StopSel=], MaxWords=24, MinWords=10, MaxFragments=1, "
                "FragmentDelimiter=…'), score "
                f"FROM ({inner}) page "
                + ("ORDER BY score, id" if sort == "rank" else "ORDER BY ts DESC, id DESC")
            )
            args = [match, *params, limit, offset]

        def run(conn: Any) -> list[Any]:
            import psycopg

            try:
                with conn.transaction():
                    conn.execute(
                        "SELECT set_config('statement_timeout', %s, true)",
                        (f"{max(1, round(timeout * 1000))}ms",),
                    )
                    return conn.execute(sql, args).fetchall()
            except psycopg.errors.QueryCanceled as exc:
                raise SearchTimeout from exc

        return [_hit(row) for row in self.log.with_connection(run)]

    def alert_positions(self, item_id: str) -> list[int]:
        """The log positions of the alerts naming `item_id`, oldest first."""
        sql = self._sql("SELECT position FROM {s}search_rules WHERE item_id = %s ORDER BY 1")
        rows = self.log.with_connection(lambda c: c.execute(sql, (item_id,)).fetchall())
        return [row[0] for row in rows]

    def count(self) -> int:
        """How many items the index holds."""
        sql = self._sql("SELECT count(*) FROM {s}search_docs")
        return self.log.with_connection(lambda c: c.execute(sql).fetchone()[0])

    def item_ids(self, match: str) -> list[tuple[str, int]]:
        """Every item whose indexed text matches `match` (a tsquery text), unranked, with the
        log position of its indexed version."""
        sql = self._sql(
            "SELECT item_id, id FROM {s}search_docs WHERE tsv @@ to_tsquery('simple', %s)"
        )
        return [(r[0], r[1]) for r in self.log.with_connection(lambda c: c.execute(sql, (match,)))]

    def count_between(self, since: int | None, until: int | None) -> int:
        """How many items have their time (published, else received) in [since, until]."""
        sql = self._sql("SELECT count(*) FROM {s}search_docs WHERE ts >= %s AND ts <= %s")
        low, high = since if since is not None else -(2**62), until if until is not None else 2**62
        return self.log.with_connection(lambda c: c.execute(sql, (low, high)).fetchone()[0])

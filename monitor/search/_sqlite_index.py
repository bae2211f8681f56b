"""The search index in an SQLite log: FTS5 over the folded text, plus filter tables.

``search_docs`` holds one row per item (id = the log position of its indexed version, the
columns filters and listings need, the folded title and body); ``search_fts`` is an FTS5
external-content table over it, tokenized by ``unicode61`` on exactly the characters the rule
engine keeps in a word (letters, digits, spacing marks), with 2- and 3-letter prefix indexes so
``deploy*`` needs no scan; ``search_entities`` and ``search_rules`` answer ``--place``,
``--actor`` and ``--rule``. The triggers are described in `_projection`.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from ..log import EventLog
from ._filters import SORTS, Filters, Hit, filter_sql, from_micros
from ._projection import SEARCH_PROJECTION

__all__ = ["SQLiteIndex"]

_P = f"new.name = '{SEARCH_PROJECTION}'"
_V = "json_extract(new.value, '$.{}')"
_DOC_VALUES = ", ".join(_V.format(k) for k in ("p", "i", "f", "l", "tl", "ts", "r", "t", "u"))

DDL = [
    """CREATE TABLE IF NOT EXISTS search_docs (
        id INTEGER PRIMARY KEY, item_id TEXT NOT NULL UNIQUE, feed_id TEXT NOT NULL,
        lang TEXT, text_lang TEXT, ts INTEGER NOT NULL, received INTEGER NOT NULL,
        title TEXT NOT NULL, url TEXT, ntitle TEXT NOT NULL, nbody TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS search_docs_ts ON search_docs (ts, id)",
    "CREATE INDEX IF NOT EXISTS search_docs_feed ON search_docs (feed_id, ts)",
    """CREATE TABLE IF NOT EXISTS search_entities (
        entity TEXT NOT NULL, item_id TEXT NOT NULL, PRIMARY KEY (entity, item_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS search_rules (
        rule_id TEXT NOT NULL, item_id TEXT NOT NULL, alert_id TEXT NOT NULL,
        position INTEGER NOT NULL, PRIMARY KEY (rule_id, item_id, alert_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS search_rules_item ON search_rules (item_id)",
    """CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
        ntitle, nbody, content='search_docs', content_rowid='id', prefix='2 3',
        tokenize="unicode61 remove_diacritics 2 categories 'L* N* Co Mc'")""",
    # bm25 with the title weighing twice the body; `rank` then orders by it.
    "INSERT INTO search_fts (search_fts, rank) VALUES ('rank', 'bm25(2.0, 1.0)')",
    f"""CREATE TRIGGER IF NOT EXISTS search_capture_doc BEFORE INSERT ON projection_rows
    WHEN {_P} AND substr(new.key, 1, 2) = 'd:' BEGIN
        INSERT INTO search_fts (search_fts, rowid, ntitle, nbody)
            SELECT 'delete', id, ntitle, nbody FROM search_docs
            WHERE item_id = {_V.format("i")};
        DELETE FROM search_docs WHERE item_id = {_V.format("i")};
        INSERT INTO search_docs VALUES ({_DOC_VALUES}, {_V.format("nt")}, {_V.format("nb")});
        INSERT INTO search_fts (rowid, ntitle, nbody)
            VALUES ({_V.format("p")}, {_V.format("nt")}, {_V.format("nb")});
        SELECT RAISE(IGNORE);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS search_capture_entity BEFORE INSERT ON projection_rows
    WHEN {_P} AND substr(new.key, 1, 2) = 'e:' BEGIN
        INSERT OR IGNORE INTO search_entities VALUES ({_V.format("e")}, {_V.format("i")});
        SELECT RAISE(IGNORE);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS search_capture_rule BEFORE INSERT ON projection_rows
    WHEN {_P} AND substr(new.key, 1, 2) = 'a:' BEGIN
        INSERT OR IGNORE INTO search_rules
            VALUES ({_V.format("r")}, {_V.format("i")}, {_V.format("a")}, {_V.format("p")});
        SELECT RAISE(IGNORE);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS search_drop AFTER DELETE ON projections
    WHEN old.name = '{SEARCH_PROJECTION}' BEGIN
        DELETE FROM search_docs;
        DELETE FROM search_entities;
        DELETE FROM search_rules;
        INSERT INTO search_fts (search_fts) VALUES ('delete-all');
    END""",
]

_COLUMNS = "d.id, d.item_id, d.feed_id, d.lang, d.text_lang, d.ts, d.title, d.url"


class SearchTimeout(Exception):
    """Raised inside the connection when the progress handler stopped a query."""


class SQLiteIndex:
    """Install and query the index in an SQLite log (through `EventLog.with_connection`)."""

    mark = "?"

    def __init__(self, log: EventLog) -> None:
        self.log = log

    def installed(self) -> bool:
        """Whether the tables and triggers exist."""
        rows = self.log.with_connection(
            lambda c: c.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'search_drop'"
            ).fetchone()
        )
        return bool(rows[0])

    def install(self) -> None:
        """Create the tables and triggers (idempotent)."""
        if self.installed():
            return

        def create(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_drop'").fetchone():
                return  # another process installed it while we waited for the lock
            for statement in DDL:
                conn.execute(statement)

        self.log.with_connection(create, write=True)

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
        """Run one page of a search (`match` is an FTS5 expression) or a listing (None)."""
        assert sort in SORTS
        where, params = filter_sql(filters, self.mark)
        where = where.replace("{s}", "")
        if after is not None:
            where += " AND (d.ts < ? OR (d.ts = ? AND d.id < ?))"
            params += [after[0], after[0], after[1]]
        newest = "ORDER BY d.ts DESC, d.id DESC"
        if match is None:
            sql = f"SELECT {_COLUMNS}, '', 0.0 FROM search_docs d WHERE 1{where} {newest}"
            args: list[Any] = params
        else:
            order = "ORDER BY f.rank, d.id" if sort == "rank" else newest
            sql = (
                f"SELECT {_COLUMNS}, snippet(search_fts, -1, '[', ']', '…', 16), f.rank "
                f"FROM search_fts f JOIN search_docs d ON d.id = f.rowid "
                f"WHERE search_fts MATCH ?{where} {order}"
            )
            args = [match, *params]
        sql += " LIMIT ? OFFSET ?"
        args += [limit, offset]

        def run(conn: sqlite3.Connection) -> list[Any]:
            deadline = time.monotonic() + timeout
            conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
            try:
                return conn.execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:
                if "interrupted" in str(exc):
                    raise SearchTimeout from exc
                raise
            finally:
                conn.set_progress_handler(None, 0)

        return [_hit(row) for row in self.log.with_connection(run)]

    def alert_positions(self, item_id: str) -> list[int]:
        """The log positions of the alerts naming `item_id`, oldest first."""
        return [
            row[0]
            for row in self.log.with_connection(
                lambda c: c.execute(
                    "SELECT position FROM search_rules WHERE item_id = ? ORDER BY position",
                    (item_id,),
                ).fetchall()
            )
        ]

    def count(self) -> int:
        """How many items the index holds."""
        return self.log.with_connection(
            lambda c: c.execute("SELECT count(*) FROM search_docs").fetchone()[0]
        )

    def item_ids(self, match: str) -> list[tuple[str, int]]:
        """Every item whose indexed text matches `match` (an FTS5 expression), unranked, with
        the log position of its indexed version."""
        sql = (
            "SELECT d.item_id, d.id FROM search_fts f JOIN search_docs d ON d.id = f.rowid "
            "WHERE search_fts MATCH ?"
        )
        return [(r[0], r[1]) for r in self.log.with_connection(lambda c: c.execute(sql, (match,)))]

    def count_between(self, since: int | None, until: int | None) -> int:
        """How many items have their time (published, else received) in [since, until]."""
        sql = "SELECT count(*) FROM search_docs WHERE ts >= ? AND ts <= ?"
        low, high = since if since is not None else -(2**62), until if until is not None else 2**62
        return self.log.with_connection(lambda c: c.execute(sql, (low, high)).fetchone()[0])


def _hit(row: Any) -> Hit:
    position, item_id, feed_id, lang, text_lang, ts, title, url, snippet, score = row
    return Hit(
        item_id=item_id,
        feed_id=feed_id,
        time=from_micros(ts),
        title=title,
        url=url,
        lang=text_lang or lang,
        snippet=snippet or "",
        score=float(score or 0.0),
        position=position,
    )

"""One query interface over both backends: `catch_up`, `search`, `list_items`, `item_detail`.

Bounds, so that no query runs unbounded: a page holds at most `MAX_LIMIT` hits, ranked results
can be paged `MAX_OFFSET` deep (newest-first pages use a keyset cursor, so any depth is cheap),
and each database query is stopped after `timeout` seconds (`DEFAULT_TIMEOUT`) with a
`SearchTimeoutError`.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from ..errors import MonitorError
from ..events import AlertRaised, ItemReceived, ItemRevised
from ..log import EventLog
from ..projections import ItemVersions, ProgressCallback, ProjectionRunner
from ..rules import RuleSet
from ._filters import SORTS, Filters, Page
from ._pg_index import PostgresIndex
from ._projection import SearchIndex, micros
from ._query import Or, Phrase, QueryError, parse_query
from ._render import to_fts5, to_tsquery
from ._sqlite_index import SearchTimeout, SQLiteIndex

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_TIMEOUT",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "ItemDetail",
    "SearchTimeoutError",
    "catch_up",
    "count_between",
    "entity_id",
    "index_lag",
    "item_detail",
    "items_with_any",
    "list_items",
    "rebuild",
    "search",
]

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
MAX_OFFSET = 10_000
DEFAULT_TIMEOUT = 10.0
NO_FILTERS = Filters()


class SearchTimeoutError(MonitorError):
    """A search query ran past its timeout; narrow it (filters, fewer prefixes)."""


#: The index of each open log whose tables are known to exist: a query then costs no look-up
#: in the catalogue (the tables are never dropped while the log is open; a rebuild empties them).
_INSTALLED: weakref.WeakKeyDictionary[EventLog, SQLiteIndex | PostgresIndex] = (
    weakref.WeakKeyDictionary()
)


def _index(log: EventLog) -> SQLiteIndex | PostgresIndex:
    """The installed index of `log` (created on first use)."""
    index = _INSTALLED.get(log)
    if index is not None:
        return index
    url = getattr(log, "url", "") or ""
    if url.startswith("sqlite:"):
        index = SQLiteIndex(log)
    elif url.startswith(("postgresql:", "postgres:")):
        index = PostgresIndex(log)
    else:
        raise MonitorError(
            f"search needs an SQLite or PostgreSQL log; {type(log).__name__} keeps no index"
        )
    index.install()
    _INSTALLED[log] = index
    return index


def index_lag(log: EventLog) -> int:
    """How many log positions the index is behind the head (what `catch_up` has to read)."""
    (status,) = ProjectionRunner(log, [SearchIndex()]).status()
    return status.lag if not status.stale else status.head


def catch_up(log: EventLog, progress: ProgressCallback | None = None) -> int:
    """Install the index if needed and fold the log into it up to the head; return its
    checkpoint. Safe to call from several processes (the runner's lease serializes them)."""
    _index(log)
    return ProjectionRunner(log, [SearchIndex()]).run(progress=progress)[SearchIndex.name]


def rebuild(log: EventLog, progress: ProgressCallback | None = None) -> int:
    """Drop the index and rebuild it from position 0; return its checkpoint."""
    _index(log)
    return ProjectionRunner(log, [SearchIndex()]).rebuild(progress=progress)[SearchIndex.name]


def entity_id(kind: str, value: str, ruleset: RuleSet | None = None) -> str:
    """The entity id a ``--place``/``--actor`` value names: an id as is (``place:al-tanf``),
    a lexicon name of the loaded rules (``al_tanf``) as its canonical id, else
    ``<kind>:<value>`` with ``_`` read as ``-``."""
    if ":" in value:
        return value
    if ruleset is not None:
        try:
            lex = ruleset.lexicon(value)
        except KeyError:
            lex = None
        if lex is not None and lex.canonical:
            return lex.canonical
    return f"{kind}:{value.replace('_', '-')}"


def _check_page(limit: int) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}")


def _read_cursor(cursor: str | None, sort: str) -> tuple[int, tuple[int, int] | None]:
    """(offset, keyset) from a cursor of a previous page (``r<offset>`` or ``n<ts>.<id>``)."""
    if not cursor:
        return 0, None
    try:
        if sort == "rank" and cursor.startswith("r"):
            offset = int(cursor[1:])
            if 0 <= offset <= MAX_OFFSET:
                return offset, None
        elif sort == "newest" and cursor.startswith("n"):
            ts, position = cursor[1:].split(".")
            return 0, (int(ts), int(position))
    except ValueError:
        pass
    raise QueryError(
        f"cursor {cursor!r} is not one this search gave (cursors belong to one --sort)"
    )


def _run(
    log: EventLog,
    node: Any,
    filters: Filters,
    sort: str,
    limit: int,
    cursor: str | None,
    timeout: float,
) -> Page:
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    _check_page(limit)
    offset, after = _read_cursor(cursor, sort)
    index = _index(log)
    match = None
    if node is not None:
        match = to_fts5(node) if isinstance(index, SQLiteIndex) else to_tsquery(node)
    try:
        hits = index.query(match, filters, sort, limit, offset, after, timeout)
    except SearchTimeout:
        raise SearchTimeoutError(
            f"the search ran longer than {timeout:g}s and was stopped; narrow it with more "
            "words, fewer prefixes or filters (--since, --feed)"
        ) from None
    following = None
    if len(hits) == limit:
        if sort == "rank":
            if offset + limit < MAX_OFFSET:
                following = f"r{offset + limit}"
        else:
            last = hits[-1]
            following = f"n{_micros(last)}.{last.position}"
    return Page(tuple(hits), following)


def _micros(hit: Any) -> int:
    return micros(hit.time)


def search(
    log: EventLog,
    query: str,
    *,
    ruleset: RuleSet | None = None,
    filters: Filters = NO_FILTERS,
    sort: str = "rank",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Page:
    """Search the index (bring it up to date first with `catch_up`).

    Args:
        query: see `parse_query` (words, "phrases", prefix*, AND/OR/NOT, (), @lexicons).
        ruleset: the rules whose lexicons ``@name`` expands.
        filters: narrow the hits (`Filters`).
        sort: ``rank`` (best first) or ``newest``.
        limit: hits per page (at most `MAX_LIMIT`).
        cursor: the `Page.next_cursor` of the previous page.
        timeout: seconds before the database query is stopped.

    Raises:
        QueryError: the query, the cursor, the sort or the limit is malformed.
        SearchTimeoutError: the query ran past `timeout`.
    """
    node = parse_query(query, ruleset)
    return _run(log, node, filters, sort, limit, cursor, timeout)


def list_items(
    log: EventLog,
    *,
    filters: Filters = NO_FILTERS,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Page:
    """The indexed items, newest first, narrowed by `filters`, one page at a time."""
    return _run(log, None, filters, "newest", limit, cursor, timeout)


@attrs.frozen
class ItemDetail:
    """An item as `monitor items show` shows it: every version (oldest first; the last is the
    current one) and the alerts that named it (oldest first, with their evidence)."""

    versions: tuple[ItemReceived | ItemRevised, ...]
    alerts: tuple[AlertRaised, ...]

    @property
    def current(self) -> ItemReceived | ItemRevised:
        """The version the index holds."""
        return self.versions[-1]


def item_detail(log: EventLog, item_id: str) -> ItemDetail | None:
    """The versions and alerts of `item_id`, None when the log holds no such item. Reads
    the `ItemVersions` projection (bring it up to date first) and the index's alert rows."""
    versions = tuple(ItemVersions.versions(log, item_id))
    if not versions:
        return None
    alerts: list[AlertRaised] = []
    for position in _index(log).alert_positions(item_id):
        page = log.read_page(position - 1, 1)
        if page and page[0].position == position:
            event = page[0].event()
            if isinstance(event, AlertRaised):
                alerts.append(event)
    return ItemDetail(versions, tuple(alerts))


def items_with_any(
    log: EventLog, phrases: Iterable[tuple[Sequence[str], bool]], *, batch: int = 250
) -> dict[str, int]:
    """The ids of the items whose indexed text (title and body of their current version)
    contains at least one of `phrases`: normalized tokens and whether the last is a prefix, as
    `RuleSet.presearch_phrases` gives them. Queried `batch` phrases at a time (one OR each), so
    a rule with thousands of Arabic word forms is a few dozen index look-ups, not a scan.
    Returns item id -> the log position of the indexed (current) version."""
    index = _index(log)
    render = to_fts5 if isinstance(index, SQLiteIndex) else to_tsquery
    nodes = [Phrase(tuple(tokens), prefix) for tokens, prefix in phrases if tokens]
    found: dict[str, int] = {}
    for start in range(0, len(nodes), batch):
        part = nodes[start : start + batch]
        found.update(index.item_ids(render(part[0] if len(part) == 1 else Or(tuple(part)))))
    return found


def count_between(log: EventLog, since: datetime | None, until: datetime | None) -> int:
    """How many indexed items have their time (published, else received) in [since, until]."""
    low = micros(since) if since is not None else None
    high = micros(until) if until is not None else None
    return _index(log).count_between(low, high)

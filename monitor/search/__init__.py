"""Full-text search over the stored items: a projection (`SearchIndex`) that folds the log into
an index in the log's own database (SQLite FTS5, or a PostgreSQL tsvector with a GIN index),
and one query interface over both.

Queries are parsed here (`parse_query`: words, "phrases", prefix*, AND / OR / NOT,
parentheses, ``@places.al_tanf`` lexicon references) and rendered for the backend, never
passed raw; text is folded by the rule engine's normalizer and Arabic terms are expanded into
their written forms as rules expand them, so a search finds what a rule with the same words
finds.

Example::

    catch_up(log)                                       # fold new records into the index
    page = search(log, '"al-Tanf" AND drone*', filters=Filters(feed="reuters"))
    for hit in page.hits:
        print(hit.item_id, hit.title, hit.snippet)

Dependencies point one way: this package imports rules, log, events and projections; nothing
below imports it.
"""

from ._api import (
    DEFAULT_LIMIT,
    DEFAULT_TIMEOUT,
    MAX_LIMIT,
    MAX_OFFSET,
    ItemDetail,
    SearchTimeoutError,
    catch_up,
    count_between,
    entity_id,
    index_lag,
    item_detail,
    items_with_any,
    list_items,
    rebuild,
    search,
)
from ._filters import SORTS, Filters, Hit, Page
from ._presearch import AUTO_MAX_LAG, backtest_candidates
from ._projection import MAX_INDEXED_CHARS, SEARCH_PROJECTION, SearchIndex
from ._query import (
    MAX_DEPTH,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    And,
    Node,
    Not,
    Or,
    Phrase,
    QueryError,
    parse_query,
)
from ._render import to_fts5, to_tsquery

__all__ = [
    "AUTO_MAX_LAG",
    "DEFAULT_LIMIT",
    "DEFAULT_TIMEOUT",
    "MAX_DEPTH",
    "MAX_INDEXED_CHARS",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "SEARCH_PROJECTION",
    "SORTS",
    "And",
    "Filters",
    "Hit",
    "ItemDetail",
    "Node",
    "Not",
    "Or",
    "Page",
    "Phrase",
    "QueryError",
    "SearchIndex",
    "SearchTimeoutError",
    "backtest_candidates",
    "catch_up",
    "count_between",
    "entity_id",
    "index_lag",
    "item_detail",
    "items_with_any",
    "list_items",
    "parse_query",
    "rebuild",
    "search",
    "to_fts5",
    "to_tsquery",
]

"""`SearchIndex` (``search``): the projection that feeds the full-text index.

The index lives in tables of the log's own database (`_sqlite_index`, `_pg_index`), and it
must move with its checkpoint in one transaction, exactly once, like every projection's state.
So the projection writes its rows through the ordinary `StateView` (``d:<item>`` a document,
``e:<item>:<entity>`` an entity, ``a:<item>:<rule>:<alert>`` an alert naming the item), and a
``BEFORE INSERT`` trigger on ``projection_rows`` that the index installs turns each such row
into index rows and drops the row itself (``RAISE(IGNORE)`` in SQLite, ``RETURN NULL`` in
PostgreSQL). The trigger runs inside the runner's commit, so the index rows and the checkpoint
are committed, or rolled back, together; a ``DELETE`` trigger on ``projections`` empties the
index when the runner drops the projection for a rebuild. `apply` therefore never reads its
own keys back (they are not stored), which it has no need to: every write is keyed by what
it replaces.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from ..events import AlertRaised, EntitiesExtracted, Event, ItemReceived, ItemRevised
from ..log import Record
from ..projections import Projection, StateView, key
from ..rules import normalize

__all__ = ["MAX_INDEXED_CHARS", "SEARCH_PROJECTION", "SearchIndex", "micros"]

#: The projection's name, and so the rows its triggers catch.
SEARCH_PROJECTION = "search"
#: The longest text indexed per item (title and body each): PostgreSQL keeps word positions
#: only up to 16,383 and a tsvector under 1 MiB, and both backends must find the same items.
MAX_INDEXED_CHARS = 100_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(value: datetime) -> int:
    """`value` (aware) as whole microseconds since 1970 UTC: the index's time column."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class SearchIndex(Projection):
    """Index the current version of every item, its entities and the rules that alerted on it.

    Text is normalized by the rule engine's `normalize` (the index holds folded words, so case,
    diacritics and Arabic letter variants match as they do in rules); an `ItemRevised`
    replaces its item's document (its ``id`` is the revision's log position). Time is the
    item's published time, else the time it was received.
    """

    name: ClassVar[str] = SEARCH_PROJECTION
    version: ClassVar[int] = 1
    types: ClassVar[frozenset[str]] = frozenset(
        {"ItemReceived", "ItemRevised", "EntitiesExtracted", "AlertRaised"}
    )

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """Turn one event into index rows (see the module docstring)."""
        if isinstance(event, ItemReceived | ItemRevised):
            body = event.summary
            if event.content:
                body = f"{body}\n{event.content}" if body else event.content
            state.put(
                key("d", event.item_id),
                {
                    "i": event.item_id,
                    "p": record.position,
                    "f": event.feed_id,
                    "l": event.lang,
                    "tl": event.text_lang,
                    "ts": micros(event.published or event.received),
                    "r": micros(event.received),
                    "t": event.title,
                    "u": event.url,
                    "nt": normalize(event.title[:MAX_INDEXED_CHARS]),
                    "nb": normalize(body[:MAX_INDEXED_CHARS]),
                },
            )
        elif isinstance(event, EntitiesExtracted):
            for found in event.items:
                for entity in found.entities:
                    state.put(key("e", found.item_id, entity), {"i": found.item_id, "e": entity})
        elif isinstance(event, AlertRaised):
            for item_id in event.item_ids:
                state.put(
                    key("a", item_id, event.rule_id, event.alert_id),
                    {"i": item_id, "r": event.rule_id, "a": event.alert_id, "p": record.position},
                )

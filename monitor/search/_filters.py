"""What a search or a listing is narrowed by (`Filters`), what it returns (`Hit`, `Page`), and
the SQL of the filters, shared by both backends (they differ only in the placeholder)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from ._projection import micros

__all__ = ["SORTS", "Filters", "Hit", "Page", "filter_sql"]

#: The orders a search may ask for: ``rank`` (best match first) or ``newest``.
SORTS = ("rank", "newest")


@attrs.frozen
class Filters:
    """Narrow a search or a listing. Every field is optional; all given must hold.

    ``since``/``until``: the item's time (published, else received), inclusive; ``feed``: a
    feed id; ``lang``: the declared or the detected language; ``place``/``actor``: an entity
    id (``place:al-tanf``) the rules extracted from the item; ``rule``: a rule id that raised
    an alert naming the item.
    """

    since: datetime | None = None
    until: datetime | None = None
    feed: str | None = None
    lang: str | None = None
    place: str | None = None
    actor: str | None = None
    rule: str | None = None


@attrs.frozen
class Hit:
    """One item found: its current version's id, feed, time, title, url and language, a
    snippet of its normalized text with the matched words in ``[brackets]`` (empty in a
    listing), the rank score (lower is better; 0 in a listing) and the log position of the
    indexed version."""

    item_id: str
    feed_id: str
    time: datetime
    title: str
    url: str | None
    lang: str | None
    snippet: str
    score: float
    position: int

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``--json``."""
        out = attrs.asdict(self)
        out["time"] = self.time.isoformat().replace("+00:00", "Z")
        return out


@attrs.frozen
class Page:
    """One page of hits and the cursor of the next page (None when this is the last)."""

    hits: tuple[Hit, ...]
    next_cursor: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``--json``."""
        return {"hits": [h.to_json() for h in self.hits], "next_cursor": self.next_cursor}


def from_micros(value: int) -> datetime:
    """The inverse of `_projection.micros`."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def filter_sql(filters: Filters, mark: str) -> tuple[str, list[Any]]:
    """The ``AND ...`` conditions on ``d`` (search_docs) for `filters`, and their parameters."""
    sql: list[str] = []
    params: list[Any] = []
    if filters.since is not None:
        sql.append(f"d.ts >= {mark}")
        params.append(micros(filters.since))
    if filters.until is not None:
        sql.append(f"d.ts <= {mark}")
        params.append(micros(filters.until))
    if filters.feed is not None:
        sql.append(f"d.feed_id = {mark}")
        params.append(filters.feed)
    if filters.lang is not None:
        sql.append(f"(d.lang = {mark} OR d.text_lang = {mark})")
        params += [filters.lang, filters.lang]
    for entity in (filters.place, filters.actor):
        if entity is not None:
            sql.append(
                f"d.item_id IN (SELECT item_id FROM {{s}}search_entities WHERE entity = {mark})"
            )
            params.append(entity)
    if filters.rule is not None:
        sql.append(f"d.item_id IN (SELECT item_id FROM {{s}}search_rules WHERE rule_id = {mark})")
        params.append(filters.rule)
    return "".join(f" AND {c}" for c in sql), params

"""Telling an article another feed already stored from a new one, for the poller.

An entry whose item id the log does not know (see `_revisions`) may still be an article the
log holds: the same address delivered by another feed (an outlet's main feed and its section
feed; one wire story on two aggregators). The poller asks the ``item_versions`` projection for
the entry's canonical address (`monitor.events.item_canonical_url`), one key lookup per entry
that is new to its feed (entries already known take no lookup, so a poll of an unchanged feed
costs nothing here). The ``url:`` value's ``item_id``, ``feed_id`` and ``feeds`` are a
contract with `monitor.projections.ItemVersions` (they meet in the log, never by import).

What the answer means:

* no item under the address, or one stored from this same feed (a publisher that changed an
  entry's guid): the entry is a new item, as before;
* an item from another feed, not yet sighted in this one: an `ItemSighted` (dedupe key
  ``sighting:<item_id>:<feed_id>``, so two watchers store it once);
* already sighted in this feed: nothing, whatever the entry's text says now. Revisions are
  tracked from the feed that first stored the item only; a sighting never changes its text.

Correctness does not depend on the projection being current, with one exception the README
states: two feeds delivering one new article before either's item is folded (two watchers
racing, or a projection run behind) both store it as an item; the projection then names the
second `same_url_as` the first, and later polls of either feed know their own item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from ..events import ItemReceived, ItemSighted, canonical_digest, item_canonical_url, sighting_of
from ..log import EventLog
from ._revisions import ITEM_VERSIONS

__all__ = ["StoredUrl", "UrlLookup", "split_sightings", "stored_urls"]


@attrs.frozen
class StoredUrl:
    """The item stored under a canonical address: its id, the feed that stored it, and the
    feeds it has been sighted in since."""

    item_id: str
    feed_id: str
    feeds: frozenset[str]


#: A lookup from canonical address to the item stored under it (None: no item is).
UrlLookup = Callable[[str], "StoredUrl | None"]


def stored_urls(log: EventLog) -> UrlLookup:
    """Return a lookup that reads the ``url:`` keys of the ``item_versions`` projection of
    `log`, one key a call."""

    def lookup(canonical: str) -> StoredUrl | None:
        row = log.projection_get(ITEM_VERSIONS, f"url:{canonical_digest(canonical)}")
        if not row:
            return None
        return StoredUrl(
            item_id=row["item_id"], feed_id=row["feed_id"], feeds=frozenset(row["feeds"])
        )

    return lookup


def split_sightings(
    items: Iterable[ItemReceived], stored: UrlLookup
) -> tuple[list[ItemReceived], list[ItemSighted]]:
    """Split a document's new items into those to store and the sightings of articles another
    feed stored (see the module docstring). Two entries of one document at one address give
    at most one sighting."""
    new: list[ItemReceived] = []
    sightings: list[ItemSighted] = []
    looked_up: dict[str, StoredUrl | None] = {}
    for item in items:
        canonical = item_canonical_url(item)
        if canonical is None:
            new.append(item)
            continue
        first = canonical not in looked_up
        if first:
            looked_up[canonical] = stored(canonical)
        held = looked_up[canonical]
        if held is None or held.feed_id == item.feed_id:
            new.append(item)
        elif first and item.feed_id not in held.feeds:
            sightings.append(sighting_of(item, item_id=held.item_id, canonical=canonical))
    return new, sightings

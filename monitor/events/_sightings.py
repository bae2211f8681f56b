"""Sightings: the canonical address an item is recognised by across feeds, and the event that
records an entry of one feed as a sighting of an item another feed stored."""

from __future__ import annotations

import hashlib

from ._identity import canonical_url
from ._types import ItemReceived, ItemSighted

__all__ = ["canonical_digest", "item_canonical_url", "sighting_of"]


def item_canonical_url(item: ItemReceived) -> str | None:
    """Return the canonical address of `item`'s article: its `original_url` (the article behind
    a tracking link, FeedBurner's ``origLink``) when it has one, else its link; None when
    neither is an absolute http(s) address."""
    return canonical_url(item.original_url) or canonical_url(item.url)


def canonical_digest(canonical: str) -> str:
    """Return 32 hex digits naming the canonical address `canonical`: what views key an address
    by, so a key stays short however long the address (a URL may run to 100,000 characters,
    more than a database index entry holds)."""
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def sighting_of(entry: ItemReceived, *, item_id: str, canonical: str) -> ItemSighted:
    """Return the `ItemSighted` recording `entry` (an item as its own feed delivered it) as a
    sighting of the stored item `item_id`, both at the address `canonical`."""
    return ItemSighted(
        item_id=item_id,
        feed_id=entry.feed_id,
        seen=entry.received,
        entry_id=entry.item_id,
        canonical_url=canonical,
        guid=entry.guid,
        url=entry.url,
        title=entry.title,
    )

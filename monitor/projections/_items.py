"""The built-in projection of item versions: `ItemVersions` (``item_versions``).

It is what the poller reads to tell a revised item from an unchanged one, and a new entry of
one feed from an article another feed already stored (the feeds package reads ``revision``,
``hash`` and ``hashes`` of an ``item:`` value, and ``item_id``, ``feed_id`` and ``feeds`` of a
``url:`` value, by this projection's name), so those keys are a contract: change them only
with a version bump and a matching change there.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..events import (
    Event,
    ItemReceived,
    ItemRevised,
    ItemSighted,
    canonical_digest,
    canonical_url,
    content_hash,
    item_canonical_url,
)
from ..log import EventLog, Record
from ._base import Projection, StateView, key, sortable_time

__all__ = ["ItemVersions"]

#: How many items another feed stored under an address already taken (watchers racing) a
#: ``url:`` value names; the count goes on in ``also_stored_count``.
MAX_ALSO_STORED = 20


class ItemVersions(Projection):
    """Per item: its current version, the history of its versions, and where it was sighted;
    per canonical address: the item stored under it.

    Key ``item:<item_id>``; value: ``item_id``, ``feed_id``; the current version's ``title``,
    ``url``, ``authors``, ``tags``, ``lang``, ``text_lang`` and ``published``; ``revision``
    (0 for the first version, then 1, 2, ... in log order), ``hash`` (its content hash) and
    ``hashes`` (every version's); ``versions``: one ``{"revision", "hash", "position",
    "received", "title"}`` per version, oldest first, where ``position`` is the record
    (`ItemReceived` or `ItemRevised`) holding that version's full text; ``canonical_url`` (see
    `monitor.events.item_canonical_url`, None without one); ``sightings``: one ``{"feed_id",
    "seen", "position", "url", "entry_id"}`` per other feed that carried it (`ItemSighted`), in
    log order; ``same_url_as``: the item first stored under the same address by another feed,
    when two watchers stored it twice.

    Key ``url:<canonical_digest>``; value: ``url`` (the canonical address), ``item_id`` and
    ``feed_id`` of the first item stored under it in log order, ``feeds`` (the feeds it was
    sighted in), ``also_stored`` (other feeds' items stored under it anyway, at most
    `MAX_ALSO_STORED`) and ``also_stored_count``. A revision that moves an item to a new
    address adds that address too; the old one keeps pointing at the item.

    Revision numbers are assigned here, by log order, so a rebuild gives the same numbers; a
    version whose hash is already known is not folded again.
    """

    name: ClassVar[str] = "item_versions"
    #: 2: canonical addresses (``url:`` keys) and sightings.
    version: ClassVar[int] = 2
    types: ClassVar[frozenset[str]] = frozenset({"ItemReceived", "ItemRevised", "ItemSighted"})

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """Fold a first version, a revision or a sighting into its item's value."""
        if isinstance(event, ItemSighted):
            self._sighted(event, record, state)
            return
        assert isinstance(event, ItemReceived | ItemRevised)
        k = key("item", event.item_id)
        digest = event.content_hash if isinstance(event, ItemRevised) else content_hash(event)
        row = state.get(k)
        canonical = item_canonical_url(event)
        if row is None:
            row = {"item_id": event.item_id, "feed_id": event.feed_id, "versions": []}
            row["hashes"] = []
            row["sightings"] = []
            row["canonical_url"] = canonical
            revision = 0
        elif digest in row["hashes"]:
            return
        else:
            revision = len(row["versions"])
        if canonical is not None:
            self._claim(canonical, row, state)
        row.update(
            title=event.title,
            url=event.url,
            authors=list(event.authors),
            tags=list(event.tags),
            lang=event.lang,
            text_lang=event.text_lang,
            published=sortable_time(event.published) if event.published else None,
            revision=revision,
            hash=digest,
        )
        row["hashes"].append(digest)
        row["versions"].append(
            {
                "revision": revision,
                "hash": digest,
                "position": record.position,
                "received": sortable_time(event.received),
                "title": event.title,
            }
        )
        state.put(k, row)

    @staticmethod
    def _claim(canonical: str, row: dict[str, Any], state: StateView) -> None:
        """Store the item of `row` under `canonical` unless an item is there already; note an
        item another feed stored under a taken address (watchers racing: see the README)."""
        k = key("url", canonical_digest(canonical))
        held = state.get(k)
        if held is None:
            state.put(
                k,
                {
                    "url": canonical,
                    "item_id": row["item_id"],
                    "feed_id": row["feed_id"],
                    "feeds": [],
                    "also_stored": [],
                    "also_stored_count": 0,
                },
            )
            return
        if held["item_id"] == row["item_id"] or held["feed_id"] == row["feed_id"]:
            return  # the item itself, or another entry of the same feed: not a second outlet
        if row.get("same_url_as") is None and not row["versions"]:
            row["same_url_as"] = held["item_id"]
            if len(held["also_stored"]) < MAX_ALSO_STORED:
                held["also_stored"].append(row["item_id"])
            held["also_stored_count"] += 1
            state.put(k, held)

    @staticmethod
    def _sighted(event: ItemSighted, record: Record, state: StateView) -> None:
        k = key("item", event.item_id)
        row = state.get(k)
        if row is None:  # not from this log's poller (an import, a salvaged log): nothing to add
            return
        if any(s["feed_id"] == event.feed_id for s in row["sightings"]):
            return
        row["sightings"].append(
            {
                "feed_id": event.feed_id,
                "seen": sortable_time(event.seen),
                "position": record.position,
                "url": event.url,
                "entry_id": event.entry_id,
            }
        )
        state.put(k, row)
        uk = key("url", canonical_digest(event.canonical_url))
        held = state.get(uk)
        if (
            held is not None
            and held["item_id"] == event.item_id
            and event.feed_id not in held["feeds"]
        ):
            held["feeds"].append(event.feed_id)
            state.put(uk, held)

    @classmethod
    def get(cls, log: EventLog, item_id: str) -> dict[str, Any] | None:
        """Return the current-version summary and history of `item_id`, None if unknown."""
        return log.projection_get(cls.name, key("item", item_id))

    @classmethod
    def by_url(cls, log: EventLog, url: str) -> dict[str, Any] | None:
        """Return the ``url:`` value (see the class docstring) of the item stored under `url`'s
        canonical address, None if none is (or `url` has no canonical form)."""
        canonical = canonical_url(url)
        if canonical is None:
            return None
        return log.projection_get(cls.name, key("url", canonical_digest(canonical)))

    @classmethod
    def versions(cls, log: EventLog, item_id: str) -> list[ItemReceived | ItemRevised]:
        """Return every stored version of `item_id` as its event, oldest first ([] if unknown):
        one record read per version, at the positions the projection keeps."""
        return [e for e in cls.history(log, item_id) if isinstance(e, ItemReceived | ItemRevised)]

    @classmethod
    def history(cls, log: EventLog, item_id: str) -> list[ItemReceived | ItemRevised | ItemSighted]:
        """Return every stored version and every sighting of `item_id` as its event, in log
        order ([] if unknown): one record read per entry, at the positions the projection
        keeps."""
        row = cls.get(log, item_id)
        if not row:
            return []
        positions = sorted(
            [v["position"] for v in row["versions"]]
            + [s["position"] for s in row.get("sightings", ())]
        )
        out: list[ItemReceived | ItemRevised | ItemSighted] = []
        for position in positions:
            page = log.read_page(position - 1, 1)
            if page and page[0].position == position:
                evt = page[0].event()
                assert isinstance(evt, ItemReceived | ItemRevised | ItemSighted)
                out.append(evt)
        return out

"""The built-in projection of item versions: `ItemVersions` (``item_versions``).

It is what the poller reads to tell a revised item from an unchanged one (the feeds package
reads ``revision``, ``hash`` and ``hashes`` of a value by this projection's name), so those
keys are a contract: change them only with a version bump and a matching change there.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..events import Event, ItemReceived, ItemRevised, content_hash
from ..log import EventLog, Record
from ._base import Projection, StateView, key, sortable_time

__all__ = ["ItemVersions"]


class ItemVersions(Projection):
    """Per item: its current version and the history of its versions.

    Key ``item:<item_id>``; value: ``item_id``, ``feed_id``; the current version's ``title``,
    ``url``, ``authors``, ``tags``, ``lang``, ``text_lang`` and ``published``; ``revision``
    (0 for the first version, then 1, 2, ... in log order), ``hash`` (its content hash) and
    ``hashes`` (every version's); ``versions``: one ``{"revision", "hash", "position",
    "received", "title"}`` per version, oldest first, where ``position`` is the record
    (`ItemReceived` or `ItemRevised`) holding that version's full text.

    Revision numbers are assigned here, by log order, so a rebuild gives the same numbers; a
    version whose hash is already known is not folded again.
    """

    name: ClassVar[str] = "item_versions"
    version: ClassVar[int] = 1
    types: ClassVar[frozenset[str]] = frozenset({"ItemReceived", "ItemRevised"})

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """Fold a first version or a revision into its item's value."""
        assert isinstance(event, ItemReceived | ItemRevised)
        k = key("item", event.item_id)
        digest = event.content_hash if isinstance(event, ItemRevised) else content_hash(event)
        row = state.get(k)
        if row is None:
            row = {"item_id": event.item_id, "feed_id": event.feed_id, "versions": []}
            row["hashes"] = []
            revision = 0
        elif digest in row["hashes"]:
            return
        else:
            revision = len(row["versions"])
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

    @classmethod
    def get(cls, log: EventLog, item_id: str) -> dict[str, Any] | None:
        """Return the current-version summary and history of `item_id`, None if unknown."""
        return log.projection_get(cls.name, key("item", item_id))

    @classmethod
    def versions(cls, log: EventLog, item_id: str) -> list[ItemReceived | ItemRevised]:
        """Return every stored version of `item_id` as its event, oldest first ([] if unknown):
        one record read per version, at the positions the projection keeps."""
        row = cls.get(log, item_id)
        out: list[ItemReceived | ItemRevised] = []
        for version in row["versions"] if row else ():
            page = log.read_page(version["position"] - 1, 1)
            if page and page[0].position == version["position"]:
                evt = page[0].event()
                assert isinstance(evt, ItemReceived | ItemRevised)
                out.append(evt)
        return out

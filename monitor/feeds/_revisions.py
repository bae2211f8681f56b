"""Telling a revised item from a new or an unchanged one, for the poller.

The poller must know, for every entry of a feed document, whether its item is new, unchanged,
or changed, without scanning the log. It asks the ``item_versions`` projection (see
`monitor.projections.ItemVersions`), one key lookup per entry: the value holds the content
hashes of every version stored so far and the current revision number. That value shape is a
contract between the two packages (they meet in the log, never by import): this module reads
``revision`` and ``hashes`` only.

Correctness does not depend on the projection being current. `Monitor.poll` catches the
projections up before each poll; a watcher whose view is behind another's (two watchers
sharing a log) may try to append a version already stored, and the dedupe key
``revision:<item_id>:<hash>`` drops it. An item not yet folded is taken for new, its
`ItemReceived` is a duplicate, and a change to it is found by the next poll.

A version the item had before (its content flipping back) is no revision: every distinct
content of an item is stored once, in the order first seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from ..events import ItemReceived, ItemRevised, content_hash, revision_of
from ..log import EventLog

__all__ = ["ITEM_VERSIONS", "KnownItem", "Lookup", "split_revisions", "stored_versions"]

#: The projection the poller reads item versions from.
ITEM_VERSIONS = "item_versions"


@attrs.frozen
class KnownItem:
    """What the log knows of an item: its current revision number (0 = first version only),
    the hash of its current version, and the hashes of every version stored."""

    revision: int
    current: str
    hashes: frozenset[str]


#: A lookup from item id to what is known of it (None: the item is new).
Lookup = Callable[[str], "KnownItem | None"]


def stored_versions(log: EventLog) -> Lookup:
    """Return a lookup that reads the ``item_versions`` projection of `log`, one key a call."""

    def lookup(item_id: str) -> KnownItem | None:
        row = log.projection_get(ITEM_VERSIONS, f"item:{item_id}")
        if not row:
            return None
        return KnownItem(
            revision=int(row["revision"]), current=row["hash"], hashes=frozenset(row["hashes"])
        )

    return lookup


def split_revisions(
    items: Iterable[ItemReceived], known: Lookup
) -> tuple[list[ItemReceived], list[ItemRevised]]:
    """Split a document's items into the new ones and the revisions of known ones.

    An item whose current content hash is among its stored versions' is dropped (unchanged, or
    back to an earlier version). The same item twice in one document with two contents gives
    a revision for the second only if the first was already known.
    """
    new: list[ItemReceived] = []
    revisions: list[ItemRevised] = []
    seen: dict[str, KnownItem | None] = {}
    for item in items:
        if item.item_id not in seen:
            seen[item.item_id] = known(item.item_id)
        state = seen[item.item_id]
        if state is None:
            new.append(item)
            continue
        digest = content_hash(item)
        if digest in state.hashes:
            continue
        revision = state.revision + 1
        revisions.append(revision_of(item, revision=revision, previous_hash=state.current))
        seen[item.item_id] = KnownItem(revision, digest, state.hashes | {digest})
    return new, revisions

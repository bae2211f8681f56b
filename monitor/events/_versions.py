"""Versions of an item: the hash its content is compared by, and a revision read as an item.

The hash covers what a publisher rewrites and a rule or reader cares about: title, summary,
content, link, authors and tags. Each text is NFKC-normalized with its whitespace collapsed
(so re-wrapped or re-indented text is the same version) but keeps its case (a changed
capital is an edit); the link is compared in its `normalize_url` form; authors and tags as
sets. Dates, language and source are not content: a changed `published` alone is no revision.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata

import attrs

from ._identity import normalize_url
from ._types import ItemReceived, ItemRevised

__all__ = ["content_hash", "revised_item", "revision_of"]


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").split())


def content_hash(item: ItemReceived | ItemRevised) -> str:
    """Return the 32-hex-digit hash of `item`'s normalized content (see the module docstring).

    Two versions of an item have the same hash exactly when they differ at most in whitespace,
    Unicode normalization form, link spelling (tracking parameters, case of the host), the
    order of authors or tags, or fields that are not content.
    """
    basis = [
        _norm(item.title),
        _norm(item.summary),
        _norm(item.content),
        normalize_url(item.url) if item.url else "",
        sorted({_norm(a) for a in item.authors} - {""}),
        sorted({_norm(t) for t in item.tags} - {""}),
    ]
    data = json.dumps(basis, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:32]


def revised_item(revision: ItemRevised) -> ItemReceived:
    """Return the new version of a revised item as an `ItemReceived` (received = when the
    revision was seen), so rules, facets and templates read it like any item."""
    return ItemReceived(**{name: getattr(revision, name) for name in _ITEM_FIELDS})


def revision_of(
    item: ItemReceived, *, revision: int, previous_hash: str | None = None
) -> ItemRevised:
    """Return the `ItemRevised` that records `item` as revision number `revision` of its item,
    replacing the version whose hash is `previous_hash`."""
    return ItemRevised(
        **{name: getattr(item, name) for name in _ITEM_FIELDS},
        revision=revision,
        content_hash=content_hash(item),
        previous_hash=previous_hash,
    )


#: The fields an `ItemRevised` shares with `ItemReceived`: the whole item as the version has it.
_ITEM_FIELDS: tuple[str, ...] = tuple(
    f.name for f in attrs.fields(ItemReceived) if f.name in attrs.fields_dict(ItemRevised)
)

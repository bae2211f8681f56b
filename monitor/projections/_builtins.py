"""The built-in projections, by stable name."""

from __future__ import annotations

from ._alerts import AlertTimeline, RuleHits
from ._base import Projection
from ._entities import EntityMentions
from ._feeds import FeedStatus, ItemsByFeedDay
from ._items import ItemVersions
from ._stories import Stories

__all__ = ["BUILTIN_PROJECTIONS", "builtin_projections"]

#: The built-in projection classes, in the order `monitor replay` runs them.
BUILTIN_PROJECTIONS: tuple[type[Projection], ...] = (
    FeedStatus,
    ItemsByFeedDay,
    ItemVersions,
    AlertTimeline,
    RuleHits,
    EntityMentions,
    Stories,
)


def builtin_projections() -> list[Projection]:
    """Return a fresh instance of every built-in projection."""
    return [cls() for cls in BUILTIN_PROJECTIONS]

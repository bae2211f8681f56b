"""The built-in projections, by stable name."""

from __future__ import annotations

from ._alerts import AlertTimeline, RuleHits
from ._base import Projection
from ._entities import EntityMentions
from ._feeds import FeedStatus, ItemsByFeedDay
from ._items import ItemVersions

__all__ = ["BUILTIN_PROJECTIONS", "builtin_projections"]

#: The built-in projection classes, in the order `monitor replay` runs them. `Stories` is not
#: among them: it cuts the whole ingest's throughput by about 2.6x, so it is run by those who
#: want it (`ProjectionRunner(log, [Stories()])`).
BUILTIN_PROJECTIONS: tuple[type[Projection], ...] = (
    FeedStatus,
    ItemsByFeedDay,
    ItemVersions,
    AlertTimeline,
    RuleHits,
    EntityMentions,
)


def builtin_projections() -> list[Projection]:
    """Return a fresh instance of every built-in projection."""
    return [cls() for cls in BUILTIN_PROJECTIONS]

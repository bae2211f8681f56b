"""Built-in projection `EntityMentions` (``entity_mentions``): places and actors over time."""

from __future__ import annotations

import heapq
from typing import Any, ClassVar

from ..events import AlertRaised, EntitiesExtracted, Event
from ..log import EventLog, Record
from ._base import Projection, StateView, iter_from, iter_scan, key, sortable_time

__all__ = ["EntityMentions"]


class EntityMentions(Projection):
    """How often each entity (a lexicon id such as ``place:al_tanf`` or ``actor:un``) was
    mentioned in items and named by alerts, per UTC day of event time and in total.

    * ``mentions`` counts items: an item counts once per entity, however many rule sets
      extracted it (``item:<item_id>`` remembers which entities an item already counted for).
    * ``alerts`` counts `AlertRaised` events naming the entity.

    Keys: ``e:<entity>`` -> ``{"entity", "mentions", "alerts", "first", "last"}`` (first / last:
    earliest and latest event time seen); ``d:<entity>:<YYYY-MM-DD>`` -> ``{"mentions",
    "alerts"}``; ``item:<item_id>`` -> the sorted entities counted for that item. Entity ids keep
    their ``kind:`` prefix, so `top` can list one kind.
    """

    name: ClassVar[str] = "entity_mentions"
    version: ClassVar[int] = 1
    types: ClassVar[frozenset[str]] = frozenset({"EntitiesExtracted", "AlertRaised"})

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """Count the entities of one extraction (new ones per item only) or one alert."""
        if isinstance(event, EntitiesExtracted):
            for found in event.items:
                item_key = key("item", found.item_id)
                counted = state.get(item_key, [])
                new = sorted(set(found.entities) - set(counted))
                if new:
                    state.put(item_key, sorted([*counted, *new]))
                    self._count(state, new, sortable_time(found.event_time), "mentions")
        elif isinstance(event, AlertRaised):
            entities = sorted(set(event.entities))
            if entities:
                self._count(state, entities, sortable_time(event.event_time), "alerts")

    @staticmethod
    def _count(state: StateView, entities: list[str], when: str, field: str) -> None:
        day = when[:10]
        for entity in entities:
            total_key = key("e", entity)
            total = state.get(total_key) or {
                "entity": entity,
                "mentions": 0,
                "alerts": 0,
                "first": when,
                "last": when,
            }
            total[field] += 1
            total["first"] = min(total["first"], when)
            total["last"] = max(total["last"], when)
            state.put(total_key, total)
            day_key = key("d", entity, day)
            counts = state.get(day_key) or {"mentions": 0, "alerts": 0}
            counts[field] += 1
            state.put(day_key, counts)

    @classmethod
    def get(cls, log: EventLog, entity: str) -> dict[str, Any] | None:
        """Return the totals of `entity`, None if it was never seen."""
        return log.projection_get(cls.name, key("e", entity))

    @classmethod
    def top(
        cls, log: EventLog, kind: str = "", limit: int = 10, *, by: str = "mentions"
    ) -> list[dict[str, Any]]:
        """Return the `limit` entities whose id starts with `kind` (``"place:"``, ``"actor:"``,
        ``""`` for all) with the highest `by` count (``"mentions"`` or ``"alerts"``), ties by
        id. Streams the totals, holding only `limit` of them."""
        if by not in ("mentions", "alerts"):
            raise ValueError(f"by must be 'mentions' or 'alerts', not {by!r}")
        totals = (v for _, v in iter_scan(log, cls.name, key("e", kind)))
        return heapq.nsmallest(limit, totals, key=lambda t: (-t[by], t["entity"]))

    @classmethod
    def days(
        cls, log: EventLog, entity: str, *, since: str | None = None, until: str | None = None
    ) -> list[tuple[str, dict[str, int]]]:
        """Return ``(day, {"mentions", "alerts"})`` for `entity`, oldest first, for days within
        [since, until] (``YYYY-MM-DD``, inclusive, optional)."""
        prefix = key("d", entity) + ":"
        out = []
        for k, counts in iter_from(log, cls.name, prefix, since and prefix + since):
            day = k[len(prefix) :]
            if until is not None and day > until:
                break
            out.append((day, counts))
        return out

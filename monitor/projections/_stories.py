"""Built-in projection `Stories` (``stories``): items clustered into stories, in log order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from ..events import Event, ItemReceived, ItemSighted
from ..log import EventLog, Record
from ..rules import BUCKET_CAP, StoryIndex
from ._base import Projection, StateView

__all__ = ["Stories"]

_EXPIRY_PAGE = 64


class _StateStore:
    """A `StoryStore` over a projection's `StateView` (expiry keys ``x:<time>:<item>``)."""

    def __init__(self, state: StateView) -> None:
        self.state = state

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self.state.put(key, value)

    def delete(self, key: str) -> None:
        self.state.delete(key)

    def append(self, key: str, value: str) -> None:
        self.state.put(key, [*self.state.get(key, ()), value][-BUCKET_CAP:])

    def expiry(self) -> Iterator[tuple[float, str]]:
        while True:
            rows = self.state.scan("x:", limit=_EXPIRY_PAGE)
            for _k, (when, item) in rows:
                yield when, item
            if len(rows) < _EXPIRY_PAGE:
                return

    def add_expiry(self, when: float, item: str) -> None:
        self.state.put(_xkey(when, item), [when, item])

    def drop_expiry(self, when: float, item: str) -> None:
        self.state.delete(_xkey(when, item))


def _xkey(when: float, item: str) -> str:
    return f"x:{when:020.6f}:{item}"


class Stories(Projection):
    """Near-duplicate items (a wire story and its reprints) grouped into stories.

    Fed from `ItemReceived` in log order through the same `monitor.rules.StoryIndex` the rule
    evaluator uses, so both give every item the same story id: the item id of the story's
    first item. A rebuild from position 0 gives the same ids.

    Keys: ``i:<item_id>`` -> story id; ``s:<story_id>`` -> ``{"first", "items", "outlets"
    (sorted distinct sources, else feed ids), "first_time", "last_time", "live"}`` (times in
    epoch seconds of event time). The working index (``b:`` buckets, ``e:`` signatures, ``x:``
    expiry, ``meta``) holds only the items within the 48 h window (plus 3 h of slack) of the
    latest event time; older entries are deleted.

    An `ItemSighted` (the same article in another feed, stored once) counts that feed as one
    more outlet of the item's story, and ``sightings`` counts them: "reported by N outlets"
    includes the feeds that carried the very same article.
    """

    name: ClassVar[str] = "stories"
    version: ClassVar[int] = 2
    types: ClassVar[frozenset[str]] = frozenset({"ItemReceived", "ItemSighted"})

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """Assign one item to its story, or count a sighting on it."""
        if isinstance(event, ItemReceived):
            StoryIndex(_StateStore(state), keep=True).add(event)
        elif isinstance(event, ItemSighted):
            story_id = state.get(f"i:{event.item_id}")
            story = state.get(f"s:{story_id}") if story_id is not None else None
            if story is None:  # sighted before this projection saw the item: nothing to count
                return
            story["sightings"] = story.get("sightings", 0) + 1
            if event.feed_id not in story["outlets"]:
                story["outlets"] = sorted([*story["outlets"], event.feed_id])
            state.put(f"s:{story_id}", story)

    @classmethod
    def story_of(cls, log: EventLog, item_id: str) -> str | None:
        """Return the story id of `item_id`, None if the projection has not seen it."""
        return log.projection_get(cls.name, f"i:{item_id}")

    @classmethod
    def get(cls, log: EventLog, story_id: str) -> dict[str, Any] | None:
        """Return ``{"story_id", "first", "items", "sightings", "outlets", "first_time",
        "last_time"}`` (outlets: the sorted list, sighting feeds included; times: aware
        datetimes), None for an unknown story."""
        story = log.projection_get(cls.name, f"s:{story_id}")
        if story is None:
            return None
        return {
            "story_id": story_id,
            "first": story["first"],
            "items": story["items"],
            "sightings": story.get("sightings", 0),
            "outlets": list(story["outlets"]),
            "first_time": datetime.fromtimestamp(story["first_time"], UTC),
            "last_time": datetime.fromtimestamp(story["last_time"], UTC),
        }

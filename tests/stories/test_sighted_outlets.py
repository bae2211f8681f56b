"""A sighting (the same article carried by another feed, stored once) is one more outlet of
the item's story in the `stories` projection: "reported by N outlets" counts it."""

from __future__ import annotations

from datetime import timedelta

from monitor.events import ItemSighted
from monitor.log import MemoryLog
from monitor.projections import ProjectionRunner, Stories

from .conftest import T0, wire_and_reprints


def sighting(item_id: str, feed: str, minutes: int) -> ItemSighted:
    return ItemSighted(
        item_id=item_id,
        feed_id=feed,
        seen=T0 + timedelta(minutes=minutes),
        entry_id=f"{feed}-entry",
        canonical_url="https://wire.example/story",
    )


def test_sightings_add_their_feeds_to_the_story_outlets() -> None:
    items = wire_and_reprints()
    story = items[0].item_id
    log = MemoryLog()
    log.append_events(items)
    log.append_events([sighting(story, "aggregator-feed", 5), sighting(story, "wire-feed", 6)])
    log.append_events([sighting("unknown-item", "other-feed", 7)])  # nothing to count on
    ProjectionRunner(log, [Stories()], page_size=3).run()
    got = Stories.get(log, story)
    assert got["sightings"] == 2
    outlets = sorted({i.source for i in items} | {"aggregator-feed", "wire-feed"})
    assert got["outlets"] == outlets
    # a rebuild gives the same
    fresh = MemoryLog()
    fresh.append_events([e for _, e in log.iter_events()])
    ProjectionRunner(fresh, [Stories()]).run()
    assert Stories.get(fresh, story) == got

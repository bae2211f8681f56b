"""The `item_versions` projection: current version and history of each item, numbered by log
order, equal after a rebuild; the alert timeline's `no_longer_matches` mark."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.events import (
    AlertRaised,
    AlertSuperseded,
    ItemReceived,
    ItemRevised,
    content_hash,
    revision_of,
)
from monitor.projections import AlertTimeline, ItemVersions, ProjectionRunner
from tests.conftest import make_item

LATER = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


def revise(item: ItemReceived, number: int, previous: ItemReceived, **changes) -> ItemRevised:
    fields = {
        "item_id": item.item_id,
        "feed_id": item.feed_id,
        "guid": item.guid,
        "received": LATER,
        "title": item.title,
        "authors": item.authors,
        **changes,
    }
    return revision_of(
        ItemReceived(**fields), revision=number, previous_hash=content_hash(previous)
    )


def test_versions_fold_in_log_order_and_survive_a_rebuild(log):
    """Each distinct content is one version, numbered by log order; a repeat of a known hash
    (as a lagging watcher might append) is not folded; a rebuild gives the same state."""
    first = make_item(1, title="Strike hits depot", lang="en")
    second = revise(first, 1, first, title="Ground operation begins", authors=("Desk",))
    again = revise(first, 2, first, title="Strike hits depot")  # back to version 0's content
    log.append_events([first, make_item(2), second, again])
    runner = ProjectionRunner(log, [ItemVersions()])
    runner.run()
    row = ItemVersions.get(log, first.item_id)
    assert row is not None
    assert row["revision"] == 1 and row["title"] == "Ground operation begins"
    assert row["authors"] == ["Desk"] and row["lang"] is None
    assert row["hashes"] == [content_hash(first), second.content_hash]
    assert [(v["revision"], v["position"]) for v in row["versions"]] == [(0, 1), (1, 3)]
    assert [e.title for e in ItemVersions.versions(log, first.item_id)] == [
        "Strike hits depot",
        "Ground operation begins",
    ]
    assert ItemVersions.get(log, make_item(2).item_id)["revision"] == 0
    assert ItemVersions.versions(log, "unknown") == []
    incremental = log.projection_scan("item_versions")
    runner.rebuild()
    assert log.projection_scan("item_versions") == incremental


def test_superseded_alert_is_marked_not_removed(log):
    """`AlertSuperseded` adds `no_longer_matches` to the alert's listing (the first revision
    that stopped matching) and keeps the alert; one for an unknown alert changes nothing."""
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    alert = AlertRaised(alert_id="a1", rule_id="strike", item_ids=("i1",), event_time=when)
    marks = [
        AlertSuperseded(
            alert_id=aid, rule_id="strike", item_id="i1", revision=n, content_hash=h,
            event_time=when,
        )
        for aid, n, h in (("a1", 1, "h1"), ("a1", 2, "h2"), ("zz", 1, "h1"))
    ]  # fmt: skip
    log.append_events([alert, *marks])
    ProjectionRunner(log, [AlertTimeline()]).run()
    listing = AlertTimeline.get(log, "a1")
    assert listing is not None and listing["no_longer_matches"] == 1
    assert AlertTimeline.get(log, "zz") is None

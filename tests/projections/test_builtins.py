"""What each built-in projection holds after folding known events, and its queries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from monitor.events import (
    AlertRaised,
    AlertSuppressed,
    EntitiesExtracted,
    Evidence,
    FeedDisabled,
    FeedFailed,
    FeedMoved,
    FeedPolled,
    ItemEntities,
    RepeatsFolded,
)
from monitor.feeds import FeedState
from monitor.log import NewRecord
from monitor.projections import (
    FEED_STATUS_KEYS,
    AlertTimeline,
    EntityMentions,
    FeedStatus,
    ItemsByFeedDay,
    ProjectionRunner,
    RuleHits,
)
from tests.conftest import make_item

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(**delta: float) -> datetime:
    """T0 moved by `delta`."""
    return T0 + timedelta(**delta)


def fold(log, events, page_size: int = 1000) -> None:
    """Append `events` and run every built-in projection over them."""
    log.append_events(events)
    ProjectionRunner(log, page_size=page_size).run()


def alert(n: int, **fields) -> AlertRaised:
    """The n-th test alert (rule r1, medium, at T0 + n minutes unless given)."""
    fields.setdefault("rule_id", "r1")
    fields.setdefault("event_time", at(minutes=n))
    return AlertRaised(alert_id=f"A{n:04d}", title=f"Alert {n}", **fields)


# --- feed_status ---------------------------------------------------------------------------


def test_feed_status_has_exactly_the_contract_keys(log):
    """A feed's status object has exactly the keys the feeds package builds FeedState from."""
    fold(log, [FeedPolled(feed_id="wire", url="https://w.example/rss", polled_at=T0)])
    assert set(FeedStatus.get(log, "wire")) == set(FEED_STATUS_KEYS)
    assert len(FEED_STATUS_KEYS) == 18
    live_only = {"unrecorded", "unrecorded_since"}  # a running poller's, never stored
    assert set(FEED_STATUS_KEYS) == set(attrs.fields_dict(FeedState)) - live_only


def test_feed_status_success_failure_and_recovery(log):
    """Failures count up consecutively with their details; a success resets them."""
    url = "https://w.example/rss"
    fold(
        log,
        [
            FeedPolled(feed_id="wire", url=url, polled_at=T0, etag="e1", new_items=4),
            FeedFailed(
                feed_id="wire",
                url=url,
                failed_at=at(minutes=5),
                error_kind="http",
                message="HTTP 503",
                status=503,
                retry_after=120.0,
            ),
            FeedFailed(
                feed_id="wire",
                url=url,
                failed_at=at(minutes=10),
                error_kind="timeout",
                message="timed out after 10s",
            ),
        ],
    )
    s = FeedStatus.get(log, "wire")
    assert (s["failures"], s["polls"], s["items"]) == (2, 3, 4)
    assert (s["last_error"], s["last_error_kind"]) == ("timed out after 10s", "timeout")
    assert s["last_status"] is None and s["retry_after"] is None
    assert s["last_poll"] == "2026-03-01T12:10:00.000000Z"
    assert s["last_success"] == "2026-03-01T12:00:00.000000Z"
    assert s["etag"] == "e1"
    fold(log, [FeedPolled(feed_id="wire", url=url, polled_at=at(minutes=15), new_items=1)])
    s = FeedStatus.get(log, "wire")
    assert (s["failures"], s["polls"], s["items"], s["last_status"]) == (0, 4, 5, 200)
    assert s["last_error"] == "timed out after 10s"  # kept for diagnosis


def test_feed_status_304_keeps_validators_and_200_replaces_them(log):
    """A 304 without validators keeps the held ETag/Last-Modified; a 200 replaces them."""
    url = "https://w.example/rss"
    fold(
        log,
        [
            FeedPolled(feed_id="f", url=url, polled_at=T0, etag="e1", last_modified="lm1"),
            FeedPolled(feed_id="f", url=url, polled_at=at(minutes=1), status=304),
        ],
    )
    s = FeedStatus.get(log, "f")
    assert (s["etag"], s["last_modified"], s["last_status"]) == ("e1", "lm1", 304)
    fold(log, [FeedPolled(feed_id="f", url=url, polled_at=at(minutes=2), etag="e2")])
    s = FeedStatus.get(log, "f")
    assert (s["etag"], s["last_modified"]) == ("e2", None)


def test_feed_status_move_disable_degraded(log):
    """Moves change the url, disabling and degraded polls show, a success re-enables."""
    fold(
        log,
        [
            FeedPolled(
                feed_id="f",
                url="https://old.example/rss",
                polled_at=T0,
                degraded=True,
                problem="mismatched tag at line 40",
            ),
            FeedMoved(
                feed_id="f",
                old_url="https://old.example/rss",
                new_url="https://new.example/rss",
                moved_at=at(minutes=1),
            ),
            FeedDisabled(
                feed_id="f",
                url="https://new.example/rss",
                reason="HTTP 410 Gone",
                disabled_at=at(minutes=2),
            ),
        ],
    )
    s = FeedStatus.get(log, "f")
    assert s["url"] == "https://new.example/rss"
    assert s["moved_from"] == "https://old.example/rss"
    assert (s["disabled"], s["disabled_reason"]) == (True, "HTTP 410 Gone")
    assert (s["degraded"], s["problem"]) == (True, "mismatched tag at line 40")
    fold(log, [FeedPolled(feed_id="f", url="https://new.example/rss", polled_at=at(hours=1))])
    s = FeedStatus.get(log, "f")
    assert (s["disabled"], s["disabled_reason"], s["degraded"], s["problem"]) == (
        False,
        None,
        False,
        None,
    )


def test_feed_ids_with_separators_do_not_collide(log):
    """Feed 'a' and feed 'a:b' keep separate status and day counts (keys escape ':')."""
    fold(
        log,
        [
            FeedPolled(feed_id="a", url="u1", polled_at=T0, new_items=1),
            FeedPolled(feed_id="a:b", url="u2", polled_at=T0, new_items=2),
            make_item(1, feed="a"),
            make_item(2, feed="a:b"),
            make_item(3, feed="a:b"),
        ],
    )
    assert [s["feed_id"] for s in FeedStatus.all(log)] == ["a", "a:b"]
    assert ItemsByFeedDay.days(log, "a") == [("2026-03-01", 1)]
    assert ItemsByFeedDay.days(log, "a:b") == [("2026-03-01", 2)]


# --- items_by_feed_day ---------------------------------------------------------------------


def test_items_count_by_utc_day_of_published_else_received(log):
    """Items count on the UTC day of `published`, else of `received`."""
    late_evening_east = datetime.fromisoformat("2026-03-02T01:30:00+05:00")  # Mar 1 UTC
    fold(
        log,
        [
            make_item(1, published=late_evening_east, received=at(days=3)),
            make_item(2, received=at(days=1)),
            make_item(3, received=at(days=1, hours=11, minutes=59)),
            make_item(4, feed="other", received=at(days=2)),
        ],
    )
    assert ItemsByFeedDay.days(log, "wire") == [("2026-03-01", 1), ("2026-03-02", 2)]
    assert ItemsByFeedDay.total(log, "wire") == {
        "feed_id": "wire",
        "items": 3,
        "first_day": "2026-03-01",
        "last_day": "2026-03-02",
    }
    assert ItemsByFeedDay.per_day(log) == [
        ("2026-03-01", 1),
        ("2026-03-02", 2),
        ("2026-03-03", 1),
    ]
    assert [t["feed_id"] for t in ItemsByFeedDay.totals(log)] == ["other", "wire"]


def test_items_days_since_until_are_inclusive_across_pages(log, monkeypatch):
    """`days(since, until)` is inclusive at both ends, across many key pages."""
    monkeypatch.setattr("monitor.projections._base.SCAN_PAGE", 3)
    fold(log, [make_item(n, received=at(days=n)) for n in range(20)])
    days = ItemsByFeedDay.days(log, "wire", since="2026-03-05", until="2026-03-14")
    assert [d for d, _ in days] == [f"2026-03-{d:02d}" for d in range(5, 15)]
    assert ItemsByFeedDay.per_day(log, since="2026-03-19") == [("2026-03-19", 1), ("2026-03-20", 1)]
    assert len(ItemsByFeedDay.days(log, "wire")) == 20


# --- alert_timeline ------------------------------------------------------------------------


def test_timeline_listing_lookup_and_suppressed_count(log):
    """A listing has every listed field, is found by id, counts early and late suppressions
    and folded repeats (once each, however the folding records overlap), and their outlets."""
    a = alert(
        1,
        level="high",
        entities=["place:al_tanf"],
        item_ids=["i1", "i2"],
        evidence=[Evidence(field="title", start=0, end=6, text="Convoy")],
        group_key="al_tanf",
        facets={"source": "wire"},
    )
    early = AlertSuppressed(
        alert_id="S0", folded_into=a.alert_id, rule_id="r1", event_time=T0, facets={"source": "a"}
    )
    later = [
        AlertSuppressed(
            alert_id=f"S{n}",
            folded_into=a.alert_id,
            rule_id="r1",
            event_time=at(minutes=n),
            facets={"source": source},
        )
        for n, source in ((2, "b"), (3, "c"))
    ]

    def folded(positions: tuple[int, ...], outlets: tuple[str, ...]) -> RepeatsFolded:
        return RepeatsFolded(
            folded_into=a.alert_id,
            rule_id="r1",
            item_ids=[f"f{p}" for p in positions],
            item_positions=positions,
            first_time=at(minutes=4),
            last_time=at(minutes=9),
            outlets=outlets,
        )

    # a second evaluator folded 11-14 after the first had folded 10-12: 5 repeats, not 7
    repeats = [folded((10, 11, 12), ("d",)), folded((11, 12, 13, 14), ("d", "e"))]
    fold(log, [early, a, *later, *repeats], page_size=2)
    listing = AlertTimeline.get(log, a.alert_id)
    assert listing == {
        "alert_id": "A0001",
        "rule_id": "r1",
        "rule_version": 1,
        "level": "high",
        "title": "Alert 1",
        "entities": ["place:al_tanf"],
        "event_time": "2026-03-01T12:01:00.000000Z",
        "item_ids": ["i1", "i2"],
        "evidence": 1,
        "group_key": "al_tanf",
        "position": 2,
        "suppressed": 8,
        "outlets": ["a", "b", "c", "d", "e", "wire"],
    }
    assert AlertTimeline.get(log, "missing") is None
    ProjectionRunner(log, [RuleHits()]).run()
    assert RuleHits.get(log, "r1")["suppressed"] == 8


def test_timeline_alert_stored_twice_keeps_one_listing(log):
    """An alert id stored twice (no dedupe key) keeps one listing, at its latest time."""
    from monitor.events import encode
    from monitor.log import NewRecord

    first, again = alert(1), alert(1, event_time=at(hours=2))
    sup = AlertSuppressed(alert_id="S1", folded_into="A0001", rule_id="r1", event_time=T0)
    log.append([NewRecord.from_event(first), NewRecord.from_event(sup)])
    log.append([NewRecord("AlertRaised", 1, encode(again), None)])
    ProjectionRunner(log).run()
    (listing,) = AlertTimeline.latest(log, 10)
    assert (listing["event_time"], listing["suppressed"], listing["position"]) == (
        "2026-03-01T14:00:00.000000Z",
        1,
        3,
    )
    assert AlertTimeline.get(log, "A0001") == listing


def test_timeline_orders_by_event_time_not_log_order(log):
    """Listings come newest event time first (sub-second too), whatever the append order."""
    fold(
        log,
        [
            alert(1, event_time=at(seconds=1)),
            alert(2, event_time=at(seconds=0.5)),
            alert(3, event_time=T0),
            alert(4, event_time=at(days=-1)),
        ],
    )
    assert [x["alert_id"] for x in AlertTimeline.latest(log)] == [
        "A0001",
        "A0002",
        "A0003",
        "A0004",
    ]


def test_timeline_latest_filters_and_pages(log, monkeypatch):
    """`latest` applies every filter and its limit while paging backwards through keys."""
    monkeypatch.setattr("monitor.projections._base.SCAN_PAGE", 4)
    events = [
        alert(
            n,
            rule_id="r1" if n % 2 else "r2",
            level="high" if n % 3 == 0 else "low",
            entities=["place:homs"] if n % 5 == 0 else ["actor:un"],
        )
        for n in range(60)
    ]
    fold(log, events)

    def ids(**kw):
        return [int(x["alert_id"][1:]) for x in AlertTimeline.latest(log, **kw)]

    assert ids(limit=3) == [59, 58, 57]
    assert ids(limit=100) == list(range(59, -1, -1))
    assert ids(limit=4, rule="r2", level="high") == [54, 48, 42, 36]
    assert ids(limit=100, place="homs") == list(range(55, -1, -5))
    assert ids(limit=100, place="place:homs", since=at(minutes=40)) == [55, 50, 45, 40]
    assert ids(limit=3, until=at(minutes=20)) == [20, 19, 18]
    assert ids(limit=100, since=at(minutes=10), until="2026-03-01T12:12:00Z") == [12, 11, 10]
    assert ids(limit=0) == []


# --- rule_hits -----------------------------------------------------------------------------


def test_rule_hits_counts_levels_times_and_suppressions(log):
    """Per rule: alerts, per-level counts, first/last event time, suppressed count."""
    fold(
        log,
        [
            alert(5, level="high"),
            alert(1, level="low"),
            alert(3, level="high"),
            alert(2, rule_id="r2"),
            AlertSuppressed(alert_id="S1", folded_into="A0005", rule_id="r1", event_time=T0),
            AlertSuppressed(alert_id="S2", folded_into="gone", rule_id="r3", event_time=T0),
        ],
    )
    assert RuleHits.get(log, "r1") == {
        "rule_id": "r1",
        "alerts": 3,
        "levels": {"high": 2, "low": 1},
        "first": "2026-03-01T12:01:00.000000Z",
        "last": "2026-03-01T12:05:00.000000Z",
        "suppressed": 1,
    }
    assert RuleHits.get(log, "r3")["first"] is None
    assert [h["rule_id"] for h in RuleHits.top(log, 2)] == ["r1", "r2"]
    assert [h["rule_id"] for h in RuleHits.all(log)] == ["r1", "r2", "r3"]


def test_rule_hits_top_streams_across_pages(log, monkeypatch):
    """`top` finds the busiest rules with ties broken by id while paging through all rules."""
    monkeypatch.setattr("monitor.projections._base.SCAN_PAGE", 2)
    events = [alert(n, rule_id=f"rule{n % 7}") for n in range(50)]
    fold(log, events)
    top = RuleHits.top(log, 3)
    assert [(h["rule_id"], h["alerts"]) for h in top] == [("rule0", 8), ("rule1", 7), ("rule2", 7)]


# --- entity_mentions -----------------------------------------------------------------------


def test_entities_count_items_once_and_alerts_separately(log):
    """An item counts once per entity across rule sets; alerts count apart, by day."""
    fold(
        log,
        [
            EntitiesExtracted.for_item(
                item_id="i1",
                feed_id="wire",
                entities=["place:al_tanf", "actor:un"],
                event_time=T0,
                ruleset_hash="h1",
            ),
            EntitiesExtracted.for_item(
                item_id="i1",
                feed_id="wire",
                entities=["place:al_tanf", "place:homs"],
                event_time=T0,
                ruleset_hash="h2",
            ),
            EntitiesExtracted.for_item(
                item_id="i2",
                feed_id="wire",
                entities=["place:al_tanf", "place:al_tanf"],
                event_time=at(days=1),
            ),
            alert(1, entities=["place:al_tanf"], event_time=at(days=-1)),
        ],
    )
    assert EntityMentions.get(log, "place:al_tanf") == {
        "entity": "place:al_tanf",
        "mentions": 2,
        "alerts": 1,
        "first": "2026-02-28T12:00:00.000000Z",
        "last": "2026-03-02T12:00:00.000000Z",
    }
    assert EntityMentions.get(log, "place:homs")["mentions"] == 1
    assert EntityMentions.days(log, "place:al_tanf") == [
        ("2026-02-28", {"mentions": 0, "alerts": 1}),
        ("2026-03-01", {"mentions": 1, "alerts": 0}),
        ("2026-03-02", {"mentions": 1, "alerts": 0}),
    ]
    assert EntityMentions.days(log, "place:al_tanf", since="2026-03-01", until="2026-03-01") == [
        ("2026-03-01", {"mentions": 1, "alerts": 0}),
    ]


def test_entities_of_version_1_records_and_page_records_count_alike(log):
    """A log written before the per-page records (one version-1 record per item) and one
    written after fold to the same counts: an item listed by both counts once."""
    old = {
        "item_id": "i1",
        "feed_id": "wire",
        "entities": ["place:al_tanf"],
        "event_time": "2026-03-01T12:00:00Z",
        "ruleset_hash": "h1",
    }
    log.append([NewRecord("EntitiesExtracted", 1, json.dumps(old).encode(), "entities:i1:h1")])
    page = EntitiesExtracted(
        items=[
            ItemEntities(item_id="i1", feed_id="wire", entities=["place:al_tanf"], event_time=T0),
            ItemEntities(item_id="i2", feed_id="wire", entities=["place:al_tanf"], event_time=T0),
        ],
        ruleset_hash="h2",
    )
    fold(log, [page])
    assert EntityMentions.get(log, "place:al_tanf")["mentions"] == 2


def test_entities_top_by_kind_across_pages(log, monkeypatch):
    """`top` lists one kind only (ids with ':' inside included), by mentions or alerts."""
    monkeypatch.setattr("monitor.projections._base.SCAN_PAGE", 2)
    events = []
    for n, (entity, count) in enumerate(
        [("place:a", 3), ("place:b", 5), ("place:c:x", 4), ("actor:z", 9), ("placement:q", 7)]
    ):
        events += [
            EntitiesExtracted.for_item(
                item_id=f"{n}-{i}", feed_id="wire", entities=[entity], event_time=T0
            )
            for i in range(count)
        ]
    events.append(alert(1, entities=["place:a"]))
    fold(log, events)
    assert [(t["entity"], t["mentions"]) for t in EntityMentions.top(log, "place:", 2)] == [
        ("place:b", 5),
        ("place:c:x", 4),
    ]
    assert [t["entity"] for t in EntityMentions.top(log, "place:", 10)] == [
        "place:b",
        "place:c:x",
        "place:a",
    ]
    assert [t["entity"] for t in EntityMentions.top(log, "place:", 1, by="alerts")] == ["place:a"]
    assert EntityMentions.top(log, limit=1)[0]["entity"] == "actor:z"
    with pytest.raises(ValueError, match="by must be"):
        EntityMentions.top(log, by="nope")

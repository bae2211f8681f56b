"""Property: for any event sequence, folding incrementally (runs between chunks of appends, in
any page size) gives exactly the state a full rebuild gives, for every built-in projection;
and that state agrees with counts computed directly from the stored events."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.events import (
    AlertRaised,
    AlertSuppressed,
    EntitiesExtracted,
    Evidence,
    FeedDisabled,
    FeedFailed,
    FeedMoved,
    FeedPolled,
    ItemReceived,
    RulesetLoaded,
    encode,
    event_time,
)
from monitor.log import NewRecord
from monitor.projections import (
    AlertTimeline,
    EntityMentions,
    FeedStatus,
    ItemsByFeedDay,
    ProjectionRunner,
    RuleHits,
    builtin_projections,
    utc_day,
)

NAMES = [p.name for p in builtin_projections()]

# Few distinct ids, so sequences repeat them: duplicates (dropped by the log), suppressions of
# alerts raised before or after, several extractions of one item. Ids with ":" and "%" check
# that keys escape their parts.
FEEDS = st.sampled_from(["wire", "wire:world", "a%3Ab", "régional"])
URLS = st.sampled_from(["https://a.example/rss", "https://b.example/feed"])
ITEM_IDS = st.sampled_from([f"i{n}" for n in range(6)])
ALERT_IDS = st.sampled_from([f"A{n}" for n in range(5)])
RULES = st.sampled_from(["r1", "r2", "r:3"])
ENTITIES = st.lists(
    st.sampled_from(["place:al_tanf", "place:homs", "actor:un", "actor:x:y"]), max_size=3
)
TIMES = st.datetimes(
    min_value=datetime(2025, 12, 30),
    max_value=datetime(2026, 1, 3),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-8))]),
)
OPT_TEXT = st.none() | st.sampled_from(['W/"x1"', "abc", "Tue, 01 Jan 2026 00:00:00 GMT"])

EVENTS = st.one_of(
    st.builds(
        ItemReceived,
        item_id=ITEM_IDS,
        feed_id=FEEDS,
        received=TIMES,
        published=st.none() | TIMES,
        title=st.just("Convoy reported near the crossing"),
    ),
    st.builds(
        FeedPolled,
        feed_id=FEEDS,
        url=URLS,
        polled_at=TIMES,
        status=st.sampled_from([200, 304]),
        etag=OPT_TEXT,
        last_modified=OPT_TEXT,
        new_items=st.integers(0, 3),
        degraded=st.booleans(),
        problem=st.none() | st.just("not well-formed (invalid token)"),
    ),
    st.builds(
        FeedFailed,
        feed_id=FEEDS,
        url=URLS,
        failed_at=TIMES,
        error_kind=st.sampled_from(["timeout", "http", "parse"]),
        message=st.sampled_from(["timed out after 10s", "HTTP 503"]),
        status=st.none() | st.sampled_from([429, 503]),
        retry_after=st.none() | st.sampled_from([1.5, 30.0, 120.0]),
    ),
    st.builds(FeedMoved, feed_id=FEEDS, old_url=URLS, new_url=URLS, moved_at=TIMES),
    st.builds(
        FeedDisabled,
        feed_id=FEEDS,
        url=URLS,
        reason=st.just("HTTP 410 Gone"),
        disabled_at=TIMES,
    ),
    st.builds(
        AlertRaised,
        alert_id=ALERT_IDS,
        rule_id=RULES,
        level=st.sampled_from(["low", "medium", "high"]),
        title=st.just("Movement near the border"),
        item_ids=st.lists(ITEM_IDS, max_size=2),
        entities=ENTITIES,
        evidence=st.lists(
            st.builds(
                Evidence,
                field=st.just("title"),
                start=st.just(0),
                end=st.just(6),
                text=st.just("Convoy"),
            ),
            max_size=2,
        ),
        event_time=TIMES,
    ),
    st.builds(
        AlertSuppressed,
        alert_id=st.sampled_from([f"S{n}" for n in range(8)]),
        folded_into=ALERT_IDS,
        rule_id=RULES,
        event_time=TIMES,
    ),
    st.builds(
        EntitiesExtracted.for_item,
        item_id=ITEM_IDS,
        feed_id=FEEDS,
        entities=ENTITIES,
        event_time=TIMES,
        ruleset_hash=st.sampled_from([None, "h1", "h2"]),
    ),
    st.builds(RulesetLoaded, ruleset_hash=st.just("h1"), rules=st.just([]), loaded_at=TIMES),
)


def snapshot(log) -> dict[str, list]:
    """Every key and value of every built-in projection."""
    return {name: log.projection_scan(name) for name in NAMES}


# A PostgreSQL example needs a fresh schema (about a second), so it gets fewer examples.
EXAMPLES = {"memory": 60, "sqlite": 60, "postgres": 15}


def test_incremental_fold_equals_rebuild_for_every_builtin(make_log, backend):
    """Chunked runs in random page sizes equal one full rebuild, key by key, for all built-ins."""

    @settings(
        max_examples=EXAMPLES[backend],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        events=st.lists(EVENTS, min_size=10, max_size=80),
        keyless=st.lists(st.booleans(), max_size=80),
        cuts=st.lists(st.integers(0, 80), max_size=8),
        page_sizes=st.lists(st.integers(1, 9), min_size=1, max_size=6),
        rebuild_page=st.integers(1, 100),
    )
    def fold_both_ways(events, keyless, cuts, page_sizes, rebuild_page):
        log = make_log()
        bounds = [0, *sorted(c for c in cuts if c < len(events)), len(events)]
        for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            # Some records go in without their dedupe key, so true duplicates get stored too
            # (an alert raised twice, an item counted twice) and the folds must cope.
            log.append(
                [
                    NewRecord(e.type_name, e.schema_version, encode(e), None)
                    if n < len(keyless) and keyless[n]
                    else NewRecord.from_event(e)
                    for n, e in enumerate(events[lo:hi], start=lo)
                ]
            )
            runner = ProjectionRunner(log, page_size=page_sizes[i % len(page_sizes)])
            assert set(runner.run().values()) <= {log.head()}
        incremental = snapshot(log)
        assert all(s.checkpoint == log.head() for s in ProjectionRunner(log).status())

        ProjectionRunner(log, page_size=rebuild_page).rebuild()
        assert snapshot(log) == incremental
        check_against_stored_events(log)

    fold_both_ways()


def check_against_stored_events(log) -> None:
    """Recount from the stored events by hand and compare with the projections' queries."""
    stored = [e for _, e in log.iter_events()]

    items = Counter(
        (e.feed_id, utc_day(event_time(e))) for e in stored if isinstance(e, ItemReceived)
    )
    feeds = {f for f, _ in items}
    got = {(f, d): n for f in feeds for d, n in ItemsByFeedDay.days(log, f)}
    assert got == dict(items)
    assert {t["feed_id"]: t["items"] for t in ItemsByFeedDay.totals(log)} == {
        f: sum(n for (g, _), n in items.items() if g == f) for f in feeds
    }

    polls, new_items = Counter(), Counter()
    for e in stored:
        if isinstance(e, FeedPolled | FeedFailed):
            polls[e.feed_id] += 1
        if isinstance(e, FeedPolled):
            new_items[e.feed_id] += e.new_items
    for status in FeedStatus.all(log):
        assert status["polls"] == polls[status["feed_id"]]
        assert status["items"] == new_items[status["feed_id"]]

    raised = [e for e in stored if isinstance(e, AlertRaised)]
    suppressed = [e for e in stored if isinstance(e, AlertSuppressed)]
    listings = list(AlertTimeline.all(log))
    assert sorted(x["alert_id"] for x in listings) == sorted({e.alert_id for e in raised})
    raised_ids = {e.alert_id for e in raised}
    assert sum(x["suppressed"] for x in listings) == sum(
        1 for e in suppressed if e.folded_into in raised_ids
    )
    times = [x["event_time"] for x in listings]
    assert times == sorted(times)

    alerts_per_rule = Counter(e.rule_id for e in raised)
    suppressed_per_rule = Counter(e.rule_id for e in suppressed)
    for hits in RuleHits.all(log):
        assert hits["alerts"] == alerts_per_rule[hits["rule_id"]]
        assert hits["suppressed"] == suppressed_per_rule[hits["rule_id"]]
        assert sum(hits["levels"].values()) == hits["alerts"]

    items_with: dict[str, set[str]] = defaultdict(set)
    for e in stored:
        if isinstance(e, EntitiesExtracted):
            for found in e.items:
                for entity in found.entities:
                    items_with[entity].add(found.item_id)
    alerts_with = Counter(x for e in raised for x in set(e.entities))
    for entity in set(items_with) | set(alerts_with):
        total = EntityMentions.get(log, entity)
        assert total["mentions"] == len(items_with[entity])
        assert total["alerts"] == alerts_with[entity]

"""The pure correlation engine and throttle: window semantics, late items, bounded state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerting import Contribution, Correlator, Throttle, group_values
from monitor.rules._model import CorrelationRule

T0 = datetime(2026, 3, 1, tzinfo=UTC)
H = 3600


def corr(type_: str, rules, *, timespan=24 * H, group_by=("place",), **condition):
    """A correlation rule model built directly (no YAML)."""
    return CorrelationRule(
        id=f"c-{type_}",
        title=type_,
        level="high",
        type=type_,
        rules=tuple(rules),
        timespan=timespan,
        group_by=tuple(group_by),
        condition=condition,
    )


def c(rule, hours, n, *, places=("place:x",), source="s"):
    """A contribution of `rule` at T0 + hours about `places`."""
    return Contribution(
        rule,
        T0 + timedelta(hours=hours),
        f"a{n}",
        (f"i{n}",),
        tuple(places),
        {"source": source, "feed": "f"},
    )


def test_event_count_fires_on_the_nth_match_in_window():
    """event_count gte 3 fires on the third match within the timespan, not before."""
    engine = Correlator([corr("event_count", ["r"], timespan=2 * H, gte=3)])
    assert engine.feed(c("r", 0, 1)) == []
    assert engine.feed(c("r", 1, 2)) == []
    (hit,) = engine.feed(c("r", 1.5, 3))
    assert hit.item_ids == ("i1", "i2", "i3")
    assert hit.window_start == T0 and hit.window_end == T0 + timedelta(hours=1.5)
    assert hit.group == "place:x"


def test_event_count_outside_window_does_not_fire():
    """Three matches spread over more than the timespan never fire."""
    engine = Correlator([corr("event_count", ["r"], timespan=2 * H, gte=3)])
    hits = [h for n, t in enumerate([0, 1.5, 3, 4.6]) for h in engine.feed(c("r", t, n))]
    assert hits == []


def test_value_count_counts_distinct_sources_only():
    """value_count over source: three copies from one source count once; a third source fires."""
    engine = Correlator([corr("value_count", ["r"], gte=3, field="source")])
    for n, src in enumerate(["a", "a", "a", "b"]):
        assert engine.feed(c("r", n, n, source=src)) == []
    (hit,) = engine.feed(c("r", 5, 9, source="c"))
    assert len(hit.item_ids) == 5


def test_temporal_any_order():
    """temporal fires when every listed rule matched within the span, whichever came first."""
    engine = Correlator([corr("temporal", ["a", "b"], timespan=12 * H)])
    assert engine.feed(c("b", 0, 1)) == []
    assert engine.feed(c("b", 1, 2)) == []
    (hit,) = engine.feed(c("a", 5, 3))
    assert set(hit.item_ids) == {"i1", "i2", "i3"}


def test_temporal_ordered_needs_the_listed_order():
    """temporal_ordered: b then a does not fire; a then b within the span does."""
    engine = Correlator([corr("temporal_ordered", ["a", "b"], timespan=72 * H)])
    assert engine.feed(c("b", 0, 1)) == []
    assert engine.feed(c("a", 10, 2)) == []
    (hit,) = engine.feed(c("b", 50, 3))
    assert hit.item_ids == ("i2", "i3")
    assert engine.feed(c("b", 200, 4)) == []  # a at 10h is 190h before: out of span


def test_groups_split_by_place_and_an_item_feeds_every_place_it_names():
    """Matches about different places never combine; an item naming two places feeds both."""
    engine = Correlator([corr("temporal_ordered", ["a", "b"])])
    assert engine.feed(c("a", 0, 1, places=("place:x", "place:y"))) == []
    assert engine.feed(c("b", 1, 2, places=("place:z",))) == []
    hits = engine.feed(c("b", 2, 3, places=("place:y",)))
    assert [h.group for h in hits] == ["place:y"]


def test_match_without_group_value_feeds_nothing():
    """A match with no entity of the group-by kind joins no group."""
    assert group_values(["place"], ["actor:a"], {}) == []
    assert group_values(["place", "source"], ["place:b", "place:a"], {"source": "s"}) == [
        "place:a|s",
        "place:b|s",
    ]
    assert group_values([], [], {}) == [None]


def test_late_item_within_lateness_completes_a_past_window():
    """A late denial (published before items already seen) still fires within lateness."""
    engine = Correlator([corr("temporal_ordered", ["a", "b"], timespan=72 * H)])
    assert engine.feed(c("a", 0, 1)) == []
    assert engine.feed(c("a", 100, 2, places=("place:other",))) == []  # watermark 100h
    (hit,) = engine.feed(c("b", 30, 3))  # 70h late, lateness defaults to 72h
    assert hit.window_start == T0 and hit.window_end == T0 + timedelta(hours=30)
    assert engine.late == 0


def test_item_later_than_lateness_is_dropped_and_counted():
    """A match older than watermark - lateness is ignored by the correlation and counted."""
    engine = Correlator([corr("temporal_ordered", ["a", "b"], timespan=10 * H)], lateness=H)
    engine.feed(c("a", 0, 1))
    engine.feed(c("a", 20, 2, places=("place:other",)))
    assert engine.feed(c("b", 5, 3)) == []
    assert engine.late == 1


def test_late_entry_in_the_middle_of_a_window():
    """event_count with a late match inserted between two others fires for the right window."""
    engine = Correlator([corr("event_count", ["r"], timespan=4 * H, gte=3)])
    engine.feed(c("r", 0, 1))
    engine.feed(c("r", 3, 2))
    (hit,) = engine.feed(c("r", 1, 3))
    assert hit.item_ids == ("i1", "i3", "i2")


def test_state_is_bounded_by_expiry():
    """With 10,000 groups touched once, the sweep forgets every expired entry and group."""
    engine = Correlator([corr("event_count", ["r"], timespan=H, gte=5)])
    for n in range(10_000):
        engine.feed(c("r", n / 100, n, places=(f"place:{n}",)))
    assert engine.live_groups() < 2_500  # only groups within timespan + lateness survive
    engine.sweep()
    assert engine.live_entries() <= 201


@pytest.mark.parametrize("restart_at", [1, 3, 5])
def test_restore_gives_the_same_hits_as_an_uninterrupted_run(restart_at):
    """Restoring a prefix (restore=True) then feeding the rest fires what one run fires."""
    rules = [corr("event_count", ["r"], timespan=2 * H, gte=2)]
    stream = [c("r", t, n) for n, t in enumerate([0, 1, 1.5, 5, 5.5, 0.5, 9, 9.5])]
    one_run = Correlator(rules)
    fired = [[h.alert_id for h in one_run.feed(s)] for s in stream]
    restarted = Correlator(rules)
    for s in stream[:restart_at]:
        assert restarted.feed(s, restore=True) == []
    after = [[h.alert_id for h in restarted.feed(s)] for s in stream[restart_at:]]
    assert after == fired[restart_at:]
    assert any(fired[restart_at:])  # the compared part does fire


def test_throttle_folds_repeats_within_window_into_first_alert():
    """A repeat within T folds into the last delivered alert; after T a new alert is raised."""
    throttle = Throttle()
    assert throttle.check("r", "g", T0, 6 * H, "a1") is None
    assert throttle.check("r", "g", T0 + timedelta(hours=2), 6 * H, "a2") == "a1"
    assert throttle.check("r", "other", T0 + timedelta(hours=2), 6 * H, "a3") is None
    assert throttle.check("r", "g", T0 + timedelta(hours=7), 6 * H, "a4") is None
    assert throttle.check("r", "g", T0 + timedelta(hours=8), 6 * H, "a5") == "a4"
    assert throttle.check("r", "g", T0 + timedelta(hours=8), None, "a6") is None


def test_throttle_state_is_bounded():
    """Old throttle entries are forgotten once nothing new could fold into them."""
    throttle = Throttle()
    for n in range(5_000):
        throttle.check("r", f"g{n}", T0 + timedelta(minutes=n), 60, f"a{n}")
    throttle.sweep()
    assert len(throttle) < 10


def test_feeding_the_same_match_twice_is_a_no_op():
    """A contribution already in a window (same alert id) is ignored: no double counting."""
    engine = Correlator([corr("event_count", ["r"], timespan=2 * H, gte=2)])
    first = c("r", 0, 1)
    assert engine.feed(first) == []
    assert engine.feed(first) == []
    assert engine.live_entries() == 1
    assert len(engine.feed(c("r", 1, 2))) == 1


def test_throttle_never_folds_an_alert_into_itself():
    """Checking the last delivered alert's own id again raises it (dedupe drops the copy)."""
    throttle = Throttle()
    assert throttle.check("r", "g", T0, 6 * H, "a1") is None
    assert throttle.check("r", "g", T0, 6 * H, "a1") is None
    assert throttle.check("r", "g", T0 + timedelta(hours=1), 6 * H, "a2") == "a1"

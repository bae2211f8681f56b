"""Sigma correlation conditions: gt/gte/lt/lte/eq, ranges, count + distinct count, when
upper-bounded windows are decided, and the loader's errors for fields a type does not use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerting import Contribution, Correlator
from monitor.rules import Bounds, CorrelationRule
from tests.rules.builders import check

T0 = datetime(2026, 3, 1, tzinfo=UTC)
H = 3600


def corr(type_="event_count", *, timespan=2 * H, distinct=None, rules=("r",), **condition):
    """A correlation rule model built directly (no YAML), grouped by place."""
    return CorrelationRule(
        id=f"c-{type_}",
        title=type_,
        level="high",
        type=type_,
        rules=tuple(rules),
        timespan=timespan,
        group_by=("place",),
        condition=condition,
        distinct=distinct or {},
    )


def c(hours, n, *, place="place:x", source="s", rule="r"):
    """A contribution of `rule` at T0 + hours about `place` from `source`."""
    return Contribution(
        rule, T0 + timedelta(hours=hours), f"a{n}", (f"i{n}",), (place,), {"source": source}
    )


def feed_all(engine, contributions):
    return [h for x in contributions for h in engine.feed(x)]


# --- Bounds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "true", "false"),
    [
        ({"gt": 2}, [3, 4], [1, 2]),
        ({"gte": 3}, [3, 9], [2]),
        ({"lt": 3}, [1, 2], [3, 4]),
        ({"lte": 3}, [2, 3], [4]),
        ({"eq": 3}, [3], [2, 4]),
        ({"gte": 3, "lte": 4}, [3, 4], [2, 5]),
        ({"gt": 100, "lte": 200}, [101, 200], [100, 201]),
    ],
)
def test_bounds_hold_at_their_boundaries(condition, true, false):
    """Each operator and range holds exactly on its side of the boundary (N-1, N, N+1)."""
    bounds = Bounds.of(condition)
    assert all(bounds.holds(n) for n in true)
    assert not any(bounds.holds(n) for n in false)
    assert bounds.upper == any(k in condition for k in ("lt", "lte", "eq"))


# --- lower bounds fire at the completing match --------------------------------------------------


def test_gt_fires_on_the_match_after_n():
    """gt: 2 fires on the third match in the window, not on the second."""
    engine = Correlator([corr(gt=2)])
    assert feed_all(engine, [c(0, 1), c(0.5, 2)]) == []
    (hit,) = engine.feed(c(1, 3))
    assert hit.item_ids == ("i1", "i2", "i3") and not hit.closed


def test_gte_boundary_exactly_n_and_n_minus_one():
    """gte: 3 fires with exactly three in the window; two in the window never fire."""
    assert feed_all(Correlator([corr(gte=3)]), [c(0, 1), c(1, 2), c(2.5, 3)]) == []
    assert len(feed_all(Correlator([corr(gte=3)]), [c(0, 1), c(1, 2), c(2, 3)])) == 1


# --- upper bounds are decided when the window closes ---------------------------------------------


def test_lt_fires_only_when_the_window_closes():
    """lt: 3 over 2h with lateness 1h: the window [0h, 2h] is decided once a match later than
    3h arrives (any group), and holds two matches: it fires then, with the whole window."""
    engine = Correlator([corr(lt=3)], lateness=H)
    assert feed_all(engine, [c(0, 1), c(1, 2), c(2.9, 3, place="place:y")]) == []
    (hit,) = engine.feed(c(3.1, 4, place="place:y"))
    assert hit.closed and hit.group == "place:x"
    assert hit.item_ids == ("i1", "i2")
    assert hit.window_start == T0 and hit.window_end == T0 + timedelta(hours=2)


def test_lt_must_not_fire_when_the_window_reaches_n():
    """lt: 3: three matches inside the window make it fail when it closes (N), never fire."""
    engine = Correlator([corr(lt=3)], lateness=H)
    hits = feed_all(engine, [c(0, 1), c(1, 2), c(2, 3), c(5, 4, place="place:y")])
    assert [h.group for h in hits] == []


def test_lte_and_eq_boundaries():
    """lte: 2 fires for 2 and not 3; eq: 2 fires for 2, not for 1 or 3."""

    def closes(n, **condition):
        engine = Correlator([corr(**condition)], lateness=0)
        hits = feed_all(engine, [c(0.1 * i, i) for i in range(n)])
        hits += engine.feed(c(10, 99, place="place:other"))
        return [h for h in hits if h.group == "place:x"]

    assert len(closes(2, lte=2)) == 1 and closes(3, lte=2) == []
    assert len(closes(2, eq=2)) == 1 and closes(1, eq=2) == [] and closes(3, eq=2) == []


def test_range_fires_inside_and_not_outside():
    """{gte: 3, lte: 4}: 3 and 4 matches fire when the window closes; 2 and 5 do not."""

    def fired(n):
        engine = Correlator([corr(gte=3, lte=4)], lateness=0)
        hits = feed_all(engine, [c(0.1 * i, i) for i in range(n)])
        return len(hits + engine.feed(c(10, 99, place="place:other")))

    assert [fired(n) for n in (2, 3, 4, 5)] == [0, 1, 1, 0]


def test_upper_bound_windows_tumble_from_the_first_match_left():
    """After a window closes, the next opens at the group's first match after it."""
    engine = Correlator([corr(lt=5)], lateness=0)
    hits = feed_all(engine, [c(0, 1), c(1, 2), c(3, 3), c(4.5, 4), c(9, 5)])
    assert [(h.window_start, h.item_ids) for h in hits] == [
        (T0, ("i1", "i2")),
        (T0 + timedelta(hours=3), ("i3", "i4")),
    ]


def test_late_match_within_lateness_counts_before_the_window_closes():
    """A late match (older than the newest but within lateness) still counts in its window:
    here it makes lt: 3 fail; without it the window would fire."""
    engine = Correlator([corr(lt=3)], lateness=2 * H)
    assert feed_all(engine, [c(0, 1), c(1, 2), c(3, 3, place="place:y")]) == []
    assert engine.feed(c(1.5, 4)) == []  # late by 1.5h: allowed (lateness 2h)
    assert engine.feed(c(4.1, 5, place="place:y")) == []  # closes [0h, 2h] with 3: no fire
    assert engine.late == 0


def test_too_late_match_is_ignored_by_upper_bounded_rules():
    """A match later than the lateness is ignored: it cannot reopen a decided window."""
    engine = Correlator([corr(lt=3)], lateness=0)
    hits = feed_all(engine, [c(0, 1), c(5, 2, place="place:y")])
    assert [h.item_ids for h in hits] == [("i1",)]
    assert engine.feed(c(1, 3)) == [] and engine.late == 1


# --- a count and a distinct count in one rule ----------------------------------------------------


def test_count_and_distinct_count_in_one_rule():
    """event_count gte 3 with distinct source gte 2: three matches from two sources fire;
    three from one source, and two from two, do not."""
    rule = corr(gte=3, distinct={"field": "source", "gte": 2}, timespan=6 * H)
    one_source = feed_all(Correlator([rule]), [c(0, 1), c(1, 2), c(2, 3)])
    two_items = feed_all(Correlator([rule]), [c(0, 1, source="a"), c(1, 2, source="b")])
    assert one_source == [] and two_items == []
    hits = feed_all(Correlator([rule]), [c(0, 1, source="a"), c(1, 2), c(2, 3, source="b")])
    assert [h.item_ids for h in hits] == [("i1", "i2", "i3")]


# --- the loader ----------------------------------------------------------------------------------

RULE = """\
id: r
title: r
detection: {sel: {title: [strike]}, condition: sel}
---
"""


def corr_yaml(body: str, extra: str = "") -> str:
    return (
        RULE + "id: c\ntitle: c\n" + extra + "correlation:\n  rules: [r]\n  timespan: 6h\n" + body
    )


def errors(tmp_path, text: str) -> list[str]:
    return [str(e) for e in check(tmp_path, text).errors]


def test_field_on_event_count_is_an_error_naming_what_is_allowed(tmp_path):
    """`field: source` on an event_count was silently ignored: now an error that names the
    field, what is allowed, and how to count distinct values."""
    (message,) = errors(
        tmp_path, corr_yaml("  type: event_count\n  condition: {gte: 3, field: source}\n")
    )
    assert "'field'" in message and "gt, gte, lt, lte, eq" in message
    assert "value_count" in message and "distinct" in message


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("  type: event_count\n  condition: {gte: 3, count: 2}\n", "unknown event_count"),
        ("  type: value_count\n  condition: {gte: 2}\n", "condition.field"),
        (
            "  type: value_count\n  condition: {field: source, gte: 2}\n  distinct: {gte: 1}\n",
            "'distinct' belongs to event_count",
        ),
        ("  type: temporal\n  condition: {gte: 2}\n", "takes no 'condition'"),
        ("  type: event_count\n  condition: {gte: 3, lt: 2}\n", "can never hold"),
        ("  type: event_count\n  condition: {gt: 3, gte: 2}\n", "not both"),
        ("  type: event_count\n  condition: {eq: 2, lte: 3}\n", "eq cannot be combined"),
        ("  type: event_count\n  condition: {gte: -1}\n", "whole number"),
        ("  type: event_count\n  condition: {field: source}\n", "needs a comparison"),
        ("  type: event_count\n  condition: {gte: 3}\n  distinct: {gte: 2}\n", "needs 'field'"),
        (
            "  type: event_count\n  condition: {gte: 3}\n  distinct: {field: x, gte: 2}\n",
            "needs 'field'",
        ),
        ("  type: event_count\n  condition: {gte: 3}\n  window: 2h\n", "unknown correlation"),
    ],
)
def test_loader_rejects_what_a_type_does_not_use(tmp_path, body, needle):
    """Every key a correlation type does not use, and every impossible bound, is an error."""
    found = errors(tmp_path, corr_yaml(body))
    assert any(needle in e for e in found), found


def test_loader_accepts_ranges_distinct_and_generate(tmp_path):
    """A range, a distinct bound and `generate: false` load into the model."""
    report = check(
        tmp_path,
        corr_yaml(
            "  type: event_count\n  condition: {gte: 3, lte: 10}\n"
            "  distinct: {field: source, gte: 2}\n",
            extra="generate: false\n",
        ),
    )
    assert report.ok, report.errors
    rule = report.ruleset.correlation("c")
    assert rule.condition == {"gte": 3, "lte": 10}
    assert rule.distinct == {"field": "source", "gte": 2} and rule.generate is False


def test_generate_must_be_a_boolean(tmp_path):
    """`generate: no-thanks` is an error, on detection rules too."""
    text = "id: r\ntitle: r\ngenerate: maybe\ndetection: {sel: {title: [x]}, condition: sel}\n"
    assert any("'generate' must be true or false" in e for e in errors(tmp_path, text))

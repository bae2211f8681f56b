"""cardinality: distinct values of a field in a window above a maximum or below a minimum."""

from __future__ import annotations

import pytest

from monitor.alerting import Aggregator, run_tests
from tests.alerting.helpers import agg, aggregation_yaml, at, c, item, ruleset, run
from tests.rules.builders import check

H = 3600


def feed_all(engine, contributions):
    return [h for x in contributions for h in engine.feed(x)]


def test_max_cardinality_fires_on_the_value_past_the_bound():
    """max 2: two sources (exactly max) do not fire, however often; a third one does."""
    engine = Aggregator([agg("cardinality", cardinality_field="source", max_cardinality=2)])
    assert feed_all(engine, [c(0.1 * i, i, source="ab"[i % 2]) for i in range(6)]) == []
    (hit,) = engine.feed(c(0.7, 9, source="c"))
    assert hit.summary == "3 distinct source values in 1h (more than 2)"
    assert hit.numbers == {"distinct": "3"} and hit.window_end == at(0.7)


def test_max_cardinality_window_slides():
    """Sources more than an hour apart are not in one window."""
    engine = Aggregator([agg("cardinality", cardinality_field="source", max_cardinality=2)])
    assert (
        feed_all(engine, [c(0, 1, source="a"), c(0.5, 2, source="b"), c(1.2, 3, source="c")]) == []
    )


def test_min_cardinality_fires_when_values_age_out():
    """min 2 over 6h: after a full window watched, down to one source is due at the instant."""
    rule = agg("cardinality", timespan=6 * H, cardinality_field="source", min_cardinality=2)
    engine = Aggregator([rule])
    assert feed_all(engine, [c(0, 1, source="a"), c(1, 2, source="b"), c(5, 3, source="a")]) == []
    assert engine.advance(at(6.99)) == []
    (hit,) = engine.advance(at(8))
    assert hit.window_end == at(7) and hit.numbers == {"distinct": "1"}
    assert "fewer than 2" in hit.summary


def test_cardinality_late_match_and_memory():
    """A late match within the window counts; state keeps about two windows of matches."""
    engine = Aggregator([agg("cardinality", cardinality_field="source", max_cardinality=2)])
    feed_all(engine, [c(1.0, 1, source="a"), c(1.1, 2, source="b")])
    (hit,) = engine.feed(c(0.5, 3, source="c"))
    assert hit.window_end == at(1.1)
    for i in range(2000):
        engine.feed(c(2 + i / 60, 10 + i, source="same", places=(f"place:{i % 50}",)))
    engine.sweep()
    assert engine.live_entries() <= 2 * 60 + 1


CARD_YAML = """\
id: many-outlets
title: Strikes about one place reported by more than two outlets within 6 hours
level: high
correlation:
  type: cardinality
  rules: [strike]
  group-by: [place]
  timespan: 6h
  cardinality_field: source
  max_cardinality: 2
tests:
  - name: a third outlet fires
    items:
      - {at: 0h, source: a, title: Strike near Abu Kamal}
      - {at: 1h, source: b, title: Strike near Abu Kamal}
      - {at: 2h, source: c, title: Strike near Abu Kamal}
    alerts: [{rule: many-outlets, place: place:abu-kamal}]
  - name: two outlets three times do not
    items:
      - {at: 0h, source: a, title: Strike near Abu Kamal}
      - {at: 1h, source: b, title: Strike near Abu Kamal}
      - {at: 2h, source: a, title: Strike near Abu Kamal}
    alerts: []
"""


def test_cardinality_yaml_tests_and_replay(tmp_path):
    """YAML tests pass through the evaluator; a replay raises the same alert."""
    rs = ruleset(tmp_path, CARD_YAML)
    results = [r for r in run_tests(rs).results if r.rule_id == "many-outlets"]
    assert [r.outcome for r in results] == ["passed", "passed"]
    items = [item(i, i, source=s) for i, s in enumerate("abc")]
    _, alerts = run(rs, items)
    assert [a.event_time for a in alerts] == [at(2)]
    assert alerts[0].annotations["summary"] == "3 distinct source values in 6h (more than 2)"
    _, again = run(rs, items)
    assert [a.alert_id for a in again] == [a.alert_id for a in alerts]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("cardinality_field: source", "needs 'max_cardinality' or 'min_cardinality'"),
        ("max_cardinality: 3", "needs 'cardinality_field'"),
        ("cardinality_field: colour\n  max_cardinality: 3", "'colour' is not a field"),
        ("cardinality_field: source\n  min_cardinality: 0", "at least 1"),
        ("cardinality_field: source\n  max: 3", "unknown cardinality rule field 'max'"),
        ("cardinality_field: story\n  max_cardinality: 3", "cannot be 'story'"),
    ],
)
def test_cardinality_loader_errors(tmp_path, body, message):
    """Missing, bad or unknown cardinality fields are errors naming what to write."""
    text = aggregation_yaml("cardinality", body)
    report = check(tmp_path, text)
    assert any(message in str(e) and e.source.line for e in report.errors), report.errors


def test_a_rule_listing_an_aggregation_rule_is_refused(tmp_path):
    """Aggregation alerts feed no other rule: a correlation listing one is an error."""
    text = (
        CARD_YAML
        + """\
---
id: chained
title: Chained
correlation:
  type: event_count
  rules: [many-outlets]
  timespan: 1d
  condition: {gte: 2}
"""
    )
    from tests.alerting.helpers import STRIKE

    report = check(tmp_path, STRIKE + "---\n" + text)
    assert any(
        "'chained' lists 'many-outlets', a cardinality rule" in str(e) for e in report.errors
    )

"""new_value (ElastAlert2's new_term): a value first seen in a rule's matches within a window."""

from __future__ import annotations

import pytest

from monitor.alerting import Aggregator, run_tests
from tests.alerting.helpers import agg, aggregation_yaml, at, c, item, ruleset, run
from tests.rules.builders import check

D = 86400


def rule(**kw):
    params = {"timespan": 30 * D, "group_by": (), "fields": ("place",), "warmup": 0} | kw
    return agg("new_value", **params)


def test_new_value_fires_once_per_value_within_the_window():
    """A place's first mention fires; later mentions within 30 days do not; another place does."""
    engine = Aggregator([rule()])
    (hit,) = engine.feed(c(0, 1, places=("place:a",)))
    assert hit.summary == "new place place:a: not seen in 30d of r matches"
    assert hit.numbers == {"field": "place", "value": "place:a"} and hit.item_ids == ("i1",)
    assert engine.feed(c(24, 2, places=("place:a",))) == []
    (other,) = engine.feed(c(25, 3, places=("place:a", "place:b")))
    assert other.numbers["value"] == "place:b" and other.alert_id != hit.alert_id


def test_new_value_window_boundary():
    """Unseen for exactly 30 days is not new; 30 days and an hour is."""
    engine = Aggregator([rule()])
    engine.feed(c(0, 1, places=("place:a",)))
    assert engine.feed(c(30 * 24, 2, places=("place:a",))) == []
    (hit,) = engine.feed(c(60 * 24 + 1, 3, places=("place:a",)))
    assert hit.summary == "new place place:a: not seen in 30d of r matches"


def test_new_value_warmup_learns_silently():
    """During the warm-up (default: the window) values are learnt, not alerted."""
    engine = Aggregator([rule(warmup=2 * D)])
    assert engine.feed(c(0, 1, places=("place:a",))) == []
    assert engine.feed(c(47, 2, places=("place:b",))) == []
    assert len(engine.feed(c(48, 3, places=("place:c",)))) == 1
    assert engine.feed(c(49, 4, places=("place:a",))) == []


def test_new_value_per_group_and_late_matches():
    """Grouped by place, an actor is new per place; a late match of a seen value is not new."""
    engine = Aggregator([rule(group_by=("place",), fields=("actor",))])
    assert len(engine.feed(c(10, 1, places=("place:a", "actor:x")))) == 1
    assert len(engine.feed(c(11, 2, places=("place:b", "actor:x")))) == 1
    assert engine.feed(c(5, 3, places=("place:a", "actor:x"))) == []


def test_new_value_memory_forgets_values_older_than_the_window():
    """A year of daily new places keeps only about the window's worth of values."""
    engine = Aggregator([rule()])
    for day in range(365):
        engine.feed(c(day * 24, day, places=(f"place:{day}",)))
    engine.sweep()
    assert engine.live_entries() <= 31


NEW_YAML = """\
id: new-place
title: A place never reported in strikes before
level: medium
correlation:
  type: new_value
  rules: [strike]
  fields: [place]
  terms_window_size: 30d
  warmup: 0s
tests:
  - name: al-Tanf after Abu Kamal is new, Abu Kamal again is not
    items:
      - {at: 0h, title: Strike near Abu Kamal}
      - {at: 5h, title: Strike near Abu Kamal}
      - {at: 6h, title: Strike at al-Tanf}
    alerts: [{rule: new-place}, {rule: new-place}]
"""


def test_new_value_yaml_tests_and_replay(tmp_path):
    """YAML tests pass through the evaluator, and a replay raises the same alerts."""
    rs = ruleset(tmp_path, NEW_YAML)
    assert all(r.outcome == "passed" for r in run_tests(rs).results), run_tests(rs).failures()
    items = [item(0, 0), item(1, 5), item(2, 6, title="Strike at al-Tanf")]
    _, alerts = run(rs, items)
    assert [a.annotations["value"] for a in alerts] == ["place:abu-kamal", "place:al-tanf"]
    assert alerts[1].event_time == at(6) and alerts[1].item_ids == (items[2].item_id,)
    _, again = run(rs, items)
    assert [a.alert_id for a in again] == [a.alert_id for a in alerts]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("terms_window_size: 30d", "a new_value rule needs 'fields'"),
        ("fields: [color]\n  terms_window_size: 30d", "fields 'color' is not a field"),
        ("fields: [place]", "'terms_window_size' is required"),
        ("fields: [place]\n  timespan: 30d", "unknown new_value rule field 'timespan'"),
    ],
)
def test_new_value_loader_errors(tmp_path, body, message):
    """Missing or unknown new_value fields are errors naming what to write."""
    text = aggregation_yaml("new_value", body, timespan=None)
    report = check(tmp_path, text)
    assert any(message in str(e) and e.source.line for e in report.errors), report.errors

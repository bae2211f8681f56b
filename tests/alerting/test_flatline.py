"""flatline: a feed, source or group that usually reports goes silent for longer than T."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.alerting import Aggregator, AlertEvaluator, run_tests
from monitor.log import MemoryLog
from tests.alerting.helpers import (
    T0,
    agg,
    aggregation_alerts,
    aggregation_yaml,
    at,
    c,
    item,
    ruleset,
    run,
)
from tests.rules.builders import check

H = 3600
USUAL = {"threshold_ref": 3, "lookback": 24 * H}


def feed_all(engine, contributions):
    return [h for x in contributions for h in engine.feed(x)]


def test_flatline_fires_when_the_silence_exceeds_the_timespan():
    """Matches at 0-3h then nothing: due at 3h + 6h, not a moment before."""
    engine = Aggregator([agg("flatline", timespan=6 * H, group_by=("feed",), **USUAL)])
    assert feed_all(engine, [c(h, h) for h in range(4)]) == []
    assert engine.advance(at(8.99)) == []
    (hit,) = engine.advance(at(9))
    assert hit.group == "f" and hit.window_end == at(9) and hit.window_start == at(3)
    assert hit.item_ids == ("i3",)  # the last match before the silence
    assert hit.summary.startswith("silent: 0 matches in 6h (fewer than 1) after 4 matches")
    assert engine.advance(at(30)) == []  # one alert per silence


def test_flatline_a_gap_of_exactly_the_timespan_is_not_a_silence():
    """A match at exactly last + T keeps the group alive (strictly longer than T fires)."""
    engine = Aggregator([agg("flatline", timespan=6 * H, group_by=("feed",), **USUAL)])
    feed_all(engine, [c(h, h) for h in range(4)])
    assert engine.advance(at(9), strict=True) == []
    assert engine.feed(c(9, 9)) == []
    (hit,) = engine.advance(at(15))
    assert hit.window_end == at(15)


def test_flatline_needs_a_group_that_usually_reports():
    """threshold_ref 3: a group with 2 matches (N-1) in the lookback never fires; 3 does."""
    engine = Aggregator([agg("flatline", timespan=6 * H, group_by=("feed",), **USUAL)])
    feed_all(engine, [c(0, 0), c(1, 1)])
    assert engine.advance(at(100)) == []
    engine = Aggregator([agg("flatline", timespan=6 * H, group_by=("feed",), **USUAL)])
    feed_all(engine, [c(0, 0), c(1, 1), c(2, 2)])
    assert len(engine.advance(at(100))) == 1


def test_flatline_threshold_counts_fewer_than_n_as_silence():
    """threshold 2: one match in 6h is still silence (fewer than 2); two is not."""
    rule = agg("flatline", timespan=6 * H, group_by=("feed",), threshold=2, **USUAL)
    engine = Aggregator([rule])
    feed_all(engine, [c(h, h) for h in range(4)] + [c(8, 8)])
    (hit,) = engine.advance(at(20))
    assert hit.window_end == at(9)  # (3h, 9h] holds one match: fewer than 2


def test_flatline_late_match_postpones_the_silence():
    """A late match (within the timespan of the watermark) moves the due time."""
    engine = Aggregator([agg("flatline", timespan=6 * H, group_by=("feed",), **USUAL)])
    feed_all(engine, [c(0, 0), c(1, 1), c(5, 5), c(2, 2)])  # 2h arrives after 5h
    (hit,) = engine.advance(at(20))
    assert hit.window_end == at(11)


def test_flatline_memory_is_threshold_plus_threshold_ref_per_group():
    """A busy feed keeps only its latest threshold + threshold_ref match times."""
    engine = Aggregator([agg("flatline", timespan=6 * H, group_by=("feed",), **USUAL)])
    feed_all(engine, [c(i / 10, i) for i in range(500)])
    assert engine.live_entries() == 1 + 3


FLATLINE_YAML = """\
id: feed-silent
title: A feed that usually reports strikes went quiet
level: medium
correlation:
  type: flatline
  rules: [strike]
  group-by: [feed]
  timespan: 6h
  threshold_ref: 3
  lookback: 1d
tests:
  - name: sana goes quiet while another feed keeps reporting
    items:
      - {at: 0h, feed: sana, title: Strike near Abu Kamal}
      - {at: 1h, feed: sana, title: Strike near Abu Kamal}
      - {at: 2h, feed: sana, title: Strike near Abu Kamal}
      - {at: 10h, feed: other, title: Strike near al-Tanf}
    alerts: [{rule: feed-silent, feed: sana}]
  - name: a feed that reported twice is not usual
    items:
      - {at: 0h, feed: sana, title: Strike near Abu Kamal}
      - {at: 1h, feed: sana, title: Strike near Abu Kamal}
      - {at: 10h, feed: other, title: Strike near al-Tanf}
    alerts: []
"""


def test_flatline_yaml_tests_pass(tmp_path):
    """The rule's YAML tests run through the real evaluator; items of other feeds move time."""
    rs = ruleset(tmp_path, FLATLINE_YAML)
    results = [r for r in run_tests(rs).results if r.rule_id == "feed-silent"]
    assert [r.outcome for r in results] == ["passed", "passed"], results


def test_flatline_watcher_tick_and_replay_raise_the_same_alert(tmp_path):
    """A quiet log still raises the alert on the watcher's tick (at the due instant, not the
    tick's); a replay, where a later item's event time moves the clock, raises the same one,
    and a restart after the tick does not raise it twice."""
    rs = ruleset(tmp_path, FLATLINE_YAML)
    items = [item(i, i, feed="sana") for i in range(3)]
    log = MemoryLog()
    log.append_events(items)
    evaluator = AlertEvaluator(log, rs, clock=lambda: T0)
    evaluator.run()
    assert evaluator.tick(at(7.99) + timedelta(seconds=evaluator.tick_delay)) == []
    (alert,) = evaluator.tick(at(12) + timedelta(seconds=evaluator.tick_delay))
    assert alert.event_time == at(8) and alert.group_key == "sana"
    assert "silent: 0 matches in 6h" in alert.annotations["summary"]
    later = item(9, 12, feed="other", title="Strike near al-Tanf")
    log.append_events([later])
    AlertEvaluator(log, rs, clock=lambda: T0).run()  # a restart: rebuilt from the log
    assert [a.alert_id for a in aggregation_alerts(log, rs)] == [alert.alert_id]
    _, replayed = run(rs, [*items, later])
    assert [(a.alert_id, a.event_time) for a in replayed] == [(alert.alert_id, at(8))]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("threshold: 0", "'threshold' must be a whole number of at least 1"),
        ("lookback: soon", "lookback 'soon' is not a duration"),
        ("spike_height: 2", "unknown flatline rule field 'spike_height'"),
        ("min_count: 2", "unknown flatline rule field 'min_count'"),
    ],
)
def test_flatline_loader_errors(tmp_path, body, message):
    """Bad or unknown flatline fields are errors at their line."""
    text = aggregation_yaml("flatline", body)
    report = check(tmp_path, text)
    (error,) = [e for e in report.errors if message in str(e)]
    assert error.source.line == 13

"""spike: the rate of a rule's matches rises or falls by a factor against the previous window."""

from __future__ import annotations

import pytest

from monitor.alerting import Aggregator
from monitor.rules import check_rules
from tests.alerting.helpers import agg, aggregation_yaml, at, c, item, ruleset, run
from tests.rules.builders import check

UP = {"spike_height": 3.0, "threshold_cur": 3, "threshold_ref": 1}


def feed_all(engine, contributions):
    return [h for x in contributions for h in engine.feed(x)]


def test_spike_up_fires_at_exactly_the_height():
    """3 matches in the hour against 1 in the hour before (x3, height 3) fires at the third."""
    engine = Aggregator([agg("spike", **UP)])
    hits = feed_all(engine, [c(0.2, 0), c(1.1, 1), c(1.2, 2)])
    assert hits == []
    (hit,) = engine.feed(c(1.3, 3))
    assert hit.window_end == at(1.3) and hit.window_start == at(0.3)
    assert hit.group == "place:x"
    assert hit.item_ids == ("i1", "i2", "i3")
    assert hit.summary == "3 matches in 1h against 1 in the previous 1h (x3)"
    assert hit.numbers == {"current": "3", "reference": "1", "ratio": "3"}


def test_spike_up_below_the_height_or_minimum_does_not_fire():
    """x2.5 (5 against 2) is below height 3; 2 matches (N-1) is below threshold_cur 3."""
    engine = Aggregator([agg("spike", **UP)])
    assert (
        feed_all(engine, [c(0.1, 0), c(0.2, 1), *[c(1.1 + i / 10, 2 + i) for i in range(5)]]) == []
    )
    engine = Aggregator([agg("spike", **UP | {"spike_height": 2.0})])
    assert feed_all(engine, [c(0.2, 0), c(1.1, 1), c(1.2, 2)]) == []


def test_spike_from_nothing_never_fires():
    """As in ElastAlert2, an empty reference window is no spike (that is an event_count)."""
    engine = Aggregator([agg("spike", spike_height=2.0)])
    assert feed_all(engine, [c(1 + i / 10, i) for i in range(8)]) == []


def test_spike_groups_are_separate():
    """Matches about another place neither count nor fire for this one."""
    engine = Aggregator([agg("spike", **UP)])
    other = ("place:y",)
    assert feed_all(engine, [c(0.2, 0), c(1.1, 1, places=other), c(1.2, 2), c(1.3, 3)]) == []


def test_spike_windows_restart_after_an_alert():
    """After a spike alert the windows start afresh: a fourth match does not fire again."""
    engine = Aggregator([agg("spike", **UP)])
    hits = feed_all(engine, [c(0.2, 0), c(1.1, 1), c(1.2, 2), c(1.3, 3), c(1.4, 4)])
    assert len(hits) == 1
    assert engine.live_entries() == 1  # only the match after the alert


def test_spike_down_fires_when_time_passes_at_the_exact_instant():
    """A dip (1 against 6, x1/6 <= 1/3) is due at 2h, when the 1h match leaves the current
    window: found by time passing, not by a match."""
    engine = Aggregator([agg("spike", spike_type="down", spike_height=3.0)])
    contributions = [c(0.5 + i / 10, i) for i in range(6)] + [c(1.6, 9)]
    assert feed_all(engine, contributions) == []
    assert engine.advance(at(1.99)) == []
    (hit,) = engine.advance(at(2.5))
    assert hit.window_end == at(2.0)
    assert hit.numbers["current"] == "1" and hit.numbers["reference"] == "6"


def test_spike_down_to_zero_is_a_flatline_not_a_dip():
    """A current window with no match is no dip (ElastAlert2's rule; flatline covers it)."""
    engine = Aggregator([agg("spike", spike_type="down", spike_height=2.0)])
    feed_all(engine, [c(0.5, 1), c(0.6, 2)])
    assert engine.advance(at(10)) == []


def test_spike_both_and_up_only():
    """spike_type both fires on a dip; up does not."""
    dip = [c(0.5 + i / 10, i) for i in range(6)] + [c(1.6, 9)]
    for kind, expected in (("both", 1), ("up", 0)):
        engine = Aggregator([agg("spike", spike_type=kind, spike_height=3.0)])
        assert len(feed_all(engine, dip) + engine.advance(at(3))) == expected


def test_spike_late_match_counts_and_too_late_is_ignored():
    """A match within the timespan of the watermark counts; one older than that is late."""
    engine = Aggregator([agg("spike", **UP)])
    assert feed_all(engine, [c(1.0, 1), c(1.1, 2), c(1.15, 3)]) == []
    (hit,) = engine.feed(c(0.15, 0))  # late by exactly 1h: the reference window now holds it
    assert hit.window_end == at(1.15) and engine.late == 0
    engine = Aggregator([agg("spike", **UP)])
    feed_all(engine, [c(2.1, 1), c(2.2, 2), c(2.3, 3)])
    assert engine.feed(c(0.2, 0)) == [] and engine.late == 1


def test_spike_state_is_pruned_as_the_window_slides():
    """A day of steady matches keeps only about three windows of them, and old groups go."""
    engine = Aggregator([agg("spike", **UP)])
    for i in range(24 * 12):
        engine.feed(c(i / 12, i, places=(f"place:{i}",)))
    engine.sweep()
    assert engine.live_entries() <= 3 * 12 + 1
    assert engine.live_groups() <= 3 * 12 + 1


SPIKE_YAML = """\
id: strike-spike
title: Strikes spike around one place
level: high
correlation:
  type: spike
  rules: [strike]
  group-by: [place]
  timespan: 1h
  spike_height: 3
  threshold_cur: 3
  threshold_ref: 1
tests:
  - name: three in an hour after one fires
    items:
      - {at: 0h, title: Strike near Abu Kamal}
      - {at: 70m, title: Strike near Abu Kamal}
      - {at: 75m, title: Another strike near Abu Kamal}
      - {at: 80m, title: Third strike near Abu Kamal}
    alerts: [{rule: strike-spike, place: place:abu-kamal}]
  - name: two in an hour is not enough
    items:
      - {at: 0h, title: Strike near Abu Kamal}
      - {at: 70m, title: Strike near Abu Kamal}
      - {at: 75m, title: Another strike near Abu Kamal}
    alerts: []
"""


def test_spike_yaml_tests_pass_through_the_real_evaluator(tmp_path):
    """The rule's own YAML tests run (and pass) through `monitor.alerting.run_tests`."""
    from monitor.alerting import run_tests

    rs = ruleset(tmp_path, SPIKE_YAML)
    report = run_tests(rs)
    spike = [r for r in report.results if r.rule_id == "strike-spike"]
    assert [r.outcome for r in spike] == ["passed", "passed"], report.failures()


def test_spike_alert_text_and_replay_from_zero_gives_the_same_alerts(tmp_path):
    """The pipeline raises one alert saying what happened; a replay into a fresh log, and a
    second evaluator restarting half-way, raise exactly the same alerts."""
    rs = ruleset(tmp_path, SPIKE_YAML)
    items = [item(0, 0.2), item(1, 1.1), item(2, 1.2), item(3, 1.3), item(4, 1.4), item(5, 3.9)]
    items += [item(6, 4.5), item(7, 5.1), item(8, 5.2), item(9, 5.3)]
    _log, alerts = run(rs, items)
    assert [a.event_time for a in alerts] == [at(1.3), at(5.2)]
    first = alerts[0]
    assert first.annotations["summary"] == "3 matches in 1h against 1 in the previous 1h (x3)"
    assert first.labels["aggregation"] == "spike" and first.window_start == at(0.3)
    _, again = run(rs, items)
    assert [(a.alert_id, a.event_time) for a in again] == [
        (a.alert_id, a.event_time) for a in alerts
    ]
    # restart half-way: the second evaluator rebuilds the state from the log
    from monitor.alerting import AlertEvaluator
    from monitor.log import MemoryLog
    from tests.alerting.helpers import T0, aggregation_alerts

    half = MemoryLog()
    half.append_events(items[:4])
    AlertEvaluator(half, rs, clock=lambda: T0).run()
    half.append_events(items[4:])
    AlertEvaluator(half, rs, clock=lambda: T0).run()
    assert [a.alert_id for a in aggregation_alerts(half, rs)] == [a.alert_id for a in alerts]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("spike_height: 3\n  threshold: 2", "unknown spike rule field 'threshold'"),
        ("threshold_cur: 3", "a spike needs 'spike_height'"),
        ("spike_height: 1", "a spike needs 'spike_height'"),
        ("spike_height: 3\n  spike_type: sideways", "spike_type 'sideways' is not valid"),
        ("spike_height: 3\n  threshold_cur: -1", "'threshold_cur' must be a whole number"),
        ("spike_height: 3\n  condition: {gte: 2}", "unknown spike rule field 'condition'"),
    ],
)
def test_spike_loader_errors_name_the_field_and_the_line(tmp_path, body, message):
    """Bad or unknown spike fields are errors with file:line, naming the allowed fields."""
    text = aggregation_yaml("spike", body, timespan="1h")
    report = check(tmp_path, text)
    assert not report.ok
    (error,) = [e for e in report.errors if message in str(e)]
    assert error.source.line is not None and error.source.path.endswith("rules.yaml")
    if "unknown" in message:
        assert "spike_height" in str(error) or "did you mean" in str(error)
    assert check_rules(tmp_path).errors == report.errors


def test_readme_examples_of_the_four_types_load_with_the_default_pack(tmp_path):
    """Every YAML example of the README's aggregation reference loads beside the default pack."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("### Reference: spike, flatline, new_value and cardinality rules")
    section = readme[start : readme.index("### Reference: validation")]
    blocks = re.findall(r"^```yaml\n(.*?)^```", section, re.M | re.S)
    assert len(blocks) == 4
    (tmp_path / "extra.yaml").write_text("---\n".join(blocks), encoding="utf-8")
    report = check_rules(["default", tmp_path])
    assert report.ok, report.errors
    types = {c.id: c.type for c in report.ruleset.correlations}
    assert {types[i] for i in ("strike-spike", "feed-silent", "new-actor-at-place")} == {
        "spike",
        "flatline",
        "new_value",
    }
    assert types["many-outlets"] == "cardinality"


def test_throttled_matches_still_count_and_survive_a_restart(tmp_path):
    """Repeats the input rule's throttle folds still count toward a spike, and a restart (which
    rebuilds from the stored alerts) counts them too: each is stored on its own."""
    from monitor.alerting import AlertEvaluator
    from monitor.log import MemoryLog
    from monitor.rules import load_rules
    from tests.alerting.helpers import T0, aggregation_alerts

    ruleset(tmp_path, SPIKE_YAML.replace("threshold_cur: 3", "threshold_cur: 6"))
    strike = (tmp_path / "rules.yaml").read_text().replace("level: low", "level: low\nthrottle: 1d")
    (tmp_path / "rules.yaml").write_text(strike)
    rs = load_rules(tmp_path)
    items = [item(0, 0)] + [item(i, 1 + i / 100) for i in range(1, 7)]
    _, alerts = run(rs, items)
    assert [a.event_time for a in alerts] == [at(1.06)]
    log = MemoryLog()
    log.append_events(items[:6])  # the raised one, 3 sampled repeats, 2 more repeats
    AlertEvaluator(log, rs, clock=lambda: T0).run()
    log.append_events(items[6:])
    AlertEvaluator(log, rs, clock=lambda: T0).run()
    assert [a.alert_id for a in aggregation_alerts(log, rs)] == [alerts[0].alert_id]

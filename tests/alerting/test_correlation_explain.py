"""Explaining correlations: `rules explain` on a correlation rule (its tests, or the log),
`alerts show` on a correlation alert, and correlation test failures (each alert once, with
times and windows)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from monitor.alerting import AlertEvaluator
from monitor.cli import cli
from monitor.events import AlertRaised
from monitor.log import open_log
from tests.alerting.helpers import T0, item
from tests.rules.builders import rules as load

PACK = """\
id: strike
title: A strike
level: low
generate: false
detection:
  sel: {title: [strike]}
  condition: sel
---
id: direct
title: 3 items from 2 outlets
correlation:
  type: event_count
  rules: [strike]
  group-by: [place]
  timespan: 6h
  condition: {gte: 3}
  distinct: {field: source, gte: 2}
tests:
  - name: three from two
    items:
      - {at: 0h, title: Strike near Abu Kamal, source: a}
      - {at: 1h, title: Another strike near Abu Kamal, source: a}
      - {at: 2h, title: Third strike near Abu Kamal, source: b}
    alerts: [{rule: direct, place: place:abu-kamal}]
"""

#: The same test, expecting the wrong place: it fails.
WRONG = PACK.replace(
    "alerts: [{rule: direct, place: place:abu-kamal}]",
    "alerts: [{rule: direct, place: place:kobani}]",
)


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "rules"
    load(path, PACK)
    return path


def invoke(*args, db=None):
    prefix = ["--db", str(db)] if db else []
    return CliRunner().invoke(cli, [*prefix, *args], catch_exceptions=False)


@pytest.fixture
def db(tmp_path, folder):
    """An SQLite log holding three strikes from two outlets, evaluated by PACK."""
    path = tmp_path / "monitor.db"
    log = open_log(str(path))
    try:
        log.append_events(
            [
                item(1, 0, "Strike near Abu Kamal", source="a"),
                item(2, 1, "Another strike near Abu Kamal", source="a"),
                item(3, 2, "Third strike near Abu Kamal", source="b"),
            ]
        )
        AlertEvaluator(log, load(folder, PACK), clock=lambda: T0).run()
    finally:
        log.close()
    return path


def correlation_alert(db) -> AlertRaised:
    log = open_log(str(db), read_only=True)
    try:
        (alert,) = [e for _r, e in log.iter_events(types=("AlertRaised",)) if e.rule_id == "direct"]
        return alert
    finally:
        log.close()


def test_rules_explain_on_a_correlation_runs_its_tests(folder):
    """`rules explain CORR` shows each test's alerts: window, condition, every counted match
    with its item title, feed, time and evidence (matched again: strike has generate false)."""
    result = invoke("rules", "explain", "direct", "--rules", str(folder))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "test 'three from two': 1 alert(s)" in out
    assert "event_count matches >= 3; distinct source >= 2 within 6h" in out
    assert "window   2026-01-01T00:00:00Z .. 2026-01-01T02:00:00Z (2h)" in out
    assert out.count("(no alert of its own)") == 3
    assert "[test]  Third strike near Abu Kamal" in out
    assert "evidence title[0:6] 'Strike'" in out


def test_rules_explain_on_a_correlation_json(folder):
    """--json gives the same as data: window with timespan, contributors with items."""
    result = invoke("rules", "explain", "direct", "--rules", str(folder), "--json")
    data = json.loads(result.output)
    assert data["rule_id"] == "direct" and data["from"] == "tests"
    ((alert,),) = [run["alerts"] for run in data["runs"]]
    assert alert["window"]["timespan_seconds"] == 7200
    assert alert["window"]["rule_timespan_seconds"] == 6 * 3600
    titles = [c["items"][0]["title"] for c in alert["contributors"]]
    assert titles == [
        "Strike near Abu Kamal",
        "Another strike near Abu Kamal",
        "Third strike near Abu Kamal",
    ]
    assert all(c["evidence"] and c["raised"] is False for c in alert["contributors"])


def test_rules_explain_on_a_correlation_from_the_log(folder, db):
    """--log explains the rule's alerts stored in the log, with the stored items' feeds."""
    result = invoke("rules", "explain", "direct", "--rules", str(folder), "--log", db=db)
    assert result.exit_code == 0, result.output
    assert "in the log: 1 alert(s)" in result.output
    assert "[wire]  Strike near Abu Kamal" in result.output


def test_alerts_show_on_a_correlation_alert(folder, db):
    """`alerts show` on a correlation alert shows its window and the matches it counted."""
    alert = correlation_alert(db)
    result = invoke("alerts", "show", alert.alert_id[:10], "--rules", str(folder), db=db)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "window   2026-03-01T00:00:00Z .. 2026-03-01T02:00:00Z (2h)" in out
    assert "counted  3 match(es):" in out
    assert "Another strike near Abu Kamal" in out and "evidence title" in out


def test_alerts_show_json_on_a_correlation_alert(folder, db):
    """--json adds a `correlation` object: window, condition, contributors with items."""
    alert = correlation_alert(db)
    result = invoke("alerts", "show", alert.alert_id, "--json", "--rules", str(folder), db=db)
    body = json.loads(result.output)
    why = body["correlation"]
    assert why["window"]["start"] == "2026-03-01T00:00:00Z"
    assert [c["items"][0]["feed"] for c in why["contributors"]] == ["wire"] * 3
    assert why["condition"].startswith("event_count")


def test_a_failing_correlation_test_shows_each_alert_once_with_times(tmp_path):
    """A failing correlation test lists the expected alert not raised and the raised one,
    once each, with its time and window as offsets from the test start."""
    load(tmp_path / "wrong", WRONG)
    result = invoke("rules", "test", "--rules", str(tmp_path / "wrong"), "--rule", "direct")
    assert result.exit_code == 1
    out = result.output
    assert "expected alert not raised: {rule: direct, place: place:kobani}" in out
    raised = "unexpected alert raised: {rule: direct, group: place:abu-kamal} at 2h, window 0h..2h"
    assert raised in out
    assert out.count("place:abu-kamal") == 1

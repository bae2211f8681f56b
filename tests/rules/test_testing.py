"""run_rule_tests: embedded rule tests run like unit tests; correlation tests via a runner."""

from __future__ import annotations

from monitor.rules import TestResult, load_rules, run_rule_tests

from .builders import rule, write

PASSING = rule(
    "sel: {text: convoy}\ncondition: sel",
    "ok",
    "tests:\n  match: [A convoy moved., {title: Convoy}]\n  no_match: [Convoys moved.]\n",
)
FAILING = rule(
    "sel: {text: drone}\ncondition: sel",
    "bad",
    "tests:\n  match: [A drones swarm.]\n  no_match: [{title: Drone seen, summary: quiet}]\n",
)
CORRELATION = """\
id: pair
title: ok then bad
correlation: {type: temporal, rules: [ok, bad], timespan: 1h}
tests:
  - name: both within the hour
    items: [{at: 0h, title: convoy}, {at: 30m, title: drone}]
    alerts: [{rule: pair}]
"""


def _ruleset(tmp_path):
    write(tmp_path, PASSING + "---\n" + FAILING + "---\n" + CORRELATION)
    return load_rules(tmp_path)


def test_passes_and_failures_with_reasons(tmp_path):
    """Each case is a result; failures carry the item text and the evaluated condition."""
    report = run_rule_tests(_ruleset(tmp_path), correlation_runner=None)
    outcomes = {(r.rule_id, r.name): r.outcome for r in report.results}
    assert outcomes[("ok", "match[1]")] == "passed"
    assert outcomes[("ok", "match[2]")] == "passed"
    assert outcomes[("ok", "no_match[1]")] == "passed"
    assert outcomes[("bad", "match[1]")] == "failed"
    assert outcomes[("bad", "no_match[1]")] == "failed"
    assert (report.passed, report.failed, report.not_run, report.ok) == (3, 2, 1, False)
    first = report.failures()[0]
    assert first.text == "summary: A drones swarm."
    assert "expected a match, but the condition was false: sel=false -> false" in first.reason
    assert first.location.line == 15


def test_correlation_tests_not_run_without_runner(tmp_path):
    """With no runner, correlation tests are reported as not run, never as passed."""
    report = run_rule_tests(_ruleset(tmp_path), correlation_runner=None)
    [skipped] = [r for r in report.results if r.rule_id == "pair"]
    assert skipped.outcome == "not run" and "no correlation test runner" in skipped.reason


def test_a_given_correlation_runner_is_used(tmp_path):
    """The extension point: a runner callable gets the rule set and each correlation rule."""
    seen = []

    def runner(ruleset, correlation):
        seen.append(correlation.id)
        return [TestResult(correlation.id, t.name, "passed") for t in correlation.tests]

    report = run_rule_tests(_ruleset(tmp_path), correlation_runner=runner)
    assert seen == ["pair"]
    assert [r.outcome for r in report.results if r.rule_id == "pair"] == ["passed"]

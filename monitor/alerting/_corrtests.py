"""Correlation rule tests: timed items in, the correlation alerts that must (only) come out.

Each test is a dry run of the real pipeline, not a mock: its items go into a scratch
`MemoryLog` and the `AlertEvaluator` evaluates them with the whole rule set, so the detection
rules a correlation listens to really have to match the test texts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..events import AlertRaised, ItemReceived, item_id
from ..log import MemoryLog
from ..rules import TestResult, parse_duration
from ._evaluator import AlertEvaluator
from ._explain import CorrelationExplanation, explain_correlation

__all__ = ["TEST_EPOCH", "explain_correlation_tests", "run_correlation_tests"]


# --- correlation rule tests ------------------------------------------------------------------

#: Test items are placed at this time plus their ``at`` offset.
TEST_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_TEST_FIELDS = ("title", "summary", "content", "tags", "source", "url", "lang")


def _test_item(case_name: str, index: int, spec: Mapping[str, Any]) -> ItemReceived:
    published = TEST_EPOCH + timedelta(seconds=parse_duration(spec.get("at", 0)) or 0)
    feed = str(spec.get("feed") or "test")
    guid = f"{case_name}#{index}"
    author = spec.get("author")
    fields = {k: spec[k] for k in _TEST_FIELDS if spec.get(k) is not None}
    return ItemReceived(
        item_id=item_id(feed, guid=guid),
        feed_id=feed,
        guid=guid,
        received=published,
        published=published,
        authors=() if author is None else author,
        **fields,
    )


def _fits(alert: AlertRaised, expected: Mapping[str, Any], group_by: Sequence[str]) -> bool:
    if alert.rule_id != expected.get("rule"):
        return False
    parts = (alert.group_key or "").split("|")
    for key, value in expected.items():
        if key == "rule":
            continue
        if key in ("group", "group_key"):
            actual: Any = alert.group_key
        elif key in group_by and len(parts) == len(group_by):
            actual = parts[list(group_by).index(key)]
        elif key == "level":
            actual = alert.level
        else:
            actual = alert.labels.get(key, alert.facets.get(key))
        if str(actual) != str(value):
            return False
    return True


def _offset(when: datetime | None) -> str:
    """A time as its offset from the test epoch, as the tests write ``at``: 40h, 90m, 0h."""
    if when is None:
        return "?"
    seconds = int((when - TEST_EPOCH).total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    if seconds % 3600 == 0:
        return f"{sign}{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{sign}{seconds // 60}m"
    return f"{sign}{seconds}s"


def _describe(alert: AlertRaised) -> str:
    """An alert once, with its time and window as offsets from the test's start."""
    window = ""
    if alert.window_start is not None and alert.window_end is not None:
        window = f", window {_offset(alert.window_start)}..{_offset(alert.window_end)}"
    items = f", {len(alert.item_ids)} item{'s' if len(alert.item_ids) != 1 else ''}"
    return (
        f"{{rule: {alert.rule_id}, group: {alert.group_key or '-'}}} at "
        f"{_offset(alert.event_time)}{window}{items}"
    )


def _expected(expected: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in expected.items()) + "}"


def _evaluate(ruleset: Any, case: Any) -> tuple[MemoryLog, int]:
    """Run one test's items through the evaluator on a scratch log; return it and the count."""
    log = MemoryLog()
    items = [_test_item(case.name, i, spec) for i, spec in enumerate(case.items)]
    log.append_events(items)
    AlertEvaluator(log, ruleset, clock=lambda: TEST_EPOCH, name="test").run()
    return log, len(items)


def explain_correlation_tests(
    ruleset: Any, correlation: Any
) -> list[tuple[str, list[CorrelationExplanation]]]:
    """Run `correlation`'s tests and explain every alert it raises in each: (test name, the
    explanations of its alerts, in event-time order)."""
    out = []
    for case in correlation.tests:
        log, _n = _evaluate(ruleset, case)
        alerts = [
            evt
            for _r, evt in log.iter_events(types=("AlertRaised",))
            if isinstance(evt, AlertRaised) and evt.rule_id == correlation.id
        ]
        out.append((case.name, [explain_correlation(log, a, ruleset) for a in alerts]))
    return out


def run_correlation_tests(ruleset: Any, correlation: Any | None = None) -> list[Any]:
    """Dry-run correlation rule tests through the real evaluator on a scratch `MemoryLog`.

    Each test's items are published at `TEST_EPOCH` plus their ``at`` offset, evaluated by the
    whole rule set (so the detection rules the correlation listens to really match), and the
    correlation alerts raised are compared with the expected ``alerts``: each expected alert
    must be raised (matching ``rule`` and any of ``group``, a group-by key such as ``place``,
    ``level`` or a label), and the correlation may raise nothing else. Returns one
    `monitor.rules.TestResult` per test; `correlation` None runs every correlation's tests.
    """

    corrs = ruleset.correlations if correlation is None else (correlation,)
    results = []
    for corr in corrs:
        for case in corr.tests:
            log, count = _evaluate(ruleset, case)
            wanted = {corr.id} | {str(e.get("rule")) for e in case.alerts}
            raised = [
                evt
                for _r, evt in log.iter_events(types=("AlertRaised",))
                if isinstance(evt, AlertRaised) and evt.rule_id in wanted
            ]
            unmatched = list(raised)
            missing = []
            for expected in case.alerts:
                found = next((a for a in unmatched if _fits(a, expected, corr.group_by)), None)
                if found is None:
                    missing.append(expected)
                else:
                    unmatched.remove(found)
            extra = [a for a in unmatched if a.rule_id == corr.id]
            if not missing and not extra:
                results.append(TestResult(corr.id, case.name, "passed", location=case.location))
                continue
            # Each alert once: what was expected and not raised, what was raised and not
            # expected, and what was raised as expected, with times and windows.
            reasons = [f"expected alert not raised: {_expected(m)}" for m in missing]
            reasons += [f"unexpected alert raised: {_describe(a)}" for a in extra]
            reasons += [
                f"expected alert raised: {_describe(a)}"
                for a in raised
                if a not in unmatched and a.rule_id == corr.id
            ]
            results.append(
                TestResult(
                    corr.id,
                    case.name,
                    "failed",
                    f"{count} items, times from the test start",
                    "\n".join(reasons),
                    case.location,
                )
            )
    return results

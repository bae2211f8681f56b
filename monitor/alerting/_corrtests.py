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

__all__ = ["TEST_EPOCH", "run_correlation_tests"]


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


def _describe(alert: AlertRaised) -> str:
    return f"{{rule: {alert.rule_id}, group: {alert.group_key}}}"


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
            log = MemoryLog()
            items = [_test_item(case.name, i, spec) for i, spec in enumerate(case.items)]
            log.append_events(items)
            AlertEvaluator(log, ruleset, clock=lambda: TEST_EPOCH, name="test").run()
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
            reasons = [f"expected alert not raised: {m}" for m in missing]
            reasons += [f"unexpected alert raised: {_describe(a)}" for a in extra]
            got = ", ".join(_describe(a) for a in raised) or "none"
            results.append(
                TestResult(
                    corr.id,
                    case.name,
                    "failed",
                    f"{len(items)} items",
                    "; ".join(reasons) + f" (raised: {got})",
                    case.location,
                )
            )
    return results

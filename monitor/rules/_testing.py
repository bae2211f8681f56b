"""Run the ``tests`` embedded in rules, like a unit-test runner.

Detection tests (``match`` / ``no_match``) run here. Correlation tests need evaluation over
time, which is the alerting package's (``monitor.alerting``), above this one: `run_rule_tests`
runs them through the ``correlation_runner`` it is given (``monitor.alerting.run_tests`` passes
its own); without a runner, correlation tests are reported as "not run", never as passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from ..errors import SourceLocation
from ._model import CorrelationRule
from ._ruleset import RuleSet

__all__ = ["CorrelationRunner", "TestReport", "TestResult", "run_rule_tests"]


@attrs.frozen
class TestResult:
    """One test: which rule, which case, and (for a failure) why."""

    __test__ = False  # not a pytest class

    rule_id: str
    name: str
    outcome: str  # "passed" | "failed" | "not run"
    text: str = ""
    reason: str = ""
    location: SourceLocation | None = attrs.field(default=None, eq=False)


CorrelationRunner = Callable[[RuleSet, CorrelationRule], Iterable[TestResult]]


@attrs.frozen
class TestReport:
    """Every test result, with counts."""

    __test__ = False

    results: tuple[TestResult, ...]

    def _count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def passed(self) -> int:
        return self._count("passed")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def not_run(self) -> int:
        return self._count("not run")

    @property
    def ok(self) -> bool:
        """True when no test failed (tests not run do not fail the report)."""
        return self.failed == 0

    def failures(self) -> list[TestResult]:
        return [r for r in self.results if r.outcome == "failed"]


def _describe(item: dict[str, Any]) -> str:
    parts = [f"{k}: {item[k]}" for k in ("title", "summary", "content") if item.get(k)]
    parts += [f"{k}: {v}" for k, v in item.items() if k not in ("title", "summary", "content")]
    return " | ".join(str(p) for p in parts)


def run_rule_tests(
    ruleset: RuleSet, *, correlation_runner: CorrelationRunner | None = None
) -> TestReport:
    """Run every rule's ``match``/``no_match`` tests, and correlation tests when possible.

    Args:
        ruleset: the loaded rules.
        correlation_runner: runs one correlation rule's tests (``monitor.alerting.run_tests``
            passes the alerting package's); None reports them as "not run".
    """
    results: list[TestResult] = []
    for rule in ruleset.rules:
        counters = {True: 0, False: 0}
        for case in rule.tests:
            counters[case.expect_match] += 1
            name = f"{'match' if case.expect_match else 'no_match'}[{counters[case.expect_match]}]"
            matched = any(m.rule_id == rule.id for m in ruleset.match(case.item))
            if matched == case.expect_match:
                results.append(TestResult(rule.id, name, "passed", location=case.location))
                continue
            why = ruleset.explain(rule.id, case.item)
            reason = (
                f"expected a match, but the condition was false: {why.trace}"
                if case.expect_match
                else f"expected no match, but the condition held: {why.trace}"
            )
            details = [
                f"{s.name}: " + "; ".join(f"{f.key} {f.detail}" for f in s.fields)
                for s in why.selections
            ]
            results.append(
                TestResult(
                    rule.id,
                    name,
                    "failed",
                    _describe(case.item),
                    reason + "\n" + "\n".join(details),
                    case.location,
                )
            )
    runner = correlation_runner
    for corr in ruleset.correlations:
        if runner is None:
            results.extend(
                TestResult(
                    corr.id,
                    t.name,
                    "not run",
                    reason="no correlation test runner is available",
                    location=t.location,
                )
                for t in corr.tests
            )
        else:
            results.extend(runner(ruleset, corr))
    return TestReport(tuple(results))

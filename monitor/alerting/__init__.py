"""Alerting: rules evaluated over time, over the log.

`monitor.rules` answers "does this item match this rule?"; this package answers "should an
alert be raised now?": the `AlertEvaluator` (a checkpointed subscriber that turns matches into
`AlertRaised` events, throttles repeats and runs correlations), the `Correlator` (Sigma-style
correlation rules over event time), the `Aggregator` (spike, flatline, new_value and
cardinality rules, ElastAlert2's rule types), correlation rule tests, and `backtest` (a rule
set replayed over a stored history without touching it). Delivery of alerts to sinks is
`monitor.alerts`'s.
"""

from ..rules import RuleSet, TestReport, run_rule_tests
from ._aggregate import AggregateHit, Aggregator, aggregate_alert_id
from ._backtest import BacktestReport, RuleBacktest, backtest, backtest_rules
from ._correlate import Contribution, CorrelationHit, Correlator, Throttle, group_values
from ._corrtests import TEST_EPOCH, explain_correlation_tests, run_correlation_tests
from ._evaluator import (
    MAX_REPORTED_ALERTS,
    AlertEvaluator,
    EvaluationReport,
    detection_alert_id,
)
from ._explain import Contributor, CorrelationExplanation, explain_correlation
from ._scan_plan import Visit, match_ranges
from ._scratch import ScratchOutput

__all__ = [
    "MAX_REPORTED_ALERTS",
    "TEST_EPOCH",
    "AggregateHit",
    "Aggregator",
    "AlertEvaluator",
    "BacktestReport",
    "Contribution",
    "Contributor",
    "CorrelationExplanation",
    "CorrelationHit",
    "Correlator",
    "EvaluationReport",
    "RuleBacktest",
    "ScratchOutput",
    "Throttle",
    "Visit",
    "aggregate_alert_id",
    "backtest",
    "backtest_rules",
    "detection_alert_id",
    "explain_correlation",
    "explain_correlation_tests",
    "group_values",
    "match_ranges",
    "run_correlation_tests",
    "run_tests",
]


def run_tests(ruleset: RuleSet) -> TestReport:
    """Run every test embedded in `ruleset`: detection tests and correlation tests."""
    return run_rule_tests(ruleset, correlation_runner=run_correlation_tests)

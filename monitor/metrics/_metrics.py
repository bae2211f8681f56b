"""`WatchMetrics`: what a running watcher counts, on a registry of its own.

| metric | type | labels |
|---|---|---|
| ``monitor_feed_polls_total`` | counter | ``feed``, ``outcome`` (see `poll_outcome`) |
| ``monitor_items_stored_total`` | counter | ``feed`` |
| ``monitor_alerts_raised_total`` | counter | ``rule``, ``level`` |
| ``monitor_deliveries_total`` | counter | ``sink``, ``outcome`` (delivered, failed) |
| ``monitor_rule_evaluation_seconds`` | histogram | |
| ``monitor_feed_last_success_timestamp_seconds`` | gauge | ``feed`` |
| ``monitor_log_head`` | gauge (at scrape) | |
| ``monitor_subscriber_lag`` | gauge (at scrape) | ``kind``, ``subscriber`` |
| ``monitor_build_info`` | info | ``version``, ``python`` |

Revisions are not counted: the log has no event for a revised item yet.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..alerting import EvaluationReport
from ..feeds import PollReport
from ..log import EventLog

__all__ = ["WatchMetrics"]

_log = logging.getLogger(__name__)

# Evaluation passes run over the items of one poll: milliseconds usually, seconds for a big one.
_EVALUATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def _version() -> str:
    try:
        return version("news-monitor")
    except PackageNotFoundError:
        return "unknown"


def poll_outcome(report: PollReport) -> str:
    """The ``outcome`` label of a poll: ok, not_modified (304), degraded or failed."""
    if not report.ok:
        return "failed"
    if report.degraded:
        return "degraded"
    return "not_modified" if report.status == 304 else "ok"


class _LogCollector(Collector):
    """Reads the log's head and every checkpoint when scraped: the lag of each subscriber (a
    sink's ``deliver:<name>``, the rule evaluator, each projection) in records."""

    def __init__(self, log: EventLog) -> None:
        self.log = log

    def describe(self) -> list[Any]:
        return []  # nothing to read at registration; the families are built at scrape time

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            head = self.log.head()
            checkpoints = self.log.checkpoint_positions()
        except Exception as exc:  # the scrape still serves the other metrics; /healthz says why
            _log.warning("metrics: cannot read the log: %s", exc)
            return
        yield GaugeMetricFamily("monitor_log_head", "Position of the log's last record.", head)
        lag = GaugeMetricFamily(
            "monitor_subscriber_lag",
            "Records between the log's head and a subscriber's checkpoint.",
            labels=["kind", "subscriber"],
        )
        for kind, name, position in checkpoints:
            lag.add_metric([kind, name], max(0, head - position))
        yield lag


class WatchMetrics:
    """The watcher's metrics (see the module docstring) on their own `registry`.

    The `observe_*` methods are the hooks: each is a few counter operations, thread-safe, and
    never raises into the caller's path.
    """

    def __init__(
        self,
        log: EventLog | None = None,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=False)
        self._clock = clock
        r = self.registry
        self.polls = Counter(
            "monitor_feed_polls", "Feed polls by outcome.", ["feed", "outcome"], registry=r
        )
        self.items = Counter(
            "monitor_items_stored", "New items stored from feed polls.", ["feed"], registry=r
        )
        self.alerts = Counter(
            "monitor_alerts_raised",
            "Alerts raised by this watcher's rule evaluator.",
            ["rule", "level"],
            registry=r,
        )
        self.deliveries = Counter(
            "monitor_deliveries",
            "Alert deliveries to sinks, by outcome.",
            ["sink", "outcome"],
            registry=r,
        )
        self.evaluation = Histogram(
            "monitor_rule_evaluation_seconds",
            "Duration of a rule evaluation pass over new items.",
            buckets=_EVALUATION_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            "monitor_feed_last_success_timestamp_seconds",
            "Unix time of the last successful poll of a feed.",
            ["feed"],
            registry=r,
        )
        Info("monitor_build", "The running news-monitor.", registry=r).info(
            {"version": _version(), "python": platform.python_version()}
        )
        if log is not None:
            r.register(_LogCollector(log))

    def observe_poll(self, report: PollReport) -> None:
        """Count one poll, its new items and, when it succeeded, its time."""
        self.polls.labels(report.feed_id, poll_outcome(report)).inc()
        if report.new_items:
            self.items.labels(report.feed_id).inc(report.new_items)
        if report.ok:
            self.last_success.labels(report.feed_id).set(self._clock())

    def observe_evaluation(self, seconds: float, report: EvaluationReport) -> None:
        """Time one evaluation pass that saw items, and count the alerts it stored."""
        if report.items:
            self.evaluation.observe(seconds)
        for (rule_id, level), count in report.stored.items():
            self.alerts.labels(rule_id, level).inc(count)

    def observe_delivery(self, sink: str, ok: bool) -> None:
        """Count one delivery attempt to `sink`."""
        self.deliveries.labels(sink, "delivered" if ok else "failed").inc()

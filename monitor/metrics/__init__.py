"""Metrics and health of a running watcher, for Prometheus (`prometheus_client`).

`WatchMetrics` holds the counters, gauges and histogram on a registry of its own (never the
global default, so several can live in one process, as in tests) and a collector that reads the
log's head and checkpoints at scrape time. `Health` decides whether the watcher is healthy.
`MetricsServer` serves ``/metrics`` and ``/healthz`` over HTTP from a daemon thread.

This is an application layer beside `monitor.app`: the core (events, log, projections, rules)
knows nothing of it; the CLI wires it to the watcher through cheap hooks (a counter increment per
poll, alert and delivery; no I/O per item).
"""

from ._health import Health
from ._metrics import WatchMetrics
from ._server import MetricsServer, parse_address

__all__ = ["Health", "MetricsServer", "WatchMetrics", "parse_address"]

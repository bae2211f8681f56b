"""The watcher's metrics and health in process: counters from the hooks, the lag collector, a
real scrape of the HTTP endpoint, and /healthz's verdicts (log down or slow, feeds failing)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.alerting import EvaluationReport
from monitor.feeds import PollReport
from monitor.log import MemoryLog
from monitor.metrics import Health, MetricsServer, WatchMetrics, parse_address
from tests.alerts.test_sinks import make_alert


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def served():
    """A MetricsServer on a free loopback port over a memory log; yields (metrics, health, url)."""
    log = MemoryLog()
    metrics = WatchMetrics(log, clock=lambda: 1_700_000_000.0)
    health = Health(log, unhealthy_after=60, log_timeout=0.5, clock=lambda: 1_700_000_000.0)
    server = MetricsServer("127.0.0.1", 0, metrics.registry, health)
    server.start()
    host, port = server.address
    yield log, metrics, health, f"http://{host}:{port}"
    server.stop()
    health.close()


def test_scrape_shows_every_metric_from_the_hooks(served):
    """Polls, items, alerts, deliveries, evaluation time, last success, lag and build info
    appear in a scrape with their labels, parsed by prometheus_client's own parser."""
    log, metrics, _health, url = served
    log.append_events([make_alert(1), make_alert(2, rule="denial", level="low")])
    log.set_checkpoint("deliver:ops", 1)
    metrics.observe_poll(PollReport(feed_id="wire", ok=True, status=200, new_items=3))
    metrics.observe_poll(PollReport(feed_id="wire", ok=True, status=304))
    metrics.observe_poll(PollReport(feed_id="down", ok=False, status=500, error_kind="http_status"))
    evaluation = EvaluationReport(items=3)
    evaluation.add_stored([make_alert(1)])
    metrics.observe_evaluation(0.003, evaluation)
    metrics.observe_evaluation(0.0, EvaluationReport(items=0))
    metrics.observe_delivery("ops", True)
    metrics.observe_delivery("ops", False)
    status, body = _get(url + "/metrics")
    assert status == 200
    s = _samples(body.decode())
    assert s[("monitor_feed_polls_total", (("feed", "wire"), ("outcome", "ok")))] == 1
    assert s[("monitor_feed_polls_total", (("feed", "wire"), ("outcome", "not_modified")))] == 1
    assert s[("monitor_feed_polls_total", (("feed", "down"), ("outcome", "failed")))] == 1
    assert s[("monitor_items_stored_total", (("feed", "wire"),))] == 3
    assert s[("monitor_alerts_raised_total", (("level", "high"), ("rule", "movement")))] == 1
    assert s[("monitor_deliveries_total", (("outcome", "delivered"), ("sink", "ops")))] == 1
    assert s[("monitor_deliveries_total", (("outcome", "failed"), ("sink", "ops")))] == 1
    assert s[("monitor_rule_evaluation_seconds_count", ())] == 1, "empty passes are not timed"
    key = ("monitor_feed_last_success_timestamp_seconds", (("feed", "wire"),))
    assert s[key] == 1_700_000_000.0
    assert ("monitor_feed_last_success_timestamp_seconds", (("feed", "down"),)) not in s
    assert s[("monitor_log_head", ())] == 2
    lag = ("monitor_subscriber_lag", (("kind", "subscriber"), ("subscriber", "deliver:ops")))
    assert s[lag] == 1
    build = [k for k in s if k[0] == "monitor_build_info"]
    assert build and dict(build[0][1])["version"]


def test_two_metrics_objects_do_not_share_a_registry():
    """Each WatchMetrics has its own registry, so tests (and processes) can hold several."""
    a, b = WatchMetrics(), WatchMetrics()
    a.observe_delivery("x", True)
    labels = {"sink": "x", "outcome": "delivered"}
    assert a.registry.get_sample_value("monitor_deliveries_total", labels) == 1
    assert b.registry.get_sample_value("monitor_deliveries_total", labels) is None


def test_healthz_is_200_then_503_when_the_log_fails(served):
    """/healthz answers 200 with a JSON body, then 503 once log.head() raises."""
    log, _metrics, _health, url = served
    status, body = _get(url + "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"

    def broken() -> int:
        raise OSError("database is gone")

    log.head = broken  # type: ignore[method-assign]
    status, body = _get(url + "/healthz")
    assert status == 503
    data = json.loads(body)
    assert data["log"]["ok"] is False and "database is gone" in data["reasons"][0]
    status, _ = _get(url + "/metrics")
    assert status == 200, "metrics are still served when the log is down"


def test_health_times_out_on_a_log_that_hangs():
    """A head() that blocks makes the check unhealthy after log_timeout, not never."""
    log = MemoryLog()
    release = threading.Event()
    log.head = lambda: release.wait(10) and 0  # type: ignore[method-assign,assignment]
    health = Health(log, log_timeout=0.2)
    ok, body = health.check()
    release.set()
    health.close()
    assert not ok and "did not answer" in body["reasons"][0]


def test_health_fails_only_when_every_feed_fails_past_the_threshold():
    """One failing feed is fine; all failing for under the threshold is fine; all failing for
    longer is 503; one recovery makes it healthy again."""
    now = [1000.0]
    health = Health(MemoryLog(), unhealthy_after=60, clock=lambda: now[0])
    health.observe_poll(PollReport(feed_id="a", ok=True))
    health.observe_poll(PollReport(feed_id="b", ok=False))
    now[0] += 120
    assert health.check()[0]
    health.observe_poll(PollReport(feed_id="a", ok=False))
    assert health.check()[0], "a has failed for under a minute"
    now[0] += 61
    ok, body = health.check()
    assert not ok and body["feeds"] == {"polled": 2, "failing": 2}
    health.observe_poll(PollReport(feed_id="b", ok=True))
    assert health.check()[0]
    health.close()


def test_parse_address():
    """HOST:PORT, with IPv6 in brackets; anything else is refused with the expected form."""
    assert parse_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_address("[::1]:9464") == ("::1", 9464)
    for bad in ("9464", "localhost", "host:port", ":9464", "h:70000"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_address(bad)

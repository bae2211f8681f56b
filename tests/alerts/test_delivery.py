"""Delivery: per-sink checkpoints, at-least-once, retries with backoff, nothing lost."""

from __future__ import annotations

import json
import threading

from werkzeug import Response

from monitor.alerts import (
    Backoff,
    CallbackSink,
    Delivery,
    JsonlSettings,
    JsonlSink,
    WebhookSettings,
    WebhookSink,
)
from monitor.events import AlertSuppressed
from monitor.log import MemoryLog
from tests.alerts.test_sinks import make_alert


def alerts_log(n: int) -> MemoryLog:
    """A log with `n` alerts and, between them, suppressed repeats that must not be delivered."""
    log = MemoryLog()
    for i in range(1, n + 1):
        alert = make_alert(i, level="high" if i % 2 else "low")
        log.append_events(
            [
                alert,
                AlertSuppressed(
                    alert_id=f"rep{i}",
                    folded_into=alert.alert_id,
                    rule_id="movement",
                    event_time=alert.event_time,
                ),
            ]
        )
    return log


def test_webhook_down_then_up_loses_nothing_and_does_not_block_others(httpserver, clock, tmp_path):
    """A webhook failing for a while gets every alert in order once it recovers; the jsonl
    sink receives all of them meanwhile; suppressed repeats go nowhere."""
    down = {"on": True}
    bodies: list[dict] = []

    def handler(request):
        if down["on"]:
            return Response("unavailable", 503)
        bodies.append(json.loads(request.get_data()))
        return Response("ok", 200)

    httpserver.expect_request("/hook").respond_with_handler(handler)
    log = alerts_log(5)
    webhook = WebhookSink(
        WebhookSettings(name="hook", url=httpserver.url_for("/hook"), retries=1),
        sleep=lambda _s: None,
    )
    path = tmp_path / "a.jsonl"
    jsonl = JsonlSink(JsonlSettings(name="file", path=str(path)))
    delivery = Delivery(log, [webhook, jsonl], clock=clock, backoff=Backoff(base=10, cap=60))

    assert delivery.run().delivered == 5  # all to the file, none to the hook
    hook_state, file_state = delivery.status()
    assert hook_state.failures == 1 and "HTTP 503" in hook_state.last_error
    # The checkpoint moves over the last record too, though it is not an alert: all was read.
    assert file_state.delivered == 5 and file_state.position == log.head()

    delivery.run()  # before the backoff has passed: the hook is not even tried
    assert len(httpserver.log) == 1
    clock.advance(seconds=11)
    delivery.run()  # still down: second failure, backoff doubles
    assert delivery.status()[0].failures == 2
    assert (delivery.status()[0].next_attempt - clock()).total_seconds() == 20

    log.append_events([make_alert(6)])  # more alerts arrive while the hook is down
    assert delivery.run().delivered == 1
    down["on"] = False
    clock.advance(seconds=21)
    assert delivery.run().delivered == 6
    assert [b["data"]["alert_id"] for b in bodies] == [f"alert{i:04d}" for i in range(1, 7)]
    assert delivery.status()[0].failures == 0
    lines = [json.loads(x)["alert_id"] for x in path.read_text().splitlines()]
    assert lines == [f"alert{i:04d}" for i in range(1, 7)]
    assert log.get_checkpoint("deliver:hook") == log.get_checkpoint("deliver:file") == log.head()


def test_restart_resumes_from_each_sink_checkpoint(clock):
    """A new Delivery over the same log delivers only what its sinks have not received."""
    log = alerts_log(3)
    got: list[str] = []
    Delivery(log, [CallbackSink(lambda a: got.append(a.alert_id))], clock=clock).run()
    log.append_events([make_alert(4)])
    Delivery(log, [CallbackSink(lambda a: got.append(a.alert_id))], clock=clock).run()
    assert got == ["alert0001", "alert0002", "alert0003", "alert0004"]


def test_failure_mid_page_keeps_earlier_deliveries(clock):
    """A callback failing on the third alert: the first two are checkpointed, the third retried."""
    log = alerts_log(4)
    got: list[str] = []
    fail = {"id": "alert0003"}

    def callback(alert):
        if alert.alert_id == fail["id"]:
            raise ConnectionError("receiver down")
        got.append(alert.alert_id)

    delivery = Delivery(log, [CallbackSink(callback)], clock=clock, backoff=Backoff(base=1))
    assert delivery.run().delivered == 2
    assert log.get_checkpoint("deliver:callback") == 3  # alert 2 is at position 3
    fail["id"] = None
    clock.advance(seconds=2)
    delivery.run()
    assert got == ["alert0001", "alert0002", "alert0003", "alert0004"]


def test_sink_filters_skip_but_advance(clock, tmp_path):
    """min_level and rules filters skip alerts without blocking the checkpoint."""
    log = alerts_log(4)
    got: list[str] = []
    sink = CallbackSink(lambda a: got.append(a.alert_id), min_level="high")
    delivery = Delivery(log, [sink], clock=clock)
    delivery.run()
    assert got == ["alert0001", "alert0003"]
    assert delivery.status()[0].skipped == 2
    assert log.get_checkpoint("deliver:callback") == log.head()  # over the last record too


def test_records_after_the_last_alert_are_read_once(clock):
    """Delivery reads only alerts, but it moves over everything it has read: a quiet rule
    pack's items since the last alert are not scanned again at every run (that made each
    poll cost as much as the whole day's items), and an alert that comes later is delivered."""
    log = alerts_log(1)
    got: list[str] = []
    delivery = Delivery(log, [CallbackSink(lambda a: got.append(a.alert_id))], clock=clock)
    starts: list[int] = []
    read_page = log.read_page

    def counting_read_page(after, limit, types=None):
        starts.append(after)
        return read_page(after, limit, types)

    log.read_page = counting_read_page  # type: ignore[method-assign]
    quiet = [
        AlertSuppressed(alert_id=f"quiet{i}", folded_into="alert0001", rule_id="movement",
                        event_time=make_alert(1).event_time)
        for i in range(50)
    ]  # fmt: skip
    log.append_events(quiet[:25])
    delivery.run()
    assert log.get_checkpoint("deliver:callback") == log.head() == 27
    log.append_events(quiet[25:])
    before = len(starts)
    delivery.run()
    assert log.get_checkpoint("deliver:callback") == log.head() == 52
    # One read, from where the last run stopped (27, the head then), not from the alert at
    # position 1 with every record since to pass over again.
    assert starts[before:] == [27] and got == ["alert0001"]

    log.append_events([make_alert(2)])
    delivery.run()
    assert got == ["alert0001", "alert0002"]


def test_run_forever_delivers_new_alerts_until_stopped(clock):
    """run_forever follows the log in a thread per sink and stops when asked."""
    log = MemoryLog()
    got: list[str] = []
    arrived = threading.Event()

    def callback(alert):
        got.append(alert.alert_id)
        if len(got) == 2:
            arrived.set()

    delivery = Delivery(log, [CallbackSink(callback)], clock=clock)
    stop = threading.Event()
    thread = threading.Thread(
        target=delivery.run_forever, args=(stop,), kwargs={"poll_interval": 0.05}
    )
    thread.start()
    try:
        log.append_events([make_alert(1)])
        log.append_events([make_alert(2)])
        assert arrived.wait(10)
    finally:
        stop.set()
        thread.join(10)
    assert got == ["alert0001", "alert0002"] and not thread.is_alive()

"""Notification grouping (a sink's group: {by, wait, interval}) and resolved notices: one digest
per group within the wait, the next after the interval, nothing lost across a restart, and a
digest sent again when a crash comes between sending it and moving the checkpoint."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug import Request, Response

from monitor.alerts import (
    ConsoleSettings,
    ConsoleSink,
    Delivery,
    JsonlSettings,
    JsonlSink,
    WebhookSettings,
    WebhookSink,
    load_sinks,
)
from monitor.errors import ConfigError
from monitor.events import AlertRaised, AlertSuperseded, SilenceCreated, parse_matcher
from monitor.log import MemoryLog

GROUP = {"by": ["rule", "place"], "wait": "30s", "interval": "5m"}


class Clock:
    """A delivery clock that starts at the wall clock (records carry wall-clock times) and
    moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def alert(n: int, *, rule: str = "movement", place: str = "al-tanf") -> AlertRaised:
    """Alert `n` of `rule` about `place`."""
    return AlertRaised(
        alert_id=f"a{n:03d}",
        rule_id=rule,
        level="high",
        title=f"Alert {n}",
        entities=(f"place:{place}",),
        event_time=datetime(2026, 3, 1, 9, n, tzinfo=UTC),
    )


@pytest.fixture
def posts(httpserver):
    """The JSON bodies (and webhook ids) POSTed to a local webhook."""
    received: list[tuple[str, dict]] = []

    def handler(request: Request) -> Response:
        received.append((request.headers["webhook-id"], json.loads(request.get_data())))
        return Response("ok", 200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    return received


def webhook(httpserver) -> WebhookSink:
    """A webhook sink grouping by rule and place."""
    url = httpserver.url_for("/hook")
    return WebhookSink(WebhookSettings(name="ops", url=url, group=GROUP, retries=1))


def ids(payload: dict) -> list[str]:
    """The alert ids of a digest payload."""
    return [a["alert_id"] for a in payload["data"]["alerts"]]


def test_alerts_within_the_wait_go_out_as_one_digest(httpserver, posts):
    """Three alerts of one group are held during the wait, then POSTed as one digest; the
    checkpoint stays before them until then."""
    log, clock = MemoryLog(), Clock()
    log.append_events([alert(1), alert(2), alert(3)])
    sink = webhook(httpserver)
    delivery = Delivery(log, [sink], clock=clock)
    assert delivery.run().delivered == 0 and posts == []
    assert delivery.status()[0].held == 3 and log.get_checkpoint("deliver:ops") == 0
    clock.advance(40)
    assert delivery.run().delivered == 3
    ((msg_id, payload),) = posts
    assert payload["type"] == "alert.digest" and ids(payload) == ["a001", "a002", "a003"]
    assert payload["data"]["group"] == {"rule": "movement", "place": "al-tanf"}
    assert msg_id == payload["data"]["digest_id"]
    assert log.get_checkpoint("deliver:ops") == 3


def test_two_groups_give_two_digests(httpserver, posts):
    """Alerts of two rules (or two places) make one digest each."""
    log, clock = MemoryLog(), Clock()
    log.append_events([alert(1), alert(2, rule="shelling"), alert(3), alert(4, place="palmyra")])
    delivery = Delivery(log, [webhook(httpserver)], clock=clock)
    delivery.run()
    clock.advance(40)
    delivery.run()
    assert sorted(ids(p) for _, p in posts) == [["a001", "a003"], ["a002"], ["a004"]]


def test_later_alerts_wait_for_the_interval(httpserver, posts):
    """After a digest, an alert of the same group waits until the interval has passed since
    it, then goes out in the next digest."""
    log, clock = MemoryLog(), Clock()
    log.append_events([alert(1)])
    delivery = Delivery(log, [webhook(httpserver)], clock=clock)
    clock.advance(40)
    delivery.run()
    log.append_events([alert(2)])
    clock.advance(60)
    delivery.run()
    assert len(posts) == 1
    clock.advance(250)  # 300s after the first digest
    delivery.run()
    assert [ids(p) for _, p in posts] == [["a001"], ["a002"]]


def test_a_restart_while_alerts_wait_loses_none(httpserver, posts):
    """A delivery stopped while alerts wait in a group: the next process finds them from the
    checkpoint and sends them once the wait (counted from when they were raised) is over."""
    log, clock = MemoryLog(), Clock()
    log.append_events([alert(1), alert(2)])
    Delivery(log, [webhook(httpserver)], clock=clock).run()
    clock.advance(40)
    Delivery(log, [webhook(httpserver)], clock=clock).run()
    assert [ids(p) for _, p in posts] == [["a001", "a002"]]


def test_a_crash_between_send_and_checkpoint_resends_the_digest(httpserver, posts):
    """The digest went out but the checkpoint did not move (a crash): the next process sends
    the same digest again, with the same digest id (at-least-once)."""
    log, clock = MemoryLog(), Clock()
    log.append_events([alert(1), alert(2)])
    delivery = Delivery(log, [webhook(httpserver)], clock=clock)
    delivery.run()
    clock.advance(40)
    delivery.run()
    log.set_checkpoint("deliver:ops", 0)  # the commit that the crash prevented
    Delivery(log, [webhook(httpserver)], clock=clock).run()
    assert len(posts) == 2 and posts[0] == posts[1]


def test_console_digest_is_one_record(tmp_path):
    """The console writes a digest in one write: a header, then a line per alert; a JSON
    lines file gets one object listing them."""
    log, clock = MemoryLog(), Clock()
    log.append_events([alert(1), alert(2)])
    writes: list[str] = []
    console = ConsoleSink(ConsoleSettings(name="screen", group=GROUP), write=writes.append)
    path = tmp_path / "a.jsonl"
    jsonl = JsonlSink(JsonlSettings(name="file", path=str(path), group=GROUP))
    delivery = Delivery(log, [console, jsonl], clock=clock)
    clock.advance(40)
    delivery.run()
    (text,) = writes
    assert text.startswith("DIGEST 2 alert(s) rule=movement place=al-tanf")
    assert len(text.splitlines()) == 3
    (record,) = [json.loads(x) for x in path.read_text().splitlines()]
    assert record["type"] == "alert.digest" and record["count"] == 2


def superseded(n: int) -> AlertSuperseded:
    """Alert `n`'s item was revised and no longer matches."""
    return AlertSuperseded(
        alert_id=f"a{n:03d}",
        rule_id="movement",
        item_id=f"item{n}",
        revision=2,
        content_hash="h2",
        event_time=datetime(2026, 3, 1, 10, tzinfo=UTC),
    )


def test_resolved_notice_only_for_delivered_alerts(tmp_path):
    """send_resolved: a superseded alert the sink received gets a resolved notice; a sink
    without send_resolved gets none, and neither does a silenced alert."""
    now = datetime.now(UTC)
    log = MemoryLog()
    log.append_events([alert(1)])
    log.append_events(
        [
            SilenceCreated(
                silence_id="s",
                matchers=[parse_matcher("place=palmyra")],
                starts=now - timedelta(hours=1),
                ends=now + timedelta(hours=1),
                created_at=now,
            )
        ]
    )
    log.append_events([alert(2, place="palmyra"), superseded(1), superseded(2)])
    on = JsonlSink(JsonlSettings(name="on", path=str(tmp_path / "on"), send_resolved=True))
    off = JsonlSink(JsonlSettings(name="off", path=str(tmp_path / "off")))
    Delivery(log, [on, off], clock=lambda: now).run()
    got = [json.loads(x) for x in (tmp_path / "on").read_text().splitlines()]
    assert [(r["type"], r["alert_id"]) for r in got] == [
        ("AlertRaised", "a001"),
        ("alert.resolved", "a001"),
    ]
    assert len((tmp_path / "off").read_text().splitlines()) == 1


def test_an_alert_superseded_while_it_waits_leaves_the_digest(httpserver, posts):
    """An alert superseded before its group's digest is due is not sent at all."""
    log, clock = MemoryLog(), Clock()
    log.append_events([alert(1), alert(2), superseded(1)])
    delivery = Delivery(log, [webhook(httpserver)], clock=clock)
    delivery.run()
    clock.advance(40)
    delivery.run()
    assert [ids(p) for _, p in posts] == [["a002"]]


def test_group_settings_in_a_sinks_file(tmp_path):
    """group: is read from the sinks file; an unknown key or setting is a ConfigError at the
    group line."""
    good = tmp_path / "good.yaml"
    good.write_text(
        "sinks:\n  - {name: f, type: jsonl, path: a.jsonl, send_resolved: true,\n"
        "     group: {by: [rule, place], wait: 1m, interval: 10m}}\n"
    )
    (sink,) = load_sinks(good)
    assert sink.settings.group.by == ("rule", "place") and sink.settings.group.wait == 60
    bad = tmp_path / "bad.yaml"
    bad.write_text("sinks:\n  - name: f\n    type: jsonl\n    path: a\n    group: {by: [plac]}\n")
    with pytest.raises(ConfigError, match="unknown match key 'plac'") as exc:
        load_sinks(bad)
    assert exc.value.source.line == 5
    bad.write_text("sinks:\n  - name: f\n    type: jsonl\n    path: a\n    group: {every: 1m}\n")
    with pytest.raises(ConfigError, match="no setting 'every'"):
        load_sinks(bad)

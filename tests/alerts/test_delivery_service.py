"""Delivery beside a running process: `DeliveryService` (threads per sink, reload, bounded
draining shutdown, restart without repeats), `ItemLookup`, the console line and the e-mail Date."""

from __future__ import annotations

import email
import threading
import time
from datetime import UTC, datetime

from monitor.alerts import (
    CallbackSink,
    DeliveryContext,
    DeliveryService,
    EmailSettings,
    EmailSink,
    ItemLookup,
    ItemRef,
    JsonlSettings,
    JsonlSink,
    alert_line,
)
from monitor.log import MemoryLog
from tests.alerts.test_sinks import NOW, make_alert
from tests.conftest import make_item
from tests.feeds.conftest import wait_until


def _clock() -> datetime:
    return datetime.now(UTC)


def _alert_for(item, n: int):
    """An alert about `item` (as the evaluator would append it after the item)."""
    alert = make_alert(n)
    return type(alert)(**{**_fields(alert), "item_ids": (item.item_id,)})


def _fields(alert) -> dict:
    import attrs

    return {f.name: getattr(alert, f.name) for f in attrs.fields(type(alert))}


def _recorder(got: list[str], name: str) -> CallbackSink:
    return CallbackSink(lambda a: got.append(a.alert_id), name=name)


def test_service_delivers_as_the_log_grows_and_drains_on_shutdown():
    """Alerts appended while the service runs reach every sink; shutdown delivers the rest."""
    log = MemoryLog()
    got_a: list[str] = []
    got_b: list[str] = []
    service = DeliveryService(
        log, [_recorder(got_a, "a"), _recorder(got_b, "b")], clock=_clock, poll_interval=0.05
    )
    service.start()
    log.append_events([make_alert(n) for n in range(1, 4)])
    assert wait_until(lambda: len(got_a) == len(got_b) == 3, 5)
    log.append_events([make_alert(n) for n in range(4, 8)])
    assert service.shutdown(5)
    assert got_a == got_b == [f"alert{n:04d}" for n in range(1, 8)]
    assert log.get_checkpoint("deliver:a") == log.head()


def test_restart_continues_from_the_checkpoint_without_repeats():
    """A second service over the same log delivers only what the first did not."""
    log = MemoryLog()
    got: list[str] = []
    first = DeliveryService(log, [_recorder(got, "s")], clock=_clock, poll_interval=0.05)
    first.start()
    log.append_events([make_alert(n) for n in range(1, 4)])
    assert first.shutdown(5)
    log.append_events([make_alert(n) for n in range(4, 6)])
    second = DeliveryService(log, [_recorder(got, "s")], clock=_clock, poll_interval=0.05)
    second.start()
    assert second.shutdown(5)
    assert got == [f"alert{n:04d}" for n in range(1, 6)]


def test_replace_keeps_unchanged_sinks_and_starts_new_ones_from_the_start(tmp_path):
    """A reload leaves an unchanged sink running (same instance), and a new sink receives
    every alert in the log; a changed sink resumes from its checkpoint."""
    log = MemoryLog()
    path = tmp_path / "a.jsonl"
    keep = JsonlSink(JsonlSettings(name="keep", path=str(path)))
    service = DeliveryService(log, [keep], clock=_clock, poll_interval=0.05)
    service.start()
    log.append_events([make_alert(n) for n in range(1, 3)])
    assert wait_until(lambda: log.get_checkpoint("deliver:keep") == log.head(), 5)
    got: list[str] = []
    twin = JsonlSink(JsonlSettings(name="keep", path=str(path)))
    assert service.replace([twin, _recorder(got, "new")]) == (1, 0, 0)
    assert service.sinks[0] is keep
    assert wait_until(lambda: len(got) == 2, 5)
    changed = JsonlSink(JsonlSettings(name="keep", path=str(path), fsync=True))
    assert service.replace([changed, _recorder(got, "new")])[2] == 1
    log.append_events([make_alert(3)])
    assert service.shutdown(5)
    lines = path.read_text().splitlines()
    assert len(lines) == 3, "the changed sink resumed from its checkpoint, repeating nothing"


def test_shutdown_is_bounded_and_keeps_the_checkpoint_exact():
    """A slow sink stops within the bound, its checkpoint at the last alert it delivered, so
    the next run delivers the rest and repeats nothing."""
    log = MemoryLog()
    log.append_events([make_alert(n) for n in range(1, 41)])
    got: list[str] = []

    def slow(alert):
        time.sleep(0.05)
        got.append(alert.alert_id)

    service = DeliveryService(log, [CallbackSink(slow, name="slow")], clock=_clock)
    service.start()
    assert wait_until(lambda: len(got) >= 3, 5)
    started = time.monotonic()
    assert service.shutdown(0.2)
    assert time.monotonic() - started < 3
    assert len(got) < 40
    position = log.get_checkpoint("deliver:slow")
    assert position == len(got), "the checkpoint is at the last alert delivered"
    rest: list[str] = []
    again = DeliveryService(log, [_recorder(rest, "slow")], clock=_clock)
    again.start()
    assert again.shutdown(5)
    assert got + rest == [f"alert{n:04d}" for n in range(1, 41)]


def test_delivery_hook_counts_successes_and_failures():
    """on_result hears (sink, True) per delivery and (sink, False) per failed attempt."""
    log = MemoryLog()
    log.append_events([make_alert(1)])
    seen: list[tuple[str, bool]] = []

    def broken(_alert):
        raise RuntimeError("down")

    service = DeliveryService(
        log,
        [CallbackSink(broken, name="bad"), _recorder([], "good")],
        clock=_clock,
        on_result=lambda name, ok: seen.append((name, ok)),
    )
    service.start()
    assert wait_until(lambda: ("good", True) in seen and ("bad", False) in seen, 5)
    assert service.shutdown(2)
    assert log.get_checkpoint("deliver:bad") == 0, "a failed alert is not skipped"


def test_item_lookup_finds_recent_and_older_items_and_gives_up_beyond_its_bound():
    """The item just before an alert is found in one read; an older one by widening; one
    beyond max_scan is not looked for."""
    log = MemoryLog()
    old = make_item(1, title="Old convoy report", url="https://wire.example/1")
    log.append_events([old])
    log.append_events([make_item(n) for n in range(2, 60)])
    recent = make_item(60, title="Recent convoy", url="https://wire.example/60")
    log.append_events([recent])
    position = log.head() + 1
    lookup = ItemLookup(log, window=10, max_scan=100)
    assert lookup.find(_alert_for(recent, 1), position) == ItemRef(
        "Recent convoy", "https://wire.example/60"
    )
    assert lookup.find(_alert_for(old, 2), position).title == "Old convoy report"
    narrow = ItemLookup(log, window=10, max_scan=20)
    assert narrow.find(_alert_for(old, 2), position) is None


def test_alert_line_shows_time_level_rule_place_headline_and_link():
    """The console line: time, level, rule, place, headline, link; feed text cannot break it."""
    alert = make_alert()
    item = ItemRef("US convoy seen\nnear \x1b[31mAbu Kamal", "https://wire.example/a")
    assert alert_line(alert, item) == (
        "2026-03-01T09:01:00Z HIGH     movement place:abu-kamal "
        "US convoy seen near [31mAbu Kamal <https://wire.example/a>"
    )
    unsafe = ItemRef("Headline", "javascript:alert(1)")
    assert alert_line(alert, unsafe).endswith("place:abu-kamal Headline")
    assert alert_line(alert).endswith("place:abu-kamal Troop or convoy movement")


def test_email_has_a_utc_date_header_and_the_headline():
    """The e-mail carries Date (RFC 5322, UTC, from the delivery clock) and the item line."""
    sink = EmailSink(EmailSettings(name="m", host="smtp.example", sender="a@x", to=["b@x"]))
    item = ItemRef("US convoy seen near Abu Kamal", "https://wire.example/a")
    msg = sink.message(make_alert(), now=NOW, item=item)
    assert msg["Date"] == "Sun, 01 Mar 2026 12:00:00 +0000"
    assert email.utils.parsedate_to_datetime(msg["Date"]) == NOW
    assert "US convoy seen near Abu Kamal <https://wire.example/a>" in msg.get_content()
    assert sink.message(make_alert())["Date"].endswith("+0000")


def test_console_sink_gets_the_item_from_delivery():
    """Delivered through the service, the console line carries the item's headline."""
    from monitor.alerts import ConsoleSettings, ConsoleSink

    log = MemoryLog()
    item = make_item(1, title="Convoy crosses at al-Qaim", url="https://wire.example/q")
    log.append_events([item])
    log.append_events([_alert_for(item, 1)])
    lines: list[str] = []
    done = threading.Event()

    def write(line: str) -> None:
        lines.append(line)
        done.set()

    sink = ConsoleSink(ConsoleSettings(name="screen"), write=write)
    service = DeliveryService(log, [sink], clock=_clock)
    service.start()
    assert done.wait(5)
    service.shutdown(2)
    assert lines[0].endswith("Convoy crosses at al-Qaim <https://wire.example/q>")
    assert DeliveryContext(1, 1, NOW).item is None


def test_ingest_with_sinks_delivers_each_alert_once_across_runs(tmp_path):
    """`monitor ingest --sinks` delivers the alerts it raised; a second ingest of more items
    delivers only the new alerts, so the file holds each alert of the log once."""
    import json

    from click.testing import CliRunner

    from monitor.cli import cli
    from monitor.log import open_log
    from tests.alerts.conftest import RULEPACK

    archive = tmp_path / "alerts.jsonl"
    sinks = tmp_path / "sinks.yaml"
    sinks.write_text(f"sinks:\n  - {{name: archive, type: jsonl, path: '{archive}'}}\n")
    db = tmp_path / "m.db"
    for batch in (range(3), range(3, 6)):
        items = tmp_path / f"items{batch.start}.jsonl"
        items.write_text(
            "".join(
                json.dumps({"id": f"i{n}", "title": f"Convoy {n} seen", "feed": "w"}) + "\n"
                for n in batch
            )
        )
        args = ["--db", str(db), "ingest", str(items), "--rules", str(RULEPACK)]
        result = CliRunner().invoke(cli, [*args, "--sinks", str(sinks), "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output.strip().splitlines()[-1])
        assert summary["delivered"] == len(summary["alerts"]) > 0
    with open_log(db) as log:
        logged = [e.alert_id for _, e in log.iter_events(types=["AlertRaised"])]
    delivered = [json.loads(line)["alert_id"] for line in archive.read_text().splitlines()]
    assert delivered == logged

"""The console's parts on their own: the shared charts, the review projection, the new events,
the live broadcaster, bidi neutralising, the token, and the serve command's option parsing."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import click
import pytest
from markupsafe import Markup

from monitor.alerts import daily_chart
from monitor.cli._serve_cmds import is_loopback, parse_bind, read_token
from monitor.console import OVERFLOW, AlertReview, Broadcaster, neutralise, precision, token_matches
from monitor.errors import ConfigError
from monitor.events import AlertAcknowledged, AlertFeedback, AlertRaised, decode, encode
from monitor.log import MemoryLog
from monitor.projections import ProjectionRunner

D0 = date(2026, 3, 1)
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _bars(svg: str) -> dict[str, list[float]]:
    """Bar heights by row name, read from the tooltips."""
    out: dict[str, list[float]] = {}
    for height, name in re.findall(r'height="([\d.]+)"><title>([^:]+):', svg):
        out.setdefault(name, []).append(float(height))
    return out


class TestDailyChart:
    def test_rows_share_one_scale(self):
        """One alert is half as tall as two, whatever row each is in (the report used to scale
        each row to its own maximum)."""
        svg = daily_chart({"a": Counter({D0: 1}), "b": Counter({D0: 2})})
        bars = _bars(svg)
        assert bars["a"][0] * 2 == pytest.approx(bars["b"][0])
        assert "One scale for every row: a full bar is 2 alerts per day" in svg

    def test_axes_dates_and_a_viewbox_without_fixed_size(self):
        svg = daily_chart({"r": Counter({D0: 1, D0 + timedelta(days=20): 3})}, css_class="rules")
        assert svg.startswith('<svg class="chart rules"') and 'viewBox="0 0 520 ' in svg
        assert not re.search(r"<svg[^>]* (width|height)=", svg)
        ticks = re.findall(r'class="tick"[^>]*>([^<]+)</text>', svg)
        assert ticks[0] == "1 Mar" and ticks[-1] == "21 Mar" and len(ticks) >= 4
        assert ">1 Mar 2026 – 21 Mar 2026<" in svg
        assert svg.count('class="axis"') >= 4  # x axis, ticks, a baseline and y axis per row

    def test_names_are_escaped_and_the_tail_summed(self):
        series = {f"<b>r{i}</b>": Counter({D0: i + 1}) for i in range(15)}
        svg = daily_chart(series)
        assert "<b>" not in svg and "&lt;b&gt;r14&lt;/b&gt;" in svg
        assert "4 others" in svg  # 12 rows: 11 series and the 4 smallest summed

    def test_long_periods_are_bucketed(self):
        svg = daily_chart({"r": Counter({D0: 1, D0 + timedelta(days=364): 1})})
        assert "per 4 days" in svg and svg.count('class="bar"') == 2

    def test_nothing_to_draw(self):
        assert daily_chart({}) == "<p class='empty'>No alerts in this period.</p>"
        assert "<svg" not in daily_chart({"r": Counter()})


def _alert(n: int, rule: str = "movement") -> AlertRaised:
    return AlertRaised(alert_id=f"a{n}", rule_id=rule, event_time=T0, item_ids=[f"i{n}"])


def _feedback(n: int, alert: int, verdict: str, rule: str = "movement") -> AlertFeedback:
    return AlertFeedback(
        feedback_id=f"f{n}", alert_id=f"a{alert}", rule_id=rule, verdict=verdict, when=T0
    )


class TestReview:
    def test_events_round_trip_and_dedupe(self):
        ack = AlertAcknowledged(alert_id="a1", rule_id="r", when=T0, by="amira", note="mine")
        verdict = _feedback(1, 1, "false_positive")
        for evt in (ack, verdict):
            assert decode(evt.type_name, 1, encode(evt)) == evt
        assert ack.dedupe_key() == "ack:a1" and verdict.dedupe_key() == "feedback:f1"
        with pytest.raises(ConfigError, match="unknown verdict 'maybe'"):
            _feedback(2, 1, "maybe")

    def test_latest_verdict_counts_and_rebuild_agrees(self):
        log = MemoryLog()
        log.append_events([_alert(1), _alert(2), _alert(3, "shelling")])
        log.append_events([_feedback(1, 1, "true_positive"), _feedback(2, 2, "false_positive")])
        runner = ProjectionRunner(log, [AlertReview()])
        runner.run()
        log.append_events(
            [
                _feedback(3, 1, "false_positive"),  # changed their mind
                AlertAcknowledged(alert_id="a1", rule_id="movement", when=T0),
                AlertAcknowledged(alert_id="a1", rule_id="movement", when=T0, by="again"),
            ]
        )
        runner.run()
        counts = AlertReview.of_rule(log, "movement")
        assert (counts["true_positive"], counts["false_positive"], counts["acknowledged"]) == (
            0,
            2,
            1,
        )
        assert precision(counts) == 0.0
        assert precision(AlertReview.of_rule(log, "shelling")) is None
        review = AlertReview.of_alert(log, "a1")
        assert review["verdict"] == "false_positive" and len(review["notes"]) == 2
        assert review["ack"]["by"] == ""
        incremental = dict(log.projection_scan("alert_review"))
        runner.rebuild()
        assert dict(log.projection_scan("alert_review")) == incremental


class TestBroadcaster:
    def test_new_alerts_reach_each_subscriber_in_order_and_a_full_queue_overflows(self):
        log = MemoryLog()
        live = Broadcaster(log, queue_size=5, wait=0.05)

        async def scenario():
            fast, slow = live.subscribe(), live.subscribe()
            assert fast.start == slow.start == 0 and live.subscribers == 2
            got = []
            log.append_events([_alert(1), _alert(2)])
            for _ in range(2):
                got.append(await asyncio.wait_for(fast.queue.get(), 5))
            log.append_events([_alert(n) for n in range(3, 8)])
            for _ in range(5):
                got.append(await asyncio.wait_for(fast.queue.get(), 5))
                await asyncio.sleep(0)
            return got, slow

        try:
            got, slow = asyncio.run(scenario())
        finally:
            live.stop()
        assert [m["alert_id"] for m in got] == [f"a{n}" for n in range(1, 8)]
        assert [m["position"] for m in got] == sorted(m["position"] for m in got)
        # the slow one never read: it holds the overflow marker, not seven alerts
        held = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        assert len(held) <= 5 and OVERFLOW in held
        # stop() found both loops closed (asyncio.run closed them) and forgot them
        assert live.subscribers == 0


def test_neutralise_removes_bidi_controls_and_keeps_markup():
    text = "a\u202eb\u2066c\u2069d\u200fe"
    assert neutralise(text) == "abcd\u200fe"  # the right-to-left mark is harmless: kept
    marked = neutralise(Markup("<mark>\u202ex</mark>"))
    assert isinstance(marked, Markup) and marked == Markup("<mark>x</mark>")
    assert neutralise(3) == 3


def test_token_matches_only_the_configured_token():
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cret", "s3cre") and not token_matches("s3cret", None)
    assert not token_matches(None, "") and not token_matches(None, "anything")


def test_serve_options(tmp_path, monkeypatch):
    assert parse_bind("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_bind("[::1]:9000") == ("::1", 9000)
    for bad in ("8080", "host:", "host:99999", ":80"):
        with pytest.raises(click.BadParameter, match="HOST:PORT"):
            parse_bind(bad)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    token = tmp_path / "token"
    token.write_text("  abc123  \nsecond line\n")
    assert read_token(str(token), None) == "abc123"
    token.write_text("\n")
    with pytest.raises(ConfigError, match="token file is empty"):
        read_token(str(token), None)
    monkeypatch.setenv("CONSOLE_TOKEN", "xyz")
    assert read_token(None, "CONSOLE_TOKEN") == "xyz"
    with pytest.raises(ConfigError, match="not set"):
        read_token(None, "NO_SUCH_VARIABLE_HERE")
    with pytest.raises(click.UsageError):
        read_token(str(token), "CONSOLE_TOKEN")
    assert read_token(None, None) is None

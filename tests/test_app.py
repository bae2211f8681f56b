"""`Monitor`, the library's front door, used the way the README shows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from monitor import Monitor
from monitor.errors import RuleSetError
from monitor.feeds import FeedConfig, FeedList
from monitor.log import MemoryLog, open_log
from tests.conftest import REPO

RULES = REPO / "rules"

MOVEMENT = {
    "id": "m1",
    "title": "US convoy moves toward Abu Kamal crossing",
    "summary": "A column of armoured vehicles was seen heading to the border on Tuesday.",
    "source": "wire-a",
    "feed": "wire-a",
    "published": "2026-03-01T08:00:00Z",
}
DENIAL = {
    "id": "d1",
    "title": "Coalition dismisses reports of Abu Kamal buildup as baseless",
    "summary": "A coalition spokesperson said the reports had no truth to them.",
    "source": "wire-b",
    "feed": "wire-b",
    "published": "2026-03-02T10:00:00Z",
}
WEATHER = {"id": "w1", "title": "Dust storm closes schools in Raqqa", "feed": "wire-a"}


@pytest.fixture
def app(clock):
    """A Monitor over an in-memory log with the default rule pack."""
    with Monitor(MemoryLog(), rules=RULES, clock=clock) as m:
        yield m


def test_ingest_raises_alerts_and_correlations(app):
    """A movement report then a denial about the same place raise both and the correlation."""
    report = app.ingest([MOVEMENT, DENIAL, WEATHER])
    assert (report.stored, report.duplicates) == (3, 0)
    rules = {a.rule_id for a in report.alerts}
    assert {"troop-movement", "official-denial", "movement-then-denial"} <= rules
    again = app.ingest([MOVEMENT])
    assert (again.stored, again.duplicates, again.alerts) == (0, 1, ())


def test_reports_list_the_latest_alerts_and_count_all(app, monkeypatch):
    """A catch-up over a long history must not hold every alert it raised: a run's, a pass's
    and an ingest's report list the latest `MAX_REPORTED_ALERTS` and count all of them."""
    monkeypatch.setattr("monitor.alerting._evaluator.MAX_REPORTED_ALERTS", 2)
    monkeypatch.setattr("monitor.app.MAX_REPORTED_ALERTS", 2)
    monkeypatch.setattr("monitor.app.INGEST_BATCH", 2)
    places = ["Abu Kamal", "Mayadin", "Raqqa", "Hasakah", "Palmyra"]
    items = [
        {**MOVEMENT, "id": f"m{i}", "title": f"US convoy moves toward {place}",
         "summary": f"A column of armoured vehicles was seen heading to {place}."}
        for i, place in enumerate(places)
    ]  # fmt: skip
    report = app.ingest(items)
    stored = [evt for _, evt in app.log.iter_events(types=["AlertRaised"])]
    assert sum(a.rule_id == "troop-movement" for a in stored) == 5  # one per place
    assert report.raised == len(stored)
    assert [a.alert_id for a in report.alerts] == [a.alert_id for a in stored[-2:]]

    evaluation = app._evaluator.run()  # nothing new: counts start at zero every run
    assert (evaluation.stored_alerts, evaluation.alerts) == (0, [])


def test_ingest_files_reports_progress_per_batch(app, monkeypatch, tmp_path):
    """`ingest_files` streams its files in batches and says after each how many items it
    has read, so `monitor ingest` can show a progress bar over a large file."""
    monkeypatch.setattr("monitor.app.INGEST_BATCH", 2)
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({**WEATHER, "id": f"w{i}"}) + "\n" for i in range(5)))
    calls: list[tuple[int, int | None]] = []
    report = app.ingest_files([path], progress=lambda done, total: calls.append((done, total)))
    assert calls == [(2, None), (4, None), (5, None)]
    assert report.stored == 5


def test_a_large_ingest_is_processed_batch_by_batch(app, monkeypatch):
    """`ingest` processes each batch before appending the next (so readers find its records
    still decoded); the report sums every batch and equals one ingest per item."""
    monkeypatch.setattr("monitor.app.INGEST_BATCH", 2)
    passes: list[int] = []
    process = app.process
    monkeypatch.setattr(app, "process", lambda: passes.append(app.log.head()) or process())
    report = app.ingest([MOVEMENT, DENIAL, WEATHER])
    assert len(passes) == 2 and passes[0] < passes[1]  # [MOVEMENT, DENIAL], then [WEATHER]
    assert (report.stored, report.duplicates) == (3, 0)
    with Monitor(MemoryLog(), rules=RULES, clock=app.clock) as single:
        one_by_one = [a for i in (MOVEMENT, DENIAL, WEATHER) for a in single.ingest([i]).alerts]
    assert sorted(a.alert_id for a in report.alerts) == sorted(a.alert_id for a in one_by_one)
    assert {"troop-movement", "official-denial", "movement-then-denial"} <= {
        a.rule_id for a in report.alerts
    }


def test_alerts_query_is_newest_first_and_filters(app):
    """alerts() lists newest first and honours a rule filter."""
    app.ingest([MOVEMENT, DENIAL])
    rows = app.alerts(limit=20)
    times = [row["event_time"] for row in rows]
    assert times == sorted(times, reverse=True)
    only = app.alerts(rule="official-denial")
    assert only and {row["rule_id"] for row in only} == {"official-denial"}


def test_on_alert_callback_gets_each_alert_once(app):
    """A callback sees every new alert once, across several ingests."""
    seen: list[str] = []
    app.on_alert(lambda alert: seen.append(alert.rule_id))
    app.ingest([MOVEMENT])
    app.ingest([DENIAL])
    app.process()
    assert seen.count("troop-movement") == 1
    assert "movement-then-denial" in seen


def test_on_alert_starts_now_unless_replay(app):
    """A new callback gets only alerts raised after it was registered; replay=True also
    delivers the alerts already in the log."""
    app.ingest([MOVEMENT])
    fresh: list[str] = []
    everything: list[str] = []
    app.on_alert(lambda alert: fresh.append(alert.rule_id), name="fresh")
    app.on_alert(lambda alert: everything.append(alert.rule_id), name="all", replay=True)
    app.ingest([DENIAL])
    assert "troop-movement" not in fresh and "official-denial" in fresh
    assert "troop-movement" in everything and "official-denial" in everything


def test_bad_rule_reload_keeps_the_running_set(app, tmp_path):
    """reload_rules with a broken folder returns False and the old rules keep working."""
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "bad.yaml").write_text("id: x\ndetection: [unclosed\n")
    before = app.ruleset.hash
    assert app.reload_rules(broken) is False
    assert app.ruleset.hash == before
    with pytest.raises(RuleSetError):
        app.use_rules(broken)
    assert app.ingest([MOVEMENT]).alerts


def test_replay_rebuilds_the_same_views(app):
    """replay() drops every projection and rebuilds identical state."""
    app.ingest([MOVEMENT, DENIAL, WEATHER])
    names = [p.name for p in app.projections.projections]
    before = {n: app.log.projection_scan(n) for n in names}
    app.replay()
    assert {n: app.log.projection_scan(n) for n in names} == before


def test_stats_counts_records_and_feeds(app):
    """stats() reports the head of the log and items per feed."""
    app.ingest([MOVEMENT, DENIAL, WEATHER])
    stats = app.stats()
    assert stats["records"] == app.log.head()
    assert {row["feed_id"]: row["items"] for row in stats["feeds"]} == {"wire-a": 2, "wire-b": 1}


def sample_feed(tmp_path: Path) -> FeedList:
    """A feed list with one local sample feed."""
    source = REPO / "feeds" / "samples" / "euphrates_wire.rss.xml"
    shutil.copy(source, tmp_path / "wire.xml")
    feed = FeedConfig(id="wire", path=tmp_path / "wire.xml", interval=900.0)
    return FeedList(feeds=(feed,), path=None)


def test_poll_all_stores_each_item_once(tmp_path, clock):
    """Polling a local feed twice stores its items once and records both polls."""
    feeds = sample_feed(tmp_path)
    with Monitor.open(tmp_path / "m.db", rules=RULES, clock=clock) as m:
        first = m.poll_all(feeds)
        second = m.poll_all(feeds)
        assert first[0].ok and first[0].new_items > 10
        assert second[0].new_items == 0
        status = m.feed_status()
        assert status[0]["polls"] == 2 and status[0]["failures"] == 0


def test_two_watchers_share_a_feed_through_its_lease(tmp_path, clock):
    """Of two monitors on one log, only the lease holder polls a feed until it lets go."""
    feeds = sample_feed(tmp_path)
    db = tmp_path / "shared.db"
    first = Monitor.open(db, clock=clock)
    second = Monitor.open(db, clock=clock)
    try:
        assert first.poll(feeds.feeds[0]) is not None
        assert second.poll(feeds.feeds[0]) is None  # held by the first
        assert first.poll(feeds.feeds[0]) is not None  # renewed by its holder
    finally:
        first.close()  # releases its leases
    try:
        assert second.poll(feeds.feeds[0]) is not None
    finally:
        second.close()
    with open_log(db) as lg:
        assert lg.verify().ok

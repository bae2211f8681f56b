"""Poll records scale with news, not with polling: unchanged polls fold into heartbeats, while
feed status (live and replayed), validators and backoff stay exact (`_poll_record`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner

from monitor import Monitor
from monitor.cli._main import cli
from monitor.events import FeedPolled, decode
from monitor.feeds import FeedConfig, FeedState, RecordPolicy, live_state
from monitor.log import MemoryLog
from monitor.projections import FeedStatus

from .conftest import REPO, rss, wire_items

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INTERVAL = 60.0
FEED = FeedConfig(id="wire", url="https://wire.example/feed.xml", interval=INTERVAL)


class Clock:
    """A clock the test moves by hand: one poll interval per `tick`."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = INTERVAL) -> None:
        self.now += timedelta(seconds=seconds)


class Server:
    """A feed server: conditional GET on its ETag, or a 503 while `failing`."""

    def __init__(self, items: int = 3) -> None:
        self.items = wire_items(items)
        self.etag = '"v1"'
        self.failing = False
        self.sent_etags: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent_etags.append(request.headers.get("If-None-Match"))
        if self.failing:
            return httpx.Response(503)
        if request.headers.get("If-None-Match") == self.etag:
            return httpx.Response(304, headers={"ETag": self.etag})
        return httpx.Response(200, content=rss(self.items), headers={"ETag": self.etag})


def monitor(log, server: Server, clock: Clock, **policy) -> Monitor:
    m = Monitor(log, clock=clock, transport=httpx.MockTransport(server))
    m.record_policy = RecordPolicy(**policy)
    return m


def die(log, m: Monitor) -> None:
    """`m`'s process dies without closing: its pending polls are lost, its lease expires."""
    log.release_lease(f"feed:{FEED.id}", m.owner)


def polls(m: Monitor, clock: Clock, n: int) -> None:
    for _ in range(n):
        clock.tick()
        m.poll(FEED)


def recorded(log) -> list[FeedPolled]:
    return [e for _, e in log.iter_events(types=["FeedPolled"])]


def stored(log) -> dict:
    return FeedStatus.get(log, FEED.id)


@pytest.fixture
def setup():
    log, server, clock = MemoryLog(), Server(), Clock()
    yield log, server, clock
    log.close()


def test_twenty_unchanged_polls_leave_one_record_until_the_flush(setup):
    """20 polls answered 304 write nothing; the live status counts them, and closing the
    monitor writes one heartbeat that makes the stored status equal the live one."""
    log, server, clock = setup
    m = monitor(log, server, clock)
    m.poll(FEED)
    polls(m, clock, 20)
    assert len(recorded(log)) == 1
    live = m.feed_status()[0]
    assert live["polls"] == 21 and live["unrecorded"] == 20
    assert live["last_poll"] == "2026-03-01T12:20:00.000000Z" and live["last_status"] == 304
    assert stored(log)["polls"] == 1  # the log lags by the pending polls until the flush
    m.close()
    beat = recorded(log)[-1]
    assert len(recorded(log)) == 2
    assert (beat.unchanged_polls, beat.unchanged_since) == (19, T0 + timedelta(minutes=1))
    after = stored(log)
    assert after["polls"] == 21 and after["last_poll"] == live["last_poll"]
    assert {k: after[k] for k in after} == {k: live[k] for k in after}


def test_heartbeat_every_interval_and_every_n_polls(setup):
    """With a 10-minute heartbeat, 30 unchanged one-minute polls write a heartbeat whenever
    the oldest pending poll is 10 minutes old; with a 5-poll cap, every 5 polls."""
    log, server, clock = setup
    m = monitor(log, server, clock, every=600)
    m.poll(FEED)
    polls(m, clock, 30)
    beats = recorded(log)[1:]
    assert [b.unchanged_polls for b in beats] == [10, 10]
    assert all(b.polled_at - b.unchanged_since == timedelta(minutes=10) for b in beats)
    assert stored(log)["polls"] + m.feed_state(FEED.id).unrecorded == 31

    log2 = MemoryLog()
    m2 = monitor(log2, server, clock, polls=5)
    m2.poll(FEED)
    polls(m2, clock, 30)
    assert [b.unchanged_polls for b in recorded(log2)[1:]] == [4] * 6


def test_changes_are_recorded_at_once(setup):
    """A new item, a new ETag on the same items, a failure and the recovery each write a
    record at once, folding the unchanged polls before them."""
    log, server, clock = setup
    m = monitor(log, server, clock)
    m.poll(FEED)
    polls(m, clock, 3)
    server.items = wire_items(4)  # a new item (the ETag stays: the server is sloppy)
    server.etag = '"v2"'
    polls(m, clock, 1)
    new = recorded(log)[-1]
    assert (new.new_items, new.unchanged_polls, new.etag) == (1, 3, '"v2"')
    polls(m, clock, 2)
    server.etag = '"v3"'  # same items, other validator
    polls(m, clock, 1)
    assert recorded(log)[-1].etag == '"v3"' and recorded(log)[-1].new_items == 0
    polls(m, clock, 2)
    server.failing = True
    polls(m, clock, 2)
    failed = [e for _, e in log.iter_events(types=["FeedFailed"])]
    assert [f.attempt for f in failed] == [1, 2]
    assert recorded(log)[-1].unchanged_polls == 1  # the flush before the first failure
    server.failing = False
    polls(m, clock, 1)
    assert recorded(log)[-1].polled_at == clock.now and stored(log)["failures"] == 0
    assert stored(log)["polls"] == 1 + 3 + 1 + 2 + 1 + 2 + 2 + 1


def test_replay_gives_the_same_status(setup):
    """Rebuilding the projections from the log gives the feed status the live fold gave."""
    log, server, clock = setup
    m = monitor(log, server, clock, every=300)
    m.poll(FEED)
    polls(m, clock, 12)
    server.items, server.etag = wire_items(5), '"v2"'
    polls(m, clock, 8)
    server.failing = True
    polls(m, clock, 1)
    server.failing = False
    polls(m, clock, 9)
    m.flush_polls()
    live = m.feed_status()
    m.replay()
    assert m.feed_status() == live and live[0]["polls"] == 31 and live[0]["items"] == 5


def test_a_restart_keeps_validators_and_backoff(setup):
    """A watcher that dies with polls pending loses only their count: the next one sends the
    stored ETag, earns a 304, and after failures resumes the backoff where it stood."""
    log, server, clock = setup
    first = monitor(log, server, clock)
    first.poll(FEED)
    polls(first, clock, 5)  # pending, never flushed
    die(log, first)
    second = monitor(log, server, clock)
    polls(second, clock, 1)
    assert server.sent_etags[-1] == '"v1"' and len(recorded(log)) == 1
    assert second.feed_state(FEED.id).unrecorded == 1
    server.failing = True
    polls(second, clock, 2)
    die(log, second)
    third = monitor(log, server, clock)
    clock.tick()
    report = third.poll(FEED)
    failed = [e for _, e in log.iter_events(types=["FeedFailed"])]
    assert [f.attempt for f in failed] == [1, 2, 3]
    assert 0.8 * 4 * INTERVAL <= report.next_delay <= 1.2 * 4 * INTERVAL
    server.failing = False
    clock.tick()
    third.poll(FEED)
    assert server.sent_etags[-1] == '"v1"' and stored(log)["failures"] == 0


def test_record_every_poll_keeps_the_old_behaviour(setup):
    """`every_poll` writes one FeedPolled per poll, as version 1 did."""
    log, server, clock = setup
    m = monitor(log, server, clock, every_poll=True)
    m.poll(FEED)
    polls(m, clock, 20)
    assert len(recorded(log)) == 21 and all(e.unchanged_polls == 0 for e in recorded(log))


def test_version_1_feedpolled_is_upcast():
    """A stored FeedPolled v1 reads as a single poll with nothing folded in."""
    body = {"feed_id": "wire", "url": "u", "polled_at": "2026-03-01T12:00:00Z", "status": 304}
    event = decode("FeedPolled", 1, json.dumps(body))
    assert (event.unchanged_polls, event.unchanged_since) == (0, None)


def test_pending_polls_yield_to_another_watchers_records():
    """Polls held in memory are added to the stored state only if the log recorded no poll
    since; otherwise (another watcher polled the feed) they are dropped, never counted twice."""
    held = FeedState(
        feed_id="wire", polls=5, unrecorded=2, unrecorded_since=T0, last_poll=T0, failures=0
    )
    same = live_state(FeedState(feed_id="wire", polls=3), held)
    assert (same.polls, same.unrecorded, same.last_poll) == (5, 2, T0)
    other = FeedState(feed_id="wire", polls=4)
    assert live_state(other, held) == other


def test_watch_once_writes_its_unchanged_polls_on_exit(tmp_path):
    """Two `watch --once` runs over the samples leave two polls per feed in the log (the
    second run's unchanged polls are written when it exits); a heartbeat under 1s is refused."""
    db, feeds = str(tmp_path / "m.db"), str(REPO / "feeds" / "default.yaml")
    runner = CliRunner()
    for flags in ([], ["--heartbeat", "6h"]):
        args = ["--db", db, "watch", "--once", "--no-rules", "--feeds", feeds, *flags]
        assert runner.invoke(cli, args, catch_exceptions=False).exit_code == 0
    status = json.loads(runner.invoke(cli, ["--db", db, "feeds", "status", "--json"]).output)
    assert [s.get("polls") for s in status if s.get("polls")] == [2, 2, 2, 2]
    bad = runner.invoke(cli, ["--db", db, "watch", "--once", "--heartbeat", "0s"])
    assert bad.exit_code == 2 and "--heartbeat" in bad.output

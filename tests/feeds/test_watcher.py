"""The scheduled watcher: first run at start, intervals, backoff rescheduling, stop with polls in
flight, and all-or-nothing reloads of the feed list. Runs `Watcher.run()` in a thread with a
fake `poll`, so no network and no signals are involved (the SIGTERM test uses a subprocess)."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.feeds import FeedConfig, FeedList, PollReport, Watcher, load_feeds

from .conftest import wait_until


class FakePoll:
    """Records every poll; `delays` sets the next_delay a feed reports (default: interval)."""

    def __init__(self, delays: dict[str, float | None] | None = None) -> None:
        self.calls: list[str] = []
        self.delays = delays or {}
        self.lock = threading.Lock()

    def __call__(self, feed: FeedConfig) -> PollReport:
        with self.lock:
            self.calls.append(feed.id)
        delay = self.delays.get(feed.id, feed.interval)
        return PollReport(feed_id=feed.id, ok=delay == feed.interval, status=200,
                          next_delay=delay, error=None if delay else "gone")  # fmt: skip

    def count(self, feed_id: str) -> int:
        with self.lock:
            return self.calls.count(feed_id)


def feedlist(*feeds: FeedConfig, path: Path | None = None) -> FeedList:
    return FeedList(feeds=feeds, path=path)


def feed(feed_id: str, interval: float = 1.0, **kw) -> FeedConfig:
    return FeedConfig(id=feed_id, url=f"https://{feed_id}.example/rss", interval=interval, **kw)


class Running:
    """`Watcher.run()` in a background thread, stopped (and joined) on exit."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.thread = threading.Thread(target=watcher.run, daemon=True)

    def __enter__(self) -> Watcher:
        self.thread.start()
        assert wait_until(lambda: self.watcher.next_runs() != {}, 5)
        return self.watcher

    def __exit__(self, *exc: object) -> None:
        self.watcher.stop()
        self.thread.join(10)
        assert not self.thread.is_alive(), "watcher did not stop"


def test_run_once_polls_every_enabled_feed_in_order():
    """run_once polls each enabled feed exactly once and returns the reports in list order."""
    poll = FakePoll()
    feeds = feedlist(feed("a"), feed("b", enabled=False), feed("c"), feed("d"))
    reports = Watcher(feeds, poll, max_workers=3).run_once()
    assert [r.feed_id for r in reports] == ["a", "c", "d"]
    assert sorted(poll.calls) == ["a", "c", "d"]


def test_run_once_survives_a_poll_that_raises(caplog):
    """A poll that raises is logged and left out; the other feeds are still polled."""

    def poll(f: FeedConfig) -> PollReport:
        if f.id == "bad":
            raise RuntimeError("boom")
        return PollReport(feed_id=f.id, ok=True, next_delay=f.interval)

    with caplog.at_level(logging.ERROR, logger="monitor.watch"):
        reports = Watcher(feedlist(feed("bad"), feed("good")), poll, max_workers=1).run_once()
    assert [r.feed_id for r in reports] == ["good"]
    assert "feed bad: poll failed unexpectedly" in caplog.text


def test_first_poll_at_start_then_on_interval():
    """Every feed is polled at start and again after its interval."""
    poll = FakePoll()
    watcher = Watcher(feedlist(feed("a"), feed("b")), poll, check_every=60)
    with Running(watcher):
        assert wait_until(lambda: poll.count("a") >= 2 and poll.count("b") >= 2, 10)


def test_failure_backoff_reschedules_the_next_poll():
    """A report with a long next_delay (backoff) moves that feed's next run out that far."""
    poll = FakePoll(delays={"slow": 3600.0})
    watcher = Watcher(feedlist(feed("slow"), feed("fast")), poll, check_every=60)
    with Running(watcher) as running:
        assert wait_until(lambda: poll.count("fast") >= 2, 10)
        nxt = running.next_runs()["slow"]
        assert nxt > datetime.now(UTC) + timedelta(minutes=50)
        assert poll.count("slow") == 1


def test_gone_feed_is_unscheduled():
    """A report with next_delay None (HTTP 410) removes the feed's job."""
    poll = FakePoll(delays={"gone": None})
    watcher = Watcher(feedlist(feed("gone"), feed("ok")), poll, check_every=60)
    with Running(watcher) as running:
        assert wait_until(lambda: "gone" not in running.next_runs(), 10)
        assert wait_until(lambda: poll.count("ok") >= 2, 10)
    assert poll.count("gone") == 1


def test_stop_waits_for_polls_in_flight():
    """stop() lets a poll in flight finish before run() returns; no new poll starts after."""
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    calls: list[str] = []

    def poll(f: FeedConfig) -> PollReport:
        calls.append(f.id)
        started.set()
        release.wait(10)
        finished.set()
        return PollReport(feed_id=f.id, ok=True, next_delay=f.interval)

    watcher = Watcher(feedlist(feed("a")), poll, check_every=60)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    assert started.wait(5)
    watcher.stop()
    thread.join(0.3)
    assert thread.is_alive(), "run() returned while a poll was in flight"
    release.set()
    thread.join(5)
    assert not thread.is_alive() and finished.is_set() and calls == ["a"]


def _write(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    stamp = time.time() + bump  # a distinct mtime even on coarse file systems
    os.utime(path, (stamp, stamp))


def test_feed_list_change_is_picked_up(tmp_path):
    """Editing the feed list adds and removes feeds without a restart."""
    path = tmp_path / "feeds.yaml"
    _write(path, "feeds: [{id: a, url: 'https://a.example/', interval: 1s}]\n", 0)
    poll = FakePoll()
    watcher = Watcher(load_feeds(path), poll, check_every=0.2)
    with Running(watcher) as running:
        assert wait_until(lambda: poll.count("a") >= 1, 5)
        _write(path, "feeds: [{id: b, url: 'https://b.example/', interval: 1s}]\n", 5)
        assert wait_until(lambda: poll.count("b") >= 1, 10)
        assert set(running.next_runs()) == {"b"}
        assert set(running.feeds) == {"b"}


def test_bad_edit_keeps_the_running_feeds(tmp_path, caplog):
    """A feed list that no longer loads is refused as a whole; the old feeds keep running."""
    path = tmp_path / "feeds.yaml"
    _write(path, "feeds: [{id: a, url: 'https://a.example/', interval: 1s}]\n", 0)
    poll = FakePoll()
    watcher = Watcher(load_feeds(path), poll, check_every=0.2)
    with caplog.at_level(logging.ERROR, logger="monitor.watch"), Running(watcher) as running:
        _write(path, "feeds: [{id: a, url: 'file:///etc/passwd'}, {id: b, url: 'x'}]\n", 5)
        assert wait_until(lambda: "feed list not reloaded" in caplog.text, 10)
        before = poll.count("a")
        assert wait_until(lambda: poll.count("a") > before, 10)
        assert set(running.next_runs()) == {"a"}
    assert "feeds.yaml:1" in caplog.text and "file" in caplog.text


def test_reload_directly_is_all_or_nothing(tmp_path):
    """reload() returns False and changes nothing on a bad file, True and applies a good one."""
    path = tmp_path / "feeds.yaml"
    _write(path, "feeds: [{id: a, url: 'https://a.example/'}]\n", 0)
    watcher = Watcher(load_feeds(path), FakePoll())
    _write(path, "feeds: [{id: a}]\n", 5)
    assert watcher.reload() is False and set(watcher.feeds) == {"a"}
    _write(
        path, "feeds: [{id: a, url: 'https://a.example/'}, {id: c, url: 'https://c.example/'}]", 9
    )
    assert watcher.reload() is True and set(watcher.feeds) == {"a", "c"}


def test_reload_hook_runs_and_its_failure_is_contained(tmp_path, caplog):
    """The caller's reload hook (rules) runs on reload; if it raises, feeds still reload."""
    path = tmp_path / "feeds.yaml"
    _write(path, "feeds: [{id: a, url: 'https://a.example/'}]\n", 0)
    calls: list[int] = []

    def hook() -> None:
        calls.append(1)
        raise ValueError("rules/x.yaml:3:1: bad rule")

    watcher = Watcher(load_feeds(path), FakePoll(), reload=hook)
    _write(path, "feeds: [{id: z, url: 'https://z.example/'}]\n", 5)
    with caplog.at_level(logging.ERROR, logger="monitor.watch"):
        assert watcher.reload() is True
    assert calls == [1] and set(watcher.feeds) == {"z"}
    assert "rules/x.yaml:3:1" in caplog.text


def test_reload_hook_may_supply_the_feed_list():
    """A hook that returns a FeedList replaces the feeds with it."""
    new = feedlist(feed("n1"), feed("n2"))
    watcher = Watcher(feedlist(feed("a")), FakePoll(), reload=lambda: new)
    assert watcher.reload() and set(watcher.feeds) == {"n1", "n2"}


def test_watched_rule_folder_change_triggers_the_hook(tmp_path):
    """A change in a watched folder (the rule pack) calls the reload hook."""
    rules = tmp_path / "rules"
    rules.mkdir()
    _write(rules / "a.yaml", "x: 1\n", 0)
    fired = threading.Event()

    def hook() -> None:
        fired.set()

    watcher = Watcher(feedlist(feed("a", interval=60)), FakePoll(), reload=hook,
                      watch_paths=[rules], check_every=0.2)  # fmt: skip
    with Running(watcher):
        _write(rules / "b.yaml", "y: 2\n", 5)
        assert fired.wait(10)


@pytest.mark.parametrize("workers", [1, 4])
def test_one_feed_is_never_polled_twice_at_once(workers):
    """max_instances=1: a slow poll is not overlapped by the next scheduled run of that feed."""
    active, overlaps, done = [0], [0], threading.Event()
    lock = threading.Lock()

    def poll(f: FeedConfig) -> PollReport:
        with lock:
            active[0] += 1
            overlaps[0] = max(overlaps[0], active[0])
        time.sleep(1.5)  # longer than the 1 s interval
        with lock:
            active[0] -= 1
        done.set()
        return PollReport(feed_id=f.id, ok=True, next_delay=f.interval)

    watcher = Watcher(feedlist(feed("a")), poll, max_workers=workers, check_every=60)
    with Running(watcher):
        assert done.wait(5)
        time.sleep(1.2)
    assert overlaps[0] == 1

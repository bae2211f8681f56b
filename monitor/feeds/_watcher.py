"""`Watcher`: polls every feed on its own schedule until told to stop (APScheduler 3).

One interval job per enabled feed (its interval and jitter; first run at start; one instance at
a time; missed runs coalesced; a misfire grace of half the interval), a job that watches the feed
list (and any other files, e.g. rule folders) for changes, and signal handling:

* SIGINT / SIGTERM: stop scheduling, let polls in flight finish (each is bounded by the fetcher's
  deadline), then return. Every append is atomic, so an interrupted poll never leaves a partial
  batch behind, and the next start resumes from the log.
* SIGHUP, or a change to a watched file: reload. All-or-nothing: a feed list that does not load
  keeps the running set, and the log says why.

After a poll the feed's next run follows `PollReport.next_delay`: the interval normally, a
backoff after failures, the server's Retry-After, or never again for a feed that is gone.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor as _Pool
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from ._config import FeedConfig, FeedList, load_feeds
from ._poll import PollReport

__all__ = ["Watcher"]

_log = logging.getLogger("monitor.watch")
_RELOAD_JOB = "__reload_check__"
_HOUSEKEEPING_PREFIX = "__housekeeping__:"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Watcher:
    """Runs `poll(feed)` for every enabled feed of `feeds`, on schedule, until stopped.

    Args:
        feeds: the feed list to watch (its `path` is watched for changes when set).
        poll: polls one feed and returns its `PollReport` (None: keep the schedule as it is).
            Called from worker threads, up to `max_workers` at once, never twice at once for
            one feed.
        reload: called on a change or SIGHUP before the feed list is re-read; may return the
            new `FeedList` itself (otherwise `feeds.path` is loaded). The application uses it to
            reload rule files. An exception in it is logged and the running set kept.
        watch_paths: more files or folders whose changes trigger a reload.
        housekeeping: ``(name, every_seconds, task)`` jobs run on their own interval while the
            watcher runs (signing a checkpoint of the log, say), and once more after the last
            poll when it stops, so the final state is covered too. A task that raises is
            logged and runs again at its next turn.
        clock: the wall clock used for scheduling decisions.
        max_workers: polls that may run at the same time.
        check_every: seconds between checks of the watched files' modification times.
    """

    def __init__(
        self,
        feeds: FeedList,
        poll: Callable[[FeedConfig], PollReport | None],
        *,
        reload: Callable[[], FeedList | None] | None = None,
        watch_paths: Sequence[Path | str] = (),
        clock: Callable[[], datetime] = _utcnow,
        max_workers: int = 4,
        check_every: float = 2.0,
        housekeeping: Sequence[tuple[str, float, Callable[[], object]]] = (),
    ) -> None:
        self.feedlist = feeds
        self._feeds: dict[str, FeedConfig] = {f.id: f for f in feeds.enabled}
        self._poll = poll
        self._reload_hook = reload
        paths = [Path(p) for p in watch_paths]
        if feeds.path is not None:
            paths.insert(0, Path(feeds.path))
        self._watch_paths = paths
        self._clock = clock
        self._max_workers = max(1, max_workers)
        self._check_every = check_every
        self._housekeeping = list(housekeeping)
        self._scheduler: BlockingScheduler | None = None
        self._lock = threading.RLock()
        self._reload_lock = threading.Lock()
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._snapshot = self._take_snapshot()
        #: The last report of each feed, for status displays and tests.
        self.last_reports: dict[str, PollReport] = {}

    # --- one pass ------------------------------------------------------------------------------

    def run_once(self) -> list[PollReport]:
        """Poll every enabled feed once (up to `max_workers` at a time); reports in list order.
        A feed whose `poll` returned None or raised has no report."""
        feeds = list(self._feeds.values())
        if self._max_workers == 1 or len(feeds) <= 1:
            results = [self._poll_one(feed) for feed in feeds]
        else:
            with _Pool(max_workers=self._max_workers, thread_name_prefix="poll") as pool:
                results = list(pool.map(self._poll_one, feeds))
        return [r for r in results if r is not None]

    # --- the scheduled loop --------------------------------------------------------------------

    def run(self) -> None:
        """Poll on schedule until SIGINT/SIGTERM (or `stop()`); then wait for polls in flight.

        Signal handlers are installed only when called from the main thread; elsewhere, call
        `stop()` to end the run.
        """
        scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(self._max_workers)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._scheduler = scheduler
        self._stopping.clear()
        now = self._clock()
        with self._lock:
            for feed in self._feeds.values():
                self._add_job(feed, first_run=now)
        scheduler.add_job(
            self._check_files,
            IntervalTrigger(seconds=self._check_every, timezone=UTC),
            id=_RELOAD_JOB,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        for name, every, task in self._housekeeping:
            scheduler.add_job(
                self._run_housekeeping,
                IntervalTrigger(seconds=every, timezone=UTC),
                args=(name, task),
                id=f"{_HOUSEKEEPING_PREFIX}{name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        restore = self._install_signals()
        _log.info("watching %d feeds (Ctrl-C to stop)", len(self._feeds))
        try:
            if not self._stopping.is_set():
                scheduler.start()
        finally:
            restore()
            self._wait_idle()
            self._scheduler = None
            for name, _every, task in self._housekeeping:
                self._run_housekeeping(name, task)
            _log.info("watcher stopped")

    def stop(self, *, force: bool = False) -> None:
        """Ask a running `run()` to stop: no new polls start; those in flight finish."""
        if self._stopping.is_set() and not force:
            return
        self._stopping.set()
        scheduler = self._scheduler
        if scheduler is not None:
            with contextlib.suppress(SchedulerNotRunningError):
                scheduler.shutdown(wait=False)

    @property
    def feeds(self) -> dict[str, FeedConfig]:
        """The feeds being watched now, by id."""
        with self._lock:
            return dict(self._feeds)

    def next_runs(self) -> dict[str, datetime | None]:
        """When each feed's next poll is scheduled (empty when not running)."""
        scheduler = self._scheduler
        if scheduler is None:
            return {}
        return {
            job.id: job.next_run_time
            for job in scheduler.get_jobs()
            if job.id != _RELOAD_JOB and not job.id.startswith(_HOUSEKEEPING_PREFIX)
        }

    # --- reloading -----------------------------------------------------------------------------

    def reload(self) -> bool:
        """Re-run the reload hook and re-read the feed list, then apply the difference.

        Returns False (and logs why) when the new feed list does not load; the running feeds
        stay as they were.
        """
        with self._reload_lock:
            new: FeedList | None = None
            if self._reload_hook is not None:
                try:
                    new = self._reload_hook()
                except Exception as exc:
                    _log.error("reload hook failed, keeping what runs: %s", exc)
            if new is None and self.feedlist.path is not None:
                try:
                    new = load_feeds(self.feedlist.path)
                except Exception as exc:
                    _log.error(
                        "feed list not reloaded, keeping the %d running feeds: %s",
                        len(self._feeds),
                        exc,
                    )
                    return False
            if new is not None:
                self._apply(new)
            return True

    def _apply(self, new: FeedList) -> None:
        wanted = {f.id: f for f in new.enabled}
        now = self._clock()
        with self._lock:
            old = self._feeds
            added = [f for i, f in wanted.items() if i not in old]
            removed = [i for i in old if i not in wanted]
            changed = [f for i, f in wanted.items() if i in old and old[i] != f]
            self._feeds = wanted
            self.feedlist = new
            if self._scheduler is not None:
                for feed_id in removed:
                    self._remove_job(feed_id)
                for feed in added:
                    self._add_job(feed, first_run=now)
                for feed in changed:
                    before = old[feed.id]
                    if (before.interval, before.jitter) != (feed.interval, feed.jitter):
                        self._remove_job(feed.id)
                        self._add_job(feed, first_run=now + timedelta(seconds=feed.interval))
        if added or removed or changed:
            _log.info(
                "feed list reloaded: %d added, %d removed, %d changed (%d feeds)",
                len(added),
                len(removed),
                len(changed),
                len(wanted),
            )

    def _take_snapshot(self) -> dict[str, tuple[int, int]]:
        snap: dict[str, tuple[int, int]] = {}
        for path in self._watch_paths:
            files = sorted(path.rglob("*")) if path.is_dir() else [path]
            for file in files:
                try:
                    st = file.stat()
                except OSError:
                    continue
                if not file.is_dir():
                    snap[str(file)] = (st.st_mtime_ns, st.st_size)
        return snap

    def _check_files(self) -> None:
        if self._stopping.is_set():  # a stop() that raced the scheduler's start
            self.stop(force=True)
            return
        snapshot = self._take_snapshot()
        if snapshot != self._snapshot:
            self._snapshot = snapshot
            _log.info("watched files changed; reloading")
            self.reload()

    # --- jobs ------------------------------------------------------------------------------------

    def _add_job(self, feed: FeedConfig, *, first_run: datetime) -> None:
        assert self._scheduler is not None
        self._scheduler.add_job(
            self._run_job,
            IntervalTrigger(seconds=feed.interval, jitter=feed.jitter or None, timezone=UTC),
            args=(feed.id,),
            id=feed.id,
            name=f"poll {feed.id}",
            next_run_time=first_run,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(min(max(30.0, feed.interval / 2), 3600.0)),
            replace_existing=True,
        )

    def _remove_job(self, feed_id: str) -> None:
        if self._scheduler is None:
            return
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(feed_id)

    def _run_job(self, feed_id: str) -> None:
        if self._stopping.is_set():
            return
        with self._lock:
            feed = self._feeds.get(feed_id)
        if feed is None:
            return
        report = self._poll_one(feed)
        if report is not None and not self._stopping.is_set():
            self._reschedule(feed, report)

    def _poll_one(self, feed: FeedConfig) -> PollReport | None:
        with self._idle:
            self._in_flight += 1
        t0 = time.perf_counter()
        try:
            report = self._poll(feed)
        except Exception:
            _log.exception("feed %s: poll failed unexpectedly", feed.id)
            return None
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
        elapsed = (time.perf_counter() - t0) * 1000
        if report is not None:
            self.last_reports[feed.id] = report
            _log_report(report, elapsed)
        return report

    def _reschedule(self, feed: FeedConfig, report: PollReport) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        try:
            if report.next_delay is None:
                scheduler.remove_job(feed.id)
                _log.warning("feed %s: no longer polled (%s)", feed.id, report.error)
            elif abs(report.next_delay - feed.interval) > 1e-6:
                when = self._clock() + timedelta(seconds=report.next_delay)
                scheduler.modify_job(feed.id, next_run_time=when)
                _log.info("feed %s: next poll in %.0fs (backoff)", feed.id, report.next_delay)
        except (JobLookupError, SchedulerNotRunningError):
            pass  # removed by a reload, or shutting down

    @staticmethod
    def _run_housekeeping(name: str, task: Callable[[], object]) -> None:
        try:
            task()
        except Exception as exc:  # the watcher outlives a failing chore; the next turn retries
            _log.error("%s failed: %s", name, exc)

    def _wait_idle(self) -> None:
        with self._idle:
            while self._in_flight:
                self._idle.wait(0.5)

    # --- signals ---------------------------------------------------------------------------------

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous: dict[int, Any] = {}

        def on_stop(signum: int, _frame: object) -> None:
            if self._stopping.is_set():
                _log.warning("already stopping; waiting for polls in flight")
                return
            _log.warning(
                "%s received: finishing polls in flight, then stopping", signal.Signals(signum).name
            )
            # Shut down from another thread: the handler runs inside the scheduler's loop,
            # possibly while it holds its own locks.
            threading.Thread(target=self.stop, name="watch-stop", daemon=True).start()

        def on_hup(_signum: int, _frame: object) -> None:
            _log.info("SIGHUP received: reloading")
            threading.Thread(target=self.reload, name="watch-reload", daemon=True).start()

        for sig, handler in ((signal.SIGINT, on_stop), (signal.SIGTERM, on_stop)):
            previous[sig] = signal.signal(sig, handler)
        if hasattr(signal, "SIGHUP"):
            previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hup)

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore


def _log_report(report: PollReport, elapsed_ms: float) -> None:
    if report.ok:
        _log.info(
            "feed %s: status %s, %d new of %d items%s, %.0f ms",
            report.feed_id,
            report.status,
            report.new_items,
            report.seen_items,
            " (degraded)" if report.degraded else "",
            elapsed_ms,
        )
    else:
        _log.warning(
            "feed %s: failed (%s) %s; next try in %s, %.0f ms",
            report.feed_id,
            report.error_kind,
            report.error,
            "never" if report.next_delay is None else f"{report.next_delay:.0f}s",
            elapsed_ms,
        )

"""The console's pages over N stored items (BENCH_CONSOLE_ITEMS, default 1,000,000): server
time per request of the alerts page and of a search page, against the bare projection query
each page is built on, in the same run.

* The log is built by the search benchmark's bulk path (generated English and Arabic items,
  5,000 encoded records per append), plus one `AlertRaised` per 200 items (rule, level,
  a place, the item) appended the same way; every projection the pages read and the search
  index are then caught up, outside every timing (beside a watcher, they are current).
* ``page``: the server time of a GET (its ``Server-Timing`` header: from the request reaching
  the app to the response's start, so routing, the freshness check, the reads, the template
  and the headers), sent through Starlette's in-process client (one portal for the run; its
  round trip is reported too). ``bare``: the call the page makes
  for its main content: `AlertTimeline.latest(log, limit=50)` for the alerts page,
  `search(log, "convoy", limit=25)` for ``/search?q=convoy``. Interleaved, BENCH_CONSOLE_ROUNDS
  (default 30) each; p50 and p95; the ratio is p50 page / p50 bare.
* Peak memory: tracemalloc over one request of each page (bounded: the pages read pages of
  projection keys, never the log).
"""

from __future__ import annotations

import os
import time
import tracemalloc
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from benchmarks.test_bench_search import _build_log, _items, _pct
from monitor import Monitor
from monitor.console import create_app
from monitor.events import AlertRaised
from monitor.log import NewRecord, open_log
from monitor.projections import AlertTimeline
from monitor.search import search

N_ITEMS = int(os.environ.get("BENCH_CONSOLE_ITEMS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_CONSOLE_ROUNDS", "30"))
PLACES = ["deir-ez-zor", "al-tanf", "raqqa", "hasakah", "abu-kamal"]
LEVELS = ["low", "medium", "high", "critical"]


def _alerts(path, n: int) -> int:
    """One alert per 200 items, appended in batches; how many."""
    count = 0
    with open_log(path) as log:
        for start in range(0, n, 5_000):
            batch = []
            for k, item in enumerate(_items(min(5_000, n - start), start)):
                if (start + k) % 200:
                    continue
                batch.append(
                    AlertRaised(
                        alert_id=f"a{start + k}",
                        rule_id=f"rule-{(start + k) % 7}",
                        level=LEVELS[(start + k) % 4],
                        title="Convoy movement",
                        item_ids=[item.item_id],
                        entities=[f"place:{PLACES[(start + k) % 5]}"],
                        event_time=item.received + timedelta(seconds=1),
                    )
                )
            log.append([NewRecord.from_event(e) for e in batch])
            count += len(batch)
    return count


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _server_time(response) -> float:
    """Seconds the app took, from its Server-Timing header."""
    return float(response.headers["server-timing"].split("dur=")[1]) / 1e3


@pytest.mark.timeout(7200)
def test_console_pages_vs_bare_queries(benchmark, bench_report, tmp_path):
    path = tmp_path / "console.db"
    _build_log(path, N_ITEMS)
    alerts = _alerts(path, N_ITEMS)
    with (
        Monitor.open(str(path)) as monitor,
        TestClient(create_app(monitor, stories=False)) as client,
    ):
        started = time.perf_counter()
        # What a watcher keeps current, and the console's own views, caught up before timing.
        monitor.projections.run()
        monitor.catch_up_search()
        assert client.get("/").status_code == 200
        setup = time.perf_counter() - started
        log = monitor.log
        sides = {
            "alerts": (
                lambda: client.get("/?limit=50"),
                lambda: AlertTimeline.latest(log, limit=50),
            ),
            "search": (
                lambda: client.get("/search?q=convoy&limit=25"),
                lambda: search(log, "convoy", limit=25),
            ),
        }
        page = client.get("/search?q=convoy&limit=25").text
        assert page.count('<li class="hit">') == len(search(log, "convoy", limit=25).hits) > 0
        assert client.get("/?limit=50").text.count('class="alert-row') == min(50, alerts)
        timings: dict[str, dict[str, list[float]]] = {}
        for name, (ours, bare) in sides.items():
            timings[name] = {"page": [], "bare": [], "trip": []}
            for _ in range(ROUNDS):
                started = time.perf_counter()
                response = ours()
                timings[name]["trip"].append(time.perf_counter() - started)
                timings[name]["page"].append(_server_time(response))
                timings[name]["bare"].append(_timed(bare))
        benchmark.pedantic(sides["alerts"][0], rounds=ROUNDS, iterations=1)
        peaks = {}
        for name, (ours, _) in sides.items():
            tracemalloc.start()
            try:
                ours()
                peaks[name] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    bench_report.append(
        f"console: {N_ITEMS:,} items, {alerts:,} alerts; the projections and the search "
        f"index caught up in {setup:.1f}s (before timing)"
    )
    for name, sides_t in timings.items():
        page50, page95 = _pct(sides_t["page"], 0.5) * 1e3, _pct(sides_t["page"], 0.95) * 1e3
        bare50, bare95 = _pct(sides_t["bare"], 0.5) * 1e3, _pct(sides_t["bare"], 0.95) * 1e3
        trip50 = _pct(sides_t["trip"], 0.5) * 1e3
        bench_report.append(
            f"console {name} page: server p50 {page50:.1f} ms, p95 {page95:.1f} ms; bare query "
            f"p50 {bare50:.1f} ms, p95 {bare95:.1f} ms; ratio p50 {page50 / bare50:.1f}x; "
            f"client round trip p50 {trip50:.1f} ms; peak {peaks[name] / 1e6:.1f} MB"
        )

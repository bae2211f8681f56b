"""The whole ingest, end to end: `Monitor.ingest` (append, evaluate the default pack, fold the
built-in projections, deliver to a JSON-lines sink) in batches of 500, against the raw floor
in the same run: appending the same items to a fresh SQLite log and nothing else.

Sizes: BENCH_INGEST_ITEMS (default 20,000), BENCH_INGEST_ROUNDS (default 2). Items are the
alerts benchmark's news-like items (a quarter match the default pack).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from monitor.alerts import JsonlSettings, JsonlSink
from monitor.app import Monitor
from monitor.log import open_log

from .test_bench_alerts import T0, _items

N_ITEMS = int(os.environ.get("BENCH_INGEST_ITEMS", "20000"))
ROUNDS = int(os.environ.get("BENCH_INGEST_ROUNDS", "2"))
BATCH = 500


def _append_only(items, path: Path) -> None:
    with open_log(path) as log:
        for start in range(0, len(items), BATCH):
            log.append_events(items[start : start + BATCH])


def _open(path: Path) -> Monitor:
    """A monitor on a fresh log with the default pack (compiled here, outside the timing)."""
    sink = JsonlSink(JsonlSettings(name="file", path=str(path.with_suffix(".jsonl"))))
    return Monitor.open(path, rules="default", sinks=[sink], clock=lambda: T0)


def _ingest(items, monitor: Monitor) -> int:
    with monitor:
        alerts = 0
        for start in range(0, len(items), BATCH):
            alerts += len(monitor.ingest(items[start : start + BATCH]).alerts)
    return alerts


def test_ingest_end_to_end_against_append_only(benchmark, bench_report, tmp_path) -> None:
    items = _items(N_ITEMS)
    runs = iter(range(10_000))
    floor = min(
        _time(lambda: _append_only(items, tmp_path / f"a{next(runs)}.db")) for _ in range(2)
    )
    alerts = benchmark.pedantic(
        _ingest,
        setup=lambda: ((items, _open(tmp_path / f"i{next(runs)}.db")), {}),
        rounds=ROUNDS,
        iterations=1,
    )
    assert alerts > 0
    total = benchmark.stats.stats.min
    benchmark.extra_info.update(items_per_s=N_ITEMS / total, append_only_per_s=N_ITEMS / floor)
    bench_report.append(
        f"ingest end to end: {N_ITEMS:,} items in batches of {BATCH} -> {alerts:,} alerts: "
        f"{N_ITEMS / total:,.0f} items/s; append only {N_ITEMS / floor:,.0f} items/s "
        f"(the whole ingest costs {total / floor:.1f}x the append)"
    )


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start

"""What sightings cost, against the same work without them, in one run.

* ``item_versions`` fold: `ItemVersions` (version 2: canonical addresses and sightings) over
  `BENCH_SIGHTINGS_ITEMS` items (default 20,000; 40% of the links carry tracking parameters)
  beside the same fold with the address keys left out (what version 1 did): items/s, the
  ratio, and peak memory.
* One poll of a 200-item feed whose entries are all new to it, into a SQLite log that holds
  those 200 articles from another feed (folded): ``no-lookup`` stores 200 items (the address
  lookup answers "unknown" without asking, as before sightings), ``sightings`` looks each
  address up and stores 200 `ItemSighted`.
"""

from __future__ import annotations

import os
import shutil
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.events import ItemReceived, ItemSighted, item_id
from monitor.feeds import FeedConfig, FeedState, poll_feed
from monitor.log import MemoryLog, open_log
from monitor.projections import ItemVersions, ProjectionRunner, StateView
from tests.feeds.conftest import rss

N_ITEMS = int(os.environ.get("BENCH_SIGHTINGS_ITEMS", "20000"))
N_FEED = 200
RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RATES: dict[tuple[str, str], float] = {}


class _WithoutAddresses(ItemVersions):
    """`ItemVersions` without the address keys: the version-1 fold, as the baseline."""

    name = "bench_item_versions_v1"

    @staticmethod
    def _claim(canonical: str, row: dict[str, Any], state: StateView) -> None:
        return None


def _items(n: int) -> list[ItemReceived]:
    out = []
    for i in range(n):
        link = f"https://outlet-{i % 50}.example/news/2026/03/{i}"
        if i % 5 < 2:
            link += f"?utm_source=rss&utm_medium=feed&id={i}"
        out.append(
            ItemReceived(
                item_id=item_id("bench", guid=f"g{i}"),
                feed_id="bench",
                guid=f"g{i}",
                url=link,
                received=RECEIVED,
                title=f"Report {i} from the border crossing",
                summary="Residents said a convoy passed at dawn. " * 4,
            )
        )
    return out


def _peak_kib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


def _record(report: list[str], group: str, side: str, count: int, best: float, peak: float):
    rate = count / best
    RATES[(group, side)] = rate
    line = f"{group:<20} {side:<12} {rate:>10,.0f} items/s   peak {peak:9,.0f} KiB"
    base = next((s for (g, s) in RATES if g == group and s != side), None)
    if base is not None:
        line += f"   x{rate / RATES[(group, base)]:.2f} vs {base}"
    report.append(line)


@pytest.fixture(scope="module")
def folded_log() -> MemoryLog:
    log = MemoryLog()
    items = _items(N_ITEMS)
    for start in range(0, len(items), 1000):
        log.append_events(items[start : start + 1000])
    return log


@pytest.mark.benchmark(group="item-versions-fold")
@pytest.mark.parametrize("side", ["v1-no-urls", "v2-urls"])
def test_item_versions_fold(benchmark, bench_report, folded_log, side):
    """The item_versions fold with and without canonical-address keys: items/s and ratio."""
    cls = _WithoutAddresses if side == "v1-no-urls" else ItemVersions

    def fold() -> None:
        runner = ProjectionRunner(folded_log, [cls()])
        runner.rebuild()

    benchmark.pedantic(fold, rounds=3, iterations=1, warmup_rounds=0)
    assert (folded_log.projection_get(cls.name, "item:" + _items(1)[0].item_id)) is not None
    peak = _peak_kib(fold)
    _record(bench_report, "item-versions-fold", side, N_ITEMS, benchmark.stats.stats.min, peak)


@pytest.fixture(scope="module")
def stored_elsewhere(tmp_path_factory) -> tuple[Path, Path]:
    """A SQLite log holding the feed's 200 articles from another feed (folded), and the feed."""
    root = tmp_path_factory.mktemp("sightings")
    entries = [
        {
            "guid": f"agg-{i}",
            "link": f"http://www.outlet.example/news/{i}/?utm_source=agg",
            "title": f"Report {i} from the border crossing",
            "description": "Residents said a convoy passed at dawn.",
        }
        for i in range(N_FEED)
    ]
    feed = root / "agg.xml"
    feed.write_bytes(rss(entries))
    db = root / "base.db"
    with open_log(db) as log:
        log.append_events(
            [
                ItemReceived(
                    item_id=item_id("main", guid=f"m{i}"),
                    feed_id="main",
                    guid=f"m{i}",
                    url=f"https://outlet.example/news/{i}",
                    received=RECEIVED,
                    title=f"Report {i} from the border crossing",
                )
                for i in range(N_FEED)
            ]
        )
        ProjectionRunner(log, [ItemVersions()]).run()
    return db, feed


class _NoFetch:
    max_bytes = 5_000_000


@pytest.mark.benchmark(group="poll-200-entries")
@pytest.mark.parametrize("side", ["no-lookup", "sightings"])
def test_poll_with_sightings(benchmark, bench_report, tmp_path, stored_elsewhere, side):
    """A poll of 200 entries another feed stored: without the address lookup (200 items) vs
    with it (200 sightings)."""
    base, path = stored_elsewhere
    feed = FeedConfig(id="agg", path=path, interval=600)
    urls = (lambda _canonical: None) if side == "no-lookup" else None
    copies = iter(range(1_000_000))
    opened: list[Any] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        for log in opened:
            log.close()
        opened.clear()
        db = tmp_path / f"poll-{next(copies)}.db"
        shutil.copy(base, db)
        opened.append(open_log(db))
        return (opened[0],), {}

    def poll(log: Any) -> int:
        report = poll_feed(
            log,
            feed,
            FeedState(feed_id="agg"),
            fetcher=_NoFetch(),
            clock=lambda: RECEIVED,
            urls=urls,
        )
        return report.new_items + report.sighted

    assert benchmark.pedantic(poll, setup=setup, rounds=7, iterations=1) == N_FEED
    kind = ItemSighted if side == "sightings" else ItemReceived
    assert sum(1 for _ in opened[0].read(N_FEED, types=(kind.__name__,))) == N_FEED
    (log,), _ = setup()
    peak = _peak_kib(lambda: poll(log))
    for log in opened:
        log.close()
    _record(bench_report, "poll-200-entries", side, N_FEED, benchmark.stats.stats.min, peak)

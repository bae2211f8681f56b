"""Story clustering against the ingest it rides on, in one run.

N synthetic items (BENCH_STORIES_ITEMS, default 100,000): templated wire-style items (a headline
and a ~70-word body naming random places and actors) from 50 outlets, one every 3 s of event
time (so 100,000 items span 83 h and the 48 h window evicts), of which 20% are reprints of a
recent item by another outlet (byline added, last sentence trimmed, headline words moved).

* Baseline: the ingest without clustering, the same items appended to a SQLite log in pages
  of 500 (what the watcher does).
* `StoryIndex` (the evaluator's in-memory index): items/s, and the ratio of its time to the
  ingest's; peak memory from tracemalloc in a separate, untimed run.
* The ``stories`` projection folding the same log on SQLite (its index in the projection
  tables).

Also checked: every reprint lands in its original's story, and (almost) no fresh item joins
another story.
"""

from __future__ import annotations

import os
import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.events import ItemReceived, item_id
from monitor.log import open_log
from monitor.projections import ProjectionRunner, Stories
from monitor.rules import StoryIndex

N_ITEMS = int(os.environ.get("BENCH_STORIES_ITEMS", "100000"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)

_PLACES = [
    "Abu Kamal", "al-Qaim", "Deir ez-Zor", "al-Tanf", "Mayadin", "Raqqa", "Hasakah", "Qamishli",
    "Palmyra", "Erbil", "Ain al-Asad", "Tal Tamr", "Manbij", "Kobani", "Homs", "Aleppo",
]  # fmt: skip
_ACTORS = [
    "the coalition", "local militias", "the provincial council", "aid agencies", "the army",
    "tribal elders", "the interior ministry", "a Kurdish-led force", "UN monitors", "traders",
]  # fmt: skip
_EVENTS = [
    "a convoy of {n} trucks crossed into {p}", "shelling hit the outskirts of {p}",
    "{a} announced new checkpoints around {p}", "a drone struck a vehicle near {p}",
    "{a} reopened the road between {p} and {q}", "{n} families returned to {p}",
    "{a} said talks on {p} would resume", "power was restored to {n} districts of {p}",
]  # fmt: skip
_FILL = [
    "officials said on {d}", "according to residents reached by telephone",
    "the report could not be independently verified", "{a} declined to comment",
    "witnesses described {n} vehicles on the road", "prices in the market rose by {n} percent",
    "the move followed weeks of tension with {a}", "schools in {q} stayed closed",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
#: Names and words beyond the templates: real reporting shares far fewer word triples between
#: unrelated items than a handful of templates would (on /work/shared/realfeeds, no two
#: unrelated items reached a similarity of 0.05).
_RNG = random.Random(3)
_SYLLABLES = ["al", "ab", "ka", "mir", "tal", "ra", "qa", "sh", "dur", "an", "hel", "zor", "bek"]
_WORDS = sorted(
    {"".join(_RNG.choice(_SYLLABLES) for _ in range(_RNG.randrange(2, 4))) for _ in range(6000)}
)
_PLACES += [w.title() for w in _WORDS[:400]]
_ACTORS += [f"the {w} brigade" for w in _WORDS[400:600]]


def _sentence(rng: random.Random, pool: list[str]) -> str:
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(3, 7)))
    return (
        words
        + " "
        + rng.choice(pool).format(
            p=rng.choice(_PLACES),
            q=rng.choice(_PLACES),
            a=rng.choice(_ACTORS),
            n=rng.randrange(2, 400),
            d=rng.choice(_DAYS),
        )
    )


def _items(n: int) -> tuple[list[ItemReceived], dict[int, int]]:
    """The items, and reprint index -> original index."""
    rng = random.Random(5)
    out: list[ItemReceived] = []
    originals: dict[int, int] = {}
    for i in range(n):
        outlet = f"outlet{rng.randrange(50)}"
        if i > 10 and rng.random() < 0.2:
            src = rng.randrange(max(0, i - 2000), i)
            while src in originals:
                src = originals[src]
            originals[i] = src
            base = out[src]
            words = base.title.split()
            title = " ".join(words[2:] + words[:2])
            body = base.content.rsplit(". ", 1)[0] + "."
            content = f"By {outlet.title()} Staff. " + body
        else:
            event = _sentence(rng, _EVENTS)
            title = event[0].upper() + event[1:]
            sentences = [event] + [
                _sentence(rng, _FILL if k % 2 else _EVENTS) for k in range(rng.randrange(6, 9))
            ]
            content = ". ".join(s[0].upper() + s[1:] for s in sentences) + "."
        published = T0 + timedelta(seconds=3 * i)
        out.append(
            ItemReceived(
                item_id=item_id(outlet, guid=f"g{i}"),
                feed_id=outlet,
                guid=f"g{i}",
                received=published,
                published=published,
                title=title,
                content=content,
                source=outlet,
            )
        )
    return out, originals


def _cluster(items: list[ItemReceived]) -> tuple[StoryIndex, list[str]]:
    index = StoryIndex()
    return index, [index.add(i).story_id for i in items]


def _ingest(items: list[ItemReceived], db: Path) -> None:
    with open_log(str(db)) as log:
        for i in range(0, len(items), 500):
            log.append_events(items[i : i + 500])


def _time(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@pytest.mark.timeout(3600)
def test_story_clustering_vs_ingest(benchmark, bench_report, tmp_path):
    """Items/s and peak memory of story clustering, beside the plain ingest of the same items."""
    items, originals = _items(N_ITEMS)
    _cluster(items[:1])  # load datasketch (numpy, scipy: about 0.8 s) before timing
    db = tmp_path / "ingest.db"
    ingest = _time(lambda: _ingest(items, db))
    index, stories = benchmark.pedantic(lambda: _cluster(items), rounds=1, iterations=1)
    cluster = benchmark.stats.stats.min
    # quality: every reprint in its original's story; fresh items start their own
    joined = sum(stories[i] == stories[src] for i, src in originals.items())
    fresh = [i for i in range(len(items)) if i not in originals]
    merged = sum(stories[i] != items[i].item_id for i in fresh)
    assert joined == len(originals)
    assert merged <= len(fresh) * 0.01
    # the projection over the same SQLite log
    with open_log(str(db)) as log:
        projection = _time(lambda: ProjectionRunner(log, [Stories()], page_size=500).run())
        assert Stories.story_of(log, items[-1].item_id) == stories[-1]
    peak_n = min(N_ITEMS, 30_000)
    tracemalloc.start()
    try:
        _alive, _ = _cluster(items[:peak_n])  # held until the peak is read
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    figures = {
        "items": N_ITEMS,
        "reprints": len(originals),
        "ingest_per_s": N_ITEMS / ingest,
        "cluster_per_s": N_ITEMS / cluster,
        "projection_per_s": N_ITEMS / projection,
        "indexed_at_end": index.indexed(),
        "peak_mb": peak / 1e6,
    }
    benchmark.extra_info.update(figures)
    bench_report.append(
        f"stories: {N_ITEMS:,} items ({len(originals):,} reprints): StoryIndex "
        f"{N_ITEMS / cluster:,.0f} items/s vs ingest (SQLite append) {N_ITEMS / ingest:,.0f} "
        f"items/s: clustering costs {cluster / ingest:.2f}x the ingest; stories projection on "
        f"SQLite {N_ITEMS / projection:,.0f} items/s ({projection / ingest:.2f}x the ingest); "
        f"{joined:,}/{len(originals):,} reprints joined, {merged} of {len(fresh):,} fresh "
        f"items merged; {index.indexed():,} items indexed at the end (window 48 h = 57,600 "
        f"items at one per 3 s); peak memory {peak / 1e6:.0f} MB for {peak_n:,} items"
    )

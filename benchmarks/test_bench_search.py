"""Search over N stored items (BENCH_SEARCH_ITEMS, default 1,000,000): the first page of a word
and of a phrase query through `monitor.search.search` against the raw FTS5 query on the same
table in the same run, plus the index's build rate and size beside the log's.

* The log is built by a bulk path (outside every timing): generated items, English and Arabic
  (about a fifth Arabic), with titles and one- to three-sentence summaries drawn from news-like
  vocabularies, appended in batches of 5,000 encoded records.
* ``build``: `catch_up` (the product path: the runner reads, decodes and folds each item, the
  triggers write FTS5 and the filter tables, each page committed with its checkpoint).
* ``ours``: `search(log, QUERY)` (parse, expand, render, run, build `Hit`s) for the first page
  of 20, ranked. ``raw``: the same SQL a person would write against the same tables, with
  the MATCH expression written by hand, on a plain `sqlite3` connection to the same file:
  ``SELECT ..., snippet(...), rank FROM search_fts JOIN search_docs ... ORDER BY rank
  LIMIT 20``. Each query is run 30 times per side, interleaved; p50 and p95 are reported and
  the ratio is p50 ours / p50 raw.
* Sizes: the log file before indexing, and what indexing added (after a WAL checkpoint).
* Peak memory: tracemalloc over one untimed search and over indexing 10,000 more items
  (bounded: the runner holds one page of records at a time whatever the history's size).
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from monitor.events import ItemReceived, item_id
from monitor.log import NewRecord, open_log
from monitor.search import catch_up, search

#: BENCH_SEARCH_ITEMS scales the run down for a smoke test; the target is stated at 1,000,000.
N_ITEMS = int(os.environ.get("BENCH_SEARCH_ITEMS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_SEARCH_ROUNDS", "30"))

EN = [
    "the",
    "a",
    "of",
    "in",
    "on",
    "to",
    "and",
    "for",
    "with",
    "from",
    "near",
    "after",
    "before",
    "says",
    "said",
    "report",
    "reports",
    "forces",
    "troops",
    "convoy",
    "militia",
    "army",
    "police",
    "officials",
    "government",
    "ministry",
    "border",
    "crossing",
    "city",
    "province",
    "base",
    "garrison",
    "drone",
    "strike",
    "attack",
    "rocket",
    "shelling",
    "clashes",
    "ceasefire",
    "talks",
    "aid",
    "camp",
    "refugees",
    "displaced",
    "protest",
    "protesters",
    "market",
    "prices",
    "bread",
    "fuel",
    "electricity",
    "water",
    "oil",
    "field",
    "pipeline",
    "road",
    "bridge",
    "checkpoint",
    "village",
    "town",
    "district",
    "area",
    "region",
    "north",
    "south",
    "east",
    "west",
    "killed",
    "wounded",
    "arrested",
    "released",
    "moved",
    "deployed",
    "withdrew",
    "arrived",
    "entered",
    "local",
    "sources",
    "residents",
    "witnesses",
    "statement",
    "spokesman",
    "commander",
    "leader",
    "coalition",
    "us",
    "russian",
    "turkish",
    "iraqi",
    "syrian",
    "iranian",
    "kurdish",
    "tribal",
    "council",
    "election",
    "vote",
    "court",
]
AR = [
    "في",
    "من",
    "على",
    "إلى",
    "عن",
    "مع",
    "بعد",
    "قبل",
    "قال",
    "أعلن",
    "مصادر",
    "محلية",
    "القوات",
    "الجيش",
    "الشرطة",
    "الحكومة",
    "الوزارة",
    "الحدود",
    "المعبر",
    "المدينة",
    "المحافظة",
    "القاعدة",
    "هجوم",
    "قصف",
    "صاروخ",
    "طائرة",
    "مسيرة",
    "اشتباكات",
    "وقف",
    "إطلاق",
    "النار",
    "مساعدات",
    "المخيم",
    "اللاجئين",
    "النازحين",
    "احتجاج",
    "السوق",
    "الأسعار",
    "الخبز",
    "الوقود",
    "الكهرباء",
    "المياه",
    "النفط",
    "الحقل",
    "الطريق",
    "الجسر",
    "الحاجز",
    "القرية",
    "البلدة",
    "المنطقة",
    "شمال",
    "جنوب",
    "شرق",
    "غرب",
    "قتلى",
    "جرحى",
    "اعتقال",
    "الإفراج",
    "انتشار",
    "انسحاب",
    "وصول",
    "دخول",
    "السكان",
    "شهود",
    "بيان",
    "المتحدث",
    "القائد",
    "التحالف",
]
PLACES = ["Deir ez-Zor", "al-Tanf", "Raqqa", "Hasakah", "Qamishli", "Abu Kamal", "Mayadin"]
AR_PLACES = ["دير الزور", "التنف", "الرقة", "الحسكة", "القامشلي", "البوكمال", "الميادين"]

WORD = "convoy"
PHRASE = '"border crossing"'
RAW = {WORD: '"convoy"', PHRASE: '"border crossing"'}


def _sentence(rng: random.Random, words: list[str], places: list[str]) -> str:
    body = rng.choices(words, k=rng.randint(8, 18))
    body.insert(rng.randint(0, len(body)), rng.choice(places))
    if words is EN and rng.random() < 0.02:  # the phrase query's words, side by side
        body.insert(rng.randint(0, len(body)), "border crossing")
    return " ".join(body).capitalize() + "."


def _items(n: int, start: int = 0) -> list[ItemReceived]:
    rng = random.Random(15 + start)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    out = []
    for k in range(start, start + n):
        arabic = rng.random() < 0.2
        words, places = (AR, AR_PLACES) if arabic else (EN, PLACES)
        title = _sentence(rng, words, places)[:90]
        summary = " ".join(_sentence(rng, words, places) for _ in range(rng.randint(1, 3)))
        guid = f"g{k}"
        out.append(
            ItemReceived(
                item_id=item_id(f"feed{k % 40}", guid=guid),
                feed_id=f"feed{k % 40}",
                guid=guid,
                received=t0 + timedelta(seconds=30 * k),
                title=title,
                summary=summary,
                lang="ar" if arabic else "en",
            )
        )
    return out


def _build_log(path, n: int) -> None:
    """The bulk path: generated items appended 5,000 encoded records at a time."""
    with open_log(path) as log:
        for start in range(0, n, 5_000):
            batch = _items(min(5_000, n - start), start)
            log.append([NewRecord.from_event(e) for e in batch])


def _size(path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(path)


def _raw_sql() -> str:
    return (
        "SELECT d.id, d.item_id, d.feed_id, d.lang, d.text_lang, d.ts, d.title, d.url, "
        "snippet(search_fts, -1, '[', ']', '…', 16), f.rank "
        "FROM search_fts f JOIN search_docs d ON d.id = f.rowid "
        "WHERE search_fts MATCH ? ORDER BY f.rank, d.id LIMIT 20"
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@pytest.mark.timeout(7200)
def test_search_first_page_vs_raw_fts5(benchmark, bench_report, tmp_path):
    path = tmp_path / "search.db"
    _build_log(path, N_ITEMS)
    log_size = _size(path)
    with open_log(path) as log:
        started = time.perf_counter()
        catch_up(log)
        build = time.perf_counter() - started
        index_size = _size(path) - log_size
        raw = sqlite3.connect(path)
        timings: dict[str, dict[str, list[float]]] = {}
        for query in (WORD, PHRASE):
            ours_hits = search(log, query).hits
            raw_rows = raw.execute(_raw_sql(), (RAW[query],)).fetchall()
            assert [h.item_id for h in ours_hits] == [r[1] for r in raw_rows]
            assert ours_hits, query
            sides: dict[str, list[float]] = {"ours": [], "raw": []}
            for _ in range(ROUNDS):
                t = time.perf_counter()
                search(log, query)
                sides["ours"].append(time.perf_counter() - t)
                t = time.perf_counter()
                raw.execute(_raw_sql(), (RAW[query],)).fetchall()
                sides["raw"].append(time.perf_counter() - t)
            timings[query] = sides
        benchmark.pedantic(lambda: search(log, WORD), rounds=ROUNDS, iterations=1)
        tracemalloc.start()
        try:
            search(log, PHRASE)
            query_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        more = _items(10_000, N_ITEMS)
        log.append([NewRecord.from_event(e) for e in more])
        tracemalloc.start()
        try:
            catch_up(log)
            build_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        raw.close()
    figures: dict[str, float] = {
        "items": N_ITEMS,
        "build_items_per_s": N_ITEMS / build,
        "log_mb": log_size / 1e6,
        "index_mb": index_size / 1e6,
        "query_peak_mb": query_peak / 1e6,
        "build_peak_mb_10k": build_peak / 1e6,
    }
    lines = [
        f"search: {N_ITEMS:,} items; index build {N_ITEMS / build:,.0f} items/s "
        f"({build:.1f}s); log {log_size / 1e6:,.1f} MB, index +{index_size / 1e6:,.1f} MB "
        f"({index_size / log_size:.2f}x the log); peak memory: one search "
        f"{query_peak / 1e6:.2f} MB, indexing 10,000 more items {build_peak / 1e6:.1f} MB"
    ]
    for query, sides in timings.items():
        p50 = {k: statistics.median(v) * 1000 for k, v in sides.items()}
        p95 = {k: _pct(v, 0.95) * 1000 for k, v in sides.items()}
        ratio = p50["ours"] / p50["raw"]
        name = "word" if query == WORD else "phrase"
        figures[f"{name}_ratio"] = ratio
        figures[f"{name}_p50_ms"] = p50["ours"]
        figures[f"{name}_p95_ms"] = p95["ours"]
        lines.append(
            f"search: {name} {query}: first page of 20 by rank: ours p50 {p50['ours']:.2f} ms "
            f"p95 {p95['ours']:.2f} ms; raw FTS5 p50 {p50['raw']:.2f} ms p95 "
            f"{p95['raw']:.2f} ms: x{ratio:.2f} (target <= 1.5)"
        )
    benchmark.extra_info.update(figures)
    bench_report.extend(lines)

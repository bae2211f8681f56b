"""The event log against its baselines, in one run: append (batched and one per transaction) and
replay into a counting fold.

Sides (each gets a fresh database file per round; building the file is outside the timing):

* ``raw``: a plain SQLite table, ``executemany`` of (type, version, key, time, data), no index,
  no hash, same WAL + synchronous=NORMAL as ours. The floor: what SQLite itself costs.
* ``eventsourcing`` / ``eventsourcing-normal``: the eventsourcing library's
  `SQLiteApplicationRecorder` (`insert_events` of `StoredEvent`, one aggregate per item so its
  primary key (originator_id, version) plays our dedupe index). As shipped it runs SQLite's
  default ``synchronous`` (FULL here); ``-normal`` sets NORMAL on its connections, matching ours.
* ``ours`` / ``ours-full``: `SQLiteLog.append` of `NewRecord` batches: the dedupe lookup and
  unique index, the sha256 hash chain and gap-free positions included; ``-full`` is
  ``sqlite:///...?synchronous=full``. (The log checkpoints its WAL every 10,000 pages; that
  was a what-if side here until it became the default.)

Events are 100,000 `ItemReceived` with titles, summaries and links (about 300 bytes of
canonical JSON each), dedupe keys ``item:<32 hex>``. Encoding to bytes happens once, outside
the timed region, for every side; every side stores the same bytes.

Replay reads everything back in pages of 1,000 and folds it into counts: ``*-count`` sides count
records by type without touching the payload (the read path alone, the same fold on every
side); ``*-parse`` sides ``json.loads`` each payload and count per feed (the same fold on every
side); ``ours-events`` decodes each record into its `ItemReceived` (`EventLog.iter_events`);
``ours-runner`` is the product path: `ProjectionRunner.rebuild` of a counting `Projection`
(decode, `StateView`, state + checkpoint committed per page).

Peak memory is measured by tracemalloc in one extra, untimed run of each side (tracemalloc
slows Python code down, so it never runs inside the timed rounds); it sees Python allocations,
not SQLite's page cache.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.events import ItemReceived, item_id
from monitor.log import NewRecord, open_log
from monitor.projections import Projection, ProjectionRunner

es_sqlite = pytest.importorskip(
    "eventsourcing.sqlite", reason="the eventsourcing baseline needs the bench extra"
)
from eventsourcing.persistence import StoredEvent  # noqa: E402

#: BENCH_LOG_EVENTS scales the run down for a quick smoke test; the figures use 100,000.
N_EVENTS = int(os.environ.get("BENCH_LOG_EVENTS", "100000"))
N_SINGLE = 5_000
BATCH = 100
PAGE = 1_000
ROUNDS = int(os.environ.get("BENCH_LOG_ROUNDS", "3"))
TOPIC = "monitor.events:ItemReceived"

#: (group, side) -> events per second of wall time, and of CPU time (best round of each);
#: the ratios are taken from here.
RATES: dict[tuple[str, str], float] = {}
CPU_RATES: dict[tuple[str, str], float] = {}

# --- the events ------------------------------------------------------------------------------

_FEEDS = [
    "wire", "biz", "coast", "courier", "harbour", "alpine", "river", "metro", "valley", "isle",
]  # fmt: skip
_PLACES = [
    "Northport", "the capital", "Lake Varna", "the delta", "Kessel", "Tarn", "Old Harbour",
]  # fmt: skip
_SUBJECTS = [
    "Grain exporters", "Transport unions", "Central bank", "Hospital staff", "Fishing crews",
    "Rail operators", "City engineers", "Wildfire crews",
]  # fmt: skip
_ACTIONS = [
    "warn of delays", "agree wage deal", "halt operations", "report record demand",
    "seek emergency funds", "reopen talks", "brace for floods", "extend curfew",
]  # fmt: skip
_DETAILS = [
    "Storms cut power overnight.",
    "Inspectors review the depot.",
    "A court weighs the measure.",
    "Deliveries slipped all week.",
    "Fuel and feed costs keep rising.",
    "Cracks found in the main bridge.",
]  # fmt: skip


def make_events(n: int, seed: int = 7) -> list[ItemReceived]:
    """`n` distinct news items with plausible wire-style text, deterministic for `seed`."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        feed = rng.choice(_FEEDS)
        place, subject = rng.choice(_PLACES), rng.choice(_SUBJECTS)
        action, detail = rng.choice(_ACTIONS), rng.choice(_DETAILS)
        url = f"https://{feed}.example/{i}"
        out.append(
            ItemReceived(
                item_id=item_id(feed, url=url),
                feed_id=feed,
                received=start + timedelta(seconds=i),
                url=url,
                title=f"{subject} in {place} {action}",
                summary=detail,
                published=start + timedelta(seconds=i - 60),
                lang="en",
            )
        )
    return out


@pytest.fixture(scope="module")
def records() -> list[NewRecord]:
    """100,000 encoded ItemReceived records (encoding done once, outside every timing)."""
    recs = [NewRecord.from_event(e) for e in make_events(N_EVENTS)]
    mean = sum(len(r.data) for r in recs) / len(recs)
    assert 280 <= mean <= 360, f"payloads average {mean:.0f} bytes, not about 300"
    assert len({r.dedupe_key for r in recs}) == N_EVENTS
    return recs


def stored_events(recs: list[NewRecord]) -> list[StoredEvent]:
    """The same records as eventsourcing `StoredEvent`s: one aggregate (the item id) each."""
    return [
        StoredEvent(
            originator_id=uuid.UUID(r.dedupe_key.removeprefix("item:")),
            originator_version=1,
            topic=TOPIC,
            state=r.data,
        )
        for r in recs
    ]


def raw_rows(recs: list[NewRecord]) -> list[tuple[Any, ...]]:
    """The same records as rows for the plain table (a fixed timestamp, like ours stamps)."""
    return [(r.type, r.version, r.dedupe_key, 1_772_000_000_000_000, r.data) for r in recs]


# --- the sides: open a fresh store, append, replay --------------------------------------------


class Side:
    """One store under test: `open(path)` makes a fresh one; `append`/`replay` work on it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def close(self) -> None:
        raise NotImplementedError


class Raw(Side):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, type TEXT, version INTEGER, "
            "dedupe_key TEXT, recorded_at INTEGER, data BLOB)"
        )

    def append(self, rows: list[tuple[Any, ...]], batch: int) -> int:
        conn = self.conn
        for start in range(0, len(rows), batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO events (type, version, dedupe_key, recorded_at, data) "
                "VALUES (?, ?, ?, ?, ?)",
                rows[start : start + batch],
            )
            conn.execute("COMMIT")
        return self.conn.execute("SELECT count(*) FROM events").fetchone()[0]

    def replay(self, parse: bool) -> Counter[str]:
        counts: Counter[str] = Counter()
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT id, type, data FROM events WHERE id > ? ORDER BY id LIMIT ?", (last, PAGE)
            ).fetchall()
            if not rows:
                return counts
            if parse:
                for _, _, data in rows:
                    counts[json.loads(data)["feed_id"]] += 1
            else:
                for _, type_, _ in rows:
                    counts[type_] += 1
            last = rows[-1][0]

    def close(self) -> None:
        self.conn.close()


class RecorderSide:
    """Append and replay through an eventsourcing application recorder (`self.recorder`): the
    same calls serve its SQLite and its PostgreSQL recorder (see test_bench_postgres.py)."""

    recorder: Any

    def append(self, events: list[StoredEvent], batch: int) -> int:
        insert = self.recorder.insert_events
        for start in range(0, len(events), batch):
            insert(events[start : start + batch])
        return self.recorder.max_notification_id() or 0

    def replay(self, parse: bool) -> Counter[str]:
        counts: Counter[str] = Counter()
        start = 1
        select = self.recorder.select_notifications
        while True:
            page = select(start, PAGE)
            if not page:
                return counts
            if parse:
                for n in page:
                    counts[json.loads(n.state)["feed_id"]] += 1
            else:
                for n in page:
                    counts[n.topic.rpartition(":")[2]] += 1
            start = page[-1].id + 1


class EventSourcing(RecorderSide, Side):
    def __init__(self, path: Path, synchronous: str | None = None) -> None:
        super().__init__(path)
        self.datastore = es_sqlite.SQLiteDatastore(str(path))
        if synchronous is not None:
            pool = self.datastore.pool
            create = pool._create_connection

            def create_with_pragma():  # the library has no setting for it
                conn = create()
                conn._sqlite_conn.execute(f"PRAGMA synchronous={synchronous}")
                return conn

            pool._create_connection = create_with_pragma
        self.recorder = es_sqlite.SQLiteApplicationRecorder(self.datastore)
        self.recorder.create_table()
        with self.datastore.transaction(commit=False) as cur:
            cur.execute("PRAGMA synchronous")
            self.synchronous = {0: "off", 1: "normal", 2: "full", 3: "extra"}[cur.fetchone()[0]]

    def close(self) -> None:
        self.datastore.close()


class Ours(Side):
    def __init__(self, path: Path, synchronous: str = "normal") -> None:
        super().__init__(path)
        self.log = open_log(f"sqlite:///{path}?synchronous={synchronous}")
        self.synchronous = synchronous

    def append(self, recs: list[NewRecord], batch: int) -> int:
        append = self.log.append
        for start in range(0, len(recs), batch):
            append(recs[start : start + batch])
        return self.log.head()

    def replay(self, parse: bool) -> Counter[str]:
        counts: Counter[str] = Counter()
        if parse:
            for record in self.log.read(page_size=PAGE):
                counts[json.loads(record.data)["feed_id"]] += 1
        else:
            for record in self.log.read(page_size=PAGE):
                counts[record.type] += 1
        return counts

    def replay_events(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for _, event in self.log.iter_events():
            counts[event.feed_id] += 1
        return counts

    def replay_runner(self) -> Counter[str]:
        ProjectionRunner(self.log, [CountPerFeed()], page_size=PAGE).rebuild()
        return Counter(dict(self.log.projection_scan(CountPerFeed.name)))

    def close(self) -> None:
        self.log.close()


class CountPerFeed(Projection):
    """Items per feed: the counting projection the replay benchmark runs."""

    name = "bench-count-per-feed"
    version = 1
    types = frozenset({"ItemReceived"})

    def apply(self, event, record, state) -> None:
        state.put(event.feed_id, state.get(event.feed_id, 0) + 1)


_OPENERS: dict[str, Callable[[Path], Side]] = {
    "raw": Raw,
    "eventsourcing": EventSourcing,
    "eventsourcing-normal": lambda p: EventSourcing(p, "NORMAL"),
    "ours": Ours,
    "ours-full": lambda p: Ours(p, "full"),
}


def _payload(side: str, recs: list[NewRecord]) -> list[Any]:
    if side.startswith("eventsourcing"):
        return stored_events(recs)
    if side == "raw":
        return raw_rows(recs)
    return recs


# --- measuring -------------------------------------------------------------------------------


def _peak_kib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


class CpuTimer:
    """Wraps the timed function to also take its CPU time (user + system) per round.

    Wall time (what pytest-benchmark reports) is what a user waits, fsyncs included, but on a
    shared machine it also counts the neighbours' work. CPU time ignores both: it is the
    steadier measure of the work each side does, and the only fair one when other processes
    compete for the cores. Both are reported.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.rounds: list[float] = []

    def __call__(self, *args: Any) -> Any:
        start = time.process_time()
        result = self.fn(*args)
        self.rounds.append(time.process_time() - start)
        return result


def _record(
    benchmark,
    report,
    group: str,
    side: str,
    events: int,
    cpu: CpuTimer,
    peak: float,
    bases=(),
    **info,
) -> None:
    """Store the rates and peak memory, and the ratios against the `bases` measured earlier in
    this run, in `extra_info` and in the end-of-run report."""
    # The best round: on a shared machine the other rounds measure the neighbours too.
    wall = events / benchmark.stats.stats.min
    cpu_rate = events / max(min(cpu.rounds), 1e-9)
    RATES[(group, side)] = wall
    CPU_RATES[(group, side)] = cpu_rate
    benchmark.extra_info.update(
        events=events, events_per_s=round(wall), events_per_cpu_s=round(cpu_rate)
    )
    benchmark.extra_info.update(peak_kib=round(peak), **info)
    line = (
        f"{group:<15} {side:<21} {wall:>10,.0f}/s wall {cpu_rate:>10,.0f}/s cpu"
        f"   peak {peak:6,.0f} KiB"
    )
    for base in bases:
        if (group, base) in RATES:
            ratio = wall / RATES[(group, base)]
            cpu_ratio = cpu_rate / CPU_RATES[(group, base)]
            benchmark.extra_info[f"ratio_vs_{base}"] = round(ratio, 2)
            benchmark.extra_info[f"cpu_ratio_vs_{base}"] = round(cpu_ratio, 2)
            line += f"\n{'':>39}x{ratio:.2f} wall, x{cpu_ratio:.2f} cpu vs {base}"
    report.append(line)


def _bench_append(benchmark, report, tmp_path, side, recs, batch, group) -> None:
    payload = _payload(side, recs)
    opener = _OPENERS[side]
    opened: list[Side] = []
    counter = iter(range(10**6))

    def fresh() -> Side:
        for store in opened:
            store.close()
        opened.clear()
        store = opener(tmp_path / f"{side}-{next(counter)}.db")
        opened.append(store)
        return store

    def setup():
        return (fresh(),), {}

    cpu = CpuTimer(lambda store: store.append(payload, batch))
    stored = benchmark.pedantic(cpu, setup=setup, rounds=ROUNDS, iterations=1)
    assert stored == len(payload), f"{side} stored {stored} of {len(payload)}"
    store = fresh()
    peak = _peak_kib(lambda: store.append(payload, batch))
    synchronous = getattr(store, "synchronous", "normal")
    for s in opened:
        s.close()
    bases = ("eventsourcing", "eventsourcing-normal", "raw") if side.startswith("ours") else ()
    _record(
        benchmark, report, group, side, len(payload), cpu, peak, bases,
        synchronous=synchronous, batch=batch,
    )  # fmt: skip


APPEND_SIDES = ["raw", "eventsourcing", "eventsourcing-normal", "ours", "ours-full"]
BATCHED_SIDES = APPEND_SIDES


@pytest.mark.benchmark(group="append-batched")
@pytest.mark.parametrize("side", BATCHED_SIDES)
def test_append_batched(benchmark, bench_report, tmp_path, records, side):
    """Appending 100,000 events in batches of 100: each side's rate, ratios to the baselines."""
    _bench_append(benchmark, bench_report, tmp_path, side, records, BATCH, "append-batched")


@pytest.mark.benchmark(group="append-single")
@pytest.mark.parametrize("side", APPEND_SIDES)
def test_append_one_per_transaction(benchmark, bench_report, tmp_path, records, side):
    """Appending 5,000 events one per transaction (per-event commit cost), against baselines."""
    _bench_append(benchmark, bench_report, tmp_path, side, records[:N_SINGLE], 1, "append-single")


# --- replay ----------------------------------------------------------------------------------

#: side -> (store kind, how it replays). ``count``: count records by type, the payload
#: untouched (the read path alone); ``parse``: json.loads each payload and count per feed.
REPLAY_SIDES: dict[str, tuple[str, Callable[[Any], Counter[str]]]] = {
    "raw-count": ("raw", lambda s: s.replay(False)),
    "eventsourcing-count": ("eventsourcing", lambda s: s.replay(False)),
    "ours-count": ("ours", lambda s: s.replay(False)),
    "raw-parse": ("raw", lambda s: s.replay(True)),
    "eventsourcing-parse": ("eventsourcing", lambda s: s.replay(True)),
    "ours-parse": ("ours", lambda s: s.replay(True)),
    "ours-events": ("ours", lambda s: s.replay_events()),
    "ours-runner": ("ours", lambda s: s.replay_runner()),
}
_REPLAY_BASES = {
    "ours-count": ("eventsourcing-count", "raw-count"),
    "ours-parse": ("eventsourcing-parse", "raw-parse"),
    "ours-events": ("eventsourcing-parse", "raw-parse"),
    "ours-runner": ("eventsourcing-parse", "raw-parse"),
}


@pytest.fixture(scope="module")
def filled(tmp_path_factory, records) -> dict[str, Side]:
    """One store per kind holding the 100,000 events (filled once, outside every timing)."""
    base = tmp_path_factory.mktemp("replay")
    stores = {}
    for kind in ("raw", "eventsourcing", "ours"):
        store = _OPENERS[kind](base / f"{kind}.db")
        store.append(_payload(kind, records), PAGE)
        stores[kind] = store
    yield stores
    for store in stores.values():
        store.close()


@pytest.mark.benchmark(group="replay")
@pytest.mark.parametrize("side", list(REPLAY_SIDES))
def test_replay_into_counting_fold(benchmark, bench_report, filled, records, side):
    """Reading all 100,000 events back in pages and counting them per feed, against baselines."""
    kind, how = REPLAY_SIDES[side]
    store = filled[kind]
    cpu = CpuTimer(how)
    counts = benchmark.pedantic(cpu, args=(store,), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    cpu.rounds = cpu.rounds[1:]  # the warm-up round
    if side.endswith("-count"):
        assert counts == Counter({"ItemReceived": N_EVENTS}), f"{side} counted {counts}"
    else:
        expected = Counter(json.loads(r.data)["feed_id"] for r in records)
        assert counts == expected, f"{side} folded the wrong counts"
    peak = _peak_kib(lambda: how(store))
    bases = _REPLAY_BASES.get(side, ())
    _record(benchmark, bench_report, "replay", side, N_EVENTS, cpu, peak, bases)

"""The PostgreSQL log against its baselines, in one run: append (batches of 100, and one per
transaction) and replay into a counting fold, on the server named by MONITOR_TEST_PG.

Sides (each round gets a fresh schema; creating it is outside the timing):

* ``raw-copy`` / ``raw-executemany``: a plain table (bigserial id, type, version, key, time,
  data), no index beside the primary key, no hash, no lock: one transaction per batch holding
  a ``COPY`` (resp. psycopg's pipelined ``executemany``). The floor: what the server and the
  driver cost. One per transaction, both are a single INSERT and a COMMIT (``raw``).
  ``raw-copy-unique`` adds a unique index on the (random) dedupe key, as ours and
  eventsourcing's primary key have: it shows what that index alone costs the server.
* ``eventsourcing``: the eventsourcing library's `PostgresApplicationRecorder` (`insert_events`
  of `StoredEvent`, one aggregate per item so its primary key plays our dedupe index). It also
  serializes writers (``LOCK TABLE ... IN EXCLUSIVE MODE``) and NOTIFYs, for the same reason we
  do: gap-free notification ids that readers never pass.
* ``ours``: `PostgresLog.append` of `NewRecord` batches: advisory lock, dedupe look-up and
  unique index, sha256 hash chain, gap-free positions, NOTIFY, all included.

Events are `ItemReceived` built by benchmarks/test_bench_log.py (about 300 bytes of canonical
JSON each; encoded once, outside every timing). Every side stores the same bytes.

Replay reads everything back in pages of 1,000: ``*-count`` counts records by type (the read
path alone); ``*-parse`` json.loads each payload and counts per feed; ``ours-events`` decodes
each record into its event (`iter_events`).

Time is wall time (the server works in another process, so the client's CPU time is shown
too but is not the cost). Peak memory is tracemalloc's, in one extra untimed run per side:
Python allocations of the client, not the server's memory.

    BENCH_PG_EVENTS=100000 .venv/bin/python -m pytest benchmarks/test_bench_postgres.py \
        --benchmark-only -p no:randomly
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from benchmarks.test_bench_log import (
    CpuTimer,
    RecorderSide,
    _peak_kib,
    make_events,
    raw_rows,
    stored_events,
)
from monitor.log import NewRecord
from monitor.log._postgres import PostgresLog

psycopg = pytest.importorskip("psycopg", reason="the PostgreSQL benchmark needs psycopg")
es_pg = pytest.importorskip(
    "eventsourcing.postgres", reason="the eventsourcing baseline needs the bench extra"
)
from psycopg.conninfo import conninfo_to_dict  # noqa: E402

from tests.pg import admin, drop_schema, new_schema  # noqa: E402

pytestmark = pytest.mark.postgres
URL = os.environ.get("MONITOR_TEST_PG", "")
if not URL:
    pytest.skip(
        "the PostgreSQL benchmark needs MONITOR_TEST_PG=postgresql://...", allow_module_level=True
    )

#: BENCH_PG_EVENTS scales the run down for a quick smoke test; the figures use 100,000.
N_EVENTS = int(os.environ.get("BENCH_PG_EVENTS", "100000"))
N_SINGLE = min(2_000, N_EVENTS)
BATCH = 100
PAGE = 1_000
ROUNDS = int(os.environ.get("BENCH_PG_ROUNDS", "3"))

RATES: dict[tuple[str, str], float] = {}


@pytest.fixture(scope="module")
def records() -> list[NewRecord]:
    """The encoded ItemReceived records (encoding done once, outside every timing)."""
    return [NewRecord.from_event(e) for e in make_events(N_EVENTS)]


# --- the sides: each opens a fresh schema --------------------------------------------------


class Raw:
    """A plain table and psycopg; `how` is ``copy`` or ``executemany``."""

    def __init__(self, how: str = "copy", unique: bool = False) -> None:
        self.schema = new_schema()
        self.how = how
        self.conn = psycopg.connect(URL, autocommit=True)
        self.conn.execute(f'CREATE SCHEMA "{self.schema}"')
        self.table = f'"{self.schema}".events'
        self.conn.execute(
            f"CREATE TABLE {self.table} (id bigserial PRIMARY KEY, type text, version int, "
            "dedupe_key text, recorded_at bigint, data bytea)"
        )
        if unique:
            self.conn.execute(f"CREATE UNIQUE INDEX ON {self.table} (dedupe_key)")

    def append(self, rows: list[tuple[Any, ...]], batch: int) -> int:
        conn = self.conn
        columns = "type, version, dedupe_key, recorded_at, data"
        insert = f"INSERT INTO {self.table} ({columns}) VALUES (%s, %s, %s, %s, %s)"
        copy_sql = f"COPY {self.table} ({columns}) FROM STDIN"
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            with conn.transaction():
                if len(chunk) == 1:
                    conn.execute(insert, chunk[0])
                elif self.how == "copy":
                    with conn.cursor().copy(copy_sql) as copy:
                        for row in chunk:
                            copy.write_row(row)
                else:
                    conn.cursor().executemany(insert, chunk)
        return conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]

    def replay(self, parse: bool) -> Counter[str]:
        counts: Counter[str] = Counter()
        last = 0
        query = f"SELECT id, type, data FROM {self.table} WHERE id > %s ORDER BY id LIMIT %s"
        while True:
            rows = self.conn.execute(query, (last, PAGE), binary=True).fetchall()
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
        drop_schema(URL, self.schema)


class EventSourcing(RecorderSide):
    """eventsourcing's PostgreSQL recorder in its own schema."""

    def __init__(self) -> None:
        self.schema = new_schema()
        with admin(URL) as conn:
            conn.execute(f'CREATE SCHEMA "{self.schema}"')
        params = conninfo_to_dict(URL)
        self.datastore = es_pg.PostgresDatastore(
            dbname=params.get("dbname", ""),
            host=params.get("host", "127.0.0.1"),
            port=params.get("port", 5432),
            user=params.get("user", ""),
            password=params.get("password", ""),
            schema=self.schema,
        )
        self.recorder = es_pg.PostgresApplicationRecorder(self.datastore)
        self.recorder.create_table()

    def close(self) -> None:
        self.datastore.close()
        drop_schema(URL, self.schema)


class Ours:
    """`PostgresLog` in its own schema."""

    def __init__(self) -> None:
        self.schema = new_schema()
        self.log = PostgresLog(URL, schema=self.schema, application_name=self.schema)

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

    def close(self) -> None:
        self.log.close()
        drop_schema(URL, self.schema)


_OPENERS: dict[str, Callable[[], Any]] = {
    "raw-copy": Raw,
    "raw-copy-unique": lambda: Raw("copy", unique=True),
    "raw-executemany": lambda: Raw("executemany"),
    "raw": Raw,
    "eventsourcing": EventSourcing,
    "ours": Ours,
}


def _payload(side: str, recs: list[NewRecord]) -> list[Any]:
    if side == "eventsourcing":
        return stored_events(recs)
    if side.startswith("raw"):
        return raw_rows(recs)
    return recs


# --- measuring -------------------------------------------------------------------------------


def _record(benchmark, report, group, side, events, cpu, peak, bases=(), **info) -> None:
    """Store the rate and peak memory, and the ratios against `bases` measured earlier in
    this run, in `extra_info` and in the end-of-run report."""
    wall = events / benchmark.stats.stats.min  # best round: the others also time neighbours
    cpu_rate = events / max(min(cpu.rounds), 1e-9)
    RATES[(group, side)] = wall
    benchmark.extra_info.update(
        events=events, events_per_s=round(wall), client_cpu_per_s=round(cpu_rate)
    )
    benchmark.extra_info.update(peak_kib=round(peak), **info)
    line = (
        f"{group:<18} {side:<20} {wall:>9,.0f}/s wall  {cpu_rate:>9,.0f}/s client cpu"
        f"   peak {peak:6,.0f} KiB"
    )
    for base in bases:
        if (group, base) in RATES:
            ratio = wall / RATES[(group, base)]
            benchmark.extra_info[f"ratio_vs_{base}"] = round(ratio, 2)
            line += f"\n{'':>40}x{ratio:.2f} wall vs {base}"
    report.append(line)


def _bench_append(benchmark, report, side, recs, batch, group, bases) -> None:
    payload = _payload(side, recs)
    opened: list[Any] = []

    def fresh():
        for store in opened:
            store.close()
        opened.clear()
        opened.append(_OPENERS[side]())
        return opened[-1]

    cpu = CpuTimer(lambda store: store.append(payload, batch))
    try:
        stored = benchmark.pedantic(
            cpu, setup=lambda: ((fresh(),), {}), rounds=ROUNDS, iterations=1
        )
        assert stored == len(payload), f"{side} stored {stored} of {len(payload)}"
        store = fresh()
        peak = _peak_kib(lambda: store.append(payload, batch))
    finally:
        for store in opened:
            store.close()
    _record(benchmark, report, group, side, len(payload), cpu, peak, bases, batch=batch)


BATCHED = ["raw-copy", "raw-copy-unique", "raw-executemany", "eventsourcing", "ours"]
SINGLE = ["raw", "eventsourcing", "ours"]


@pytest.mark.benchmark(group="pg-append-batched")
@pytest.mark.parametrize("side", BATCHED)
def test_pg_append_batched(benchmark, bench_report, records, side):
    """Appending every event in batches of 100: each side's rate, ours against the baselines."""
    bases = ("eventsourcing", "raw-copy", "raw-copy-unique", "raw-executemany")
    bases = bases if side == "ours" else ()
    _bench_append(benchmark, bench_report, side, records, BATCH, "pg-append-batched", bases)


@pytest.mark.benchmark(group="pg-append-single")
@pytest.mark.parametrize("side", SINGLE)
def test_pg_append_one_per_transaction(benchmark, bench_report, records, side):
    """Appending 2,000 events one per transaction (the per-commit cost), against baselines."""
    bases = ("eventsourcing", "raw") if side == "ours" else ()
    recs = records[:N_SINGLE]
    _bench_append(benchmark, bench_report, side, recs, 1, "pg-append-single", bases)


# --- replay ----------------------------------------------------------------------------------

REPLAY: dict[str, tuple[str, Callable[[Any], Counter[str]]]] = {
    "raw-count": ("raw", lambda s: s.replay(False)),
    "eventsourcing-count": ("eventsourcing", lambda s: s.replay(False)),
    "ours-count": ("ours", lambda s: s.replay(False)),
    "raw-parse": ("raw", lambda s: s.replay(True)),
    "eventsourcing-parse": ("eventsourcing", lambda s: s.replay(True)),
    "ours-parse": ("ours", lambda s: s.replay(True)),
    "ours-events": ("ours", lambda s: s.replay_events()),
}
_REPLAY_BASES = {
    "ours-count": ("eventsourcing-count", "raw-count"),
    "ours-parse": ("eventsourcing-parse", "raw-parse"),
    "ours-events": ("eventsourcing-parse", "raw-parse"),
}


@pytest.fixture(scope="module")
def filled(records):
    """One store per kind holding every event (filled once, outside every timing)."""
    stores = {}
    try:
        for kind in ("raw", "eventsourcing", "ours"):
            stores[kind] = _OPENERS[kind]()
            stores[kind].append(_payload(kind, records), PAGE)
        yield stores
    finally:
        for store in stores.values():
            store.close()


@pytest.mark.benchmark(group="pg-replay")
@pytest.mark.parametrize("side", list(REPLAY))
def test_pg_replay_into_counting_fold(benchmark, bench_report, filled, records, side):
    """Reading every event back in pages of 1,000 and counting, against the baselines."""
    kind, how = REPLAY[side]
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
    _record(
        benchmark, bench_report, "pg-replay", side, N_EVENTS, cpu, peak, _REPLAY_BASES.get(side, ())
    )

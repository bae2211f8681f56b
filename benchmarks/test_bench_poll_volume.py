"""Log volume per stored item: every poll written (the old behaviour) against unchanged polls
folded into heartbeats (`RecordPolicy`), in one run.

N feeds on a local HTTP server (127.0.0.1, conditional GET on an ETag) are polled M rounds
through `Monitor.poll` into a fresh SQLite log, one round every 15 minutes of an injected
clock. In each round a feed brings news with probability 1/8 (2 new items and a new ETag,
chosen by a seeded RNG, the same for every side); otherwise it answers 304. That is 0.25 items
per poll, close to the ~0.3 of 10,000 feeds giving ~300,000 items a day. Each side reports its
poll records (`FeedPolled` + `FeedFailed`), items, and records per item; the ratio is against
``every-poll`` measured in the same run. Sides: ``every-poll`` (``RecordPolicy(every_poll=
True)``, what every poll cost before), ``heartbeat-1h`` (the default: a heartbeat at most an
hour after an unchanged poll, or every 50) and ``heartbeat-6h``. Every side ends with
`Monitor.close`, whose flush writes the pending heartbeats, and checks that the stored poll
count equals the polls made.
"""

from __future__ import annotations

import os
import random
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.app import Monitor
from monitor.feeds import FeedConfig, RecordPolicy
from monitor.log import open_log
from monitor.projections import FeedStatus, ProjectionRunner

from .test_bench_feeds import _feed_bytes

#: ``FEEDSxROUNDS``: 30 feeds over a day of 15-minute rounds (``make test`` runs ``3x10``).
N_FEEDS, ROUNDS = map(int, os.environ.get("BENCH_POLL_VOLUME", "30x96").split("x"))
NEWS_CHANCE = 1 / 8
NEWS_ITEMS = 2
T0 = datetime(2026, 3, 1, tzinfo=UTC)
SIDES = {
    "every-poll": RecordPolicy(every_poll=True),
    "heartbeat-1h": RecordPolicy(),
    "heartbeat-6h": RecordPolicy(every=6 * 3600),
}
RESULTS: dict[str, dict[str, float]] = {}


class _Feeds:
    """What each feed serves: its item count (its ETag is derived from it)."""

    def __init__(self) -> None:
        self.items = [3] * N_FEEDS
        self.bodies: dict[int, bytes] = {}

    def body(self, n: int) -> bytes:
        if n not in self.bodies:
            self.bodies[n] = _feed_bytes(n)
        return self.bodies[n]


def _server(feeds: _Feeds) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            n = feeds.items[int(self.path.strip("/").split(".")[0])]
            etag = f'"{n}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            body = feeds.body(n)
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _run(tmp_path, name: str, policy: RecordPolicy) -> dict[str, float]:
    feeds = _Feeds()
    server = _server(feeds)
    port = server.server_address[1]
    configs = [
        FeedConfig(
            id=f"f{i:04d}",
            url=f"http://127.0.0.1:{port}/{i}.xml",
            interval=900,
            allow_networks=("127.0.0.1/32",),
        )
        for i in range(N_FEEDS)
    ]
    now = [T0]
    rng = random.Random(7)
    db = tmp_path / f"{name}.db"
    try:
        with Monitor(open_log(f"sqlite:///{db}"), clock=lambda: now[0]) as m:
            m.record_policy = policy
            for r in range(ROUNDS):
                now[0] = T0 + timedelta(minutes=15 * r)
                for i, feed in enumerate(configs):
                    if r and rng.random() < NEWS_CHANCE:
                        feeds.items[i] += NEWS_ITEMS
                    m.poll(feed)
    finally:
        server.shutdown()
        server.server_close()
    log = open_log(f"sqlite:///{db}")
    try:
        counts: dict[str, int] = {}
        for _, event in log.iter_events():
            counts[event.type_name] = counts.get(event.type_name, 0) + 1
        ProjectionRunner(log, [FeedStatus()]).run()
        polls = sum(s["polls"] for s in FeedStatus.all(log))
    finally:
        log.close()
    records = counts.get("FeedPolled", 0) + counts.get("FeedFailed", 0)
    items = counts.get("ItemReceived", 0)
    assert polls == N_FEEDS * ROUNDS, (name, polls)  # folded polls are all counted
    return {"records": records, "items": items, "per_item": records / max(items, 1)}


@pytest.mark.parametrize("name", list(SIDES))
def test_poll_records_per_item(benchmark, bench_report, tmp_path, name):
    result = benchmark.pedantic(lambda: _run(tmp_path, name, SIDES[name]), rounds=1, iterations=1)
    RESULTS[name] = result
    if "every-poll" not in RESULTS:  # tests run in random order: measure the baseline here
        (tmp_path / "base").mkdir()
        RESULTS["every-poll"] = _run(tmp_path / "base", "every-poll", SIDES["every-poll"])
    base = RESULTS["every-poll"]
    ratio = "   (baseline)"
    if name != "every-poll":
        ratio = f"   x{base['records'] / max(result['records'], 1):.1f} fewer records"
    bench_report.append(
        f"poll-volume {name:<13} {N_FEEDS} feeds x {ROUNDS} polls: "
        f"{result['records']:>7,.0f} poll records, {result['items']:>7,.0f} items, "
        f"{result['per_item']:.2f} records/item{ratio}"
    )
    if name != "every-poll":
        assert result["items"] == base["items"]
        assert result["records"] < base["records"]

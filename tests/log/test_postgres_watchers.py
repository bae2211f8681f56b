"""`monitor watch` processes on one PostgreSQL log, against a local HTTP feed server.

The four bundled sample feeds are served from 127.0.0.1 (nothing reaches the internet).
Watchers sharing one schema split the feeds through ``feed:<id>`` leases, hand them over when
one stops, survive losing their server connections, and store each item and alert once.
"""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import REPO
from tests.pg import admin, fresh_postgres_log, log_url, pg_url, terminate

pytestmark = pytest.mark.postgres

SAMPLES = REPO / "feeds" / "samples"
RULES = REPO / "rules"
FEEDS = {
    "euphrates-wire": "euphrates_wire.rss.xml",
    "levant-desk": "levant_desk.atom",
    "badia-bulletin": "badia_bulletin.rdf",
    "tigris-evening-post": "tigris_evening_post.xml",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture
def feed_server():
    """The sample feeds over HTTP on 127.0.0.1; yields the base URL and the request count."""
    hits: Counter[str] = Counter()

    class Handler(_QuietHandler):
        def do_GET(self) -> None:
            hits[self.path] += 1
            super().do_GET()

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(SAMPLES))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def feed_list(base: str, feed_ids: list[str], interval: str = "1h") -> str:
    """A feed list of the given sample feeds, served from `base`, polled every `interval`."""
    return "defaults: {allow_networks: [127.0.0.1/32]}\nfeeds:\n" + "".join(
        f"  - {{id: {fid}, url: '{base}/{FEEDS[fid]}', interval: {interval}}}\n" for fid in feed_ids
    )


def start_watch(db: str, feeds, stderr) -> subprocess.Popen:
    """`monitor -vv watch` (debug logging, so skipped feeds are logged) in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "-vv", "--db", db, "watch", "--feeds", str(feeds),
         "--rules", str(RULES)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr.open("w"),
    )  # fmt: skip


def lease_owners(url: str, schema: str) -> dict[str, str]:
    """feed lease name -> the pid part of its owner (``host:pid:random``)."""
    with admin(url) as conn:
        rows = conn.execute(
            f'SELECT name, owner FROM "{schema}".leases WHERE name LIKE %s', ("feed:%",)
        ).fetchall()
    return {name: owner.split(":")[-2] for name, owner in rows}


def wait_for(condition, what: str, *procs: tuple[subprocess.Popen, object]) -> None:
    """Poll `condition` (bounded at 60 s); fail early, with its stderr, if a process exits."""
    deadline = time.monotonic() + 60
    while not condition():
        for proc, stderr in procs:
            if proc.poll() is not None:
                pytest.fail(f"a watcher exited early: {stderr.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            logs = "\n".join(stderr.read_text()[-1500:] for _, stderr in procs)
            pytest.fail(f"gave up waiting for {what}:\n{logs}")
        time.sleep(0.2)


def test_two_watchers_store_each_item_and_alert_once(tmp_path, feed_server):
    """Two `watch --once` processes polling the same four feeds at once into one schema:
    60 items stored once each, every alert once, and the second pass of either stores nothing."""
    url = pg_url()
    base, hits = feed_server
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feed_list(base, list(FEEDS)))
    log = fresh_postgres_log(url)
    try:
        db = log_url(url, log.schema)

        def watch() -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, "-m", "monitor", "--db", db, "watch", "--once",
                 "--feeds", str(feeds), "--rules", str(RULES), "--json"],
                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip

        first = [watch(), watch()]
        outputs = [proc.communicate(timeout=120) for proc in first]
        for proc, (_, err) in zip(first, outputs, strict=True):
            assert proc.returncode == 0, err
        results = [json.loads(out) for out, _ in outputs]

        items = [e for _, e in log.iter_events(types={"ItemReceived"})]
        assert len(items) == 60
        assert len({e.item_id for e in items}) == 60
        new_items = sum(p["new_items"] for r in results for p in r["polls"])
        assert new_items == 60  # the two watchers' reports split the items, none counted twice
        alerts = [e for _, e in log.iter_events(types={"AlertRaised"})]
        assert alerts, "the default rules flagged nothing in the samples"
        assert len({a.alert_id for a in alerts}) == len(alerts)
        assert all(hits[f"/{name}"] >= 1 for name in FEEDS.values())
        assert log.verify().ok

        again = watch()
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err
        second = json.loads(out)
        assert sum(p["new_items"] for p in second["polls"]) == 0 and second["alerts"] == []
        assert len(list(log.iter_events(types={"ItemReceived"}))) == 60
    finally:
        log.close()


def test_watch_survives_its_connections_being_killed(tmp_path, feed_server):
    """A running `monitor watch` whose server connections are all killed (what a server
    restart does to them) reconnects: feeds added afterwards are polled and stored, each item
    once, and the watcher still stops cleanly on SIGTERM."""
    url = pg_url()
    base, _ = feed_server
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feed_list(base, ["euphrates-wire", "levant-desk"]))
    log = fresh_postgres_log(url)
    name = f"{log.schema}-watch"
    stderr = tmp_path / "watch.err"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--db", log_url(url, log.schema, application_name=name),
         "watch", "--feeds", str(feeds), "--rules", str(RULES)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr.open("w"),
    )  # fmt: skip

    def stored_feeds() -> Counter[str]:
        return Counter(e.feed_id for _, e in log.iter_events(types={"ItemReceived"}))

    try:
        wait_for(
            lambda: set(stored_feeds()) == {"euphrates-wire", "levant-desk"},
            "first polls", (proc, stderr),
        )  # fmt: skip
        killed = terminate(url, name)
        assert killed >= 1, "the watcher held no server connection to kill"
        feeds.write_text(feed_list(base, list(FEEDS)))  # the watcher reloads changed lists
        wait_for(
            lambda: set(stored_feeds()) == set(FEEDS),
            "the added feeds after the kill", (proc, stderr),
        )  # fmt: skip
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, stderr.read_text()[-2000:]
        items = [e for _, e in log.iter_events(types={"ItemReceived"})]
        assert len(items) == len({e.item_id for e in items}) == 60
        alerts = [e for _, e in log.iter_events(types={"AlertRaised"})]
        assert len({a.alert_id for a in alerts}) == len(alerts)
        assert log.verify().ok
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()


def test_running_watchers_share_feeds_and_hand_them_over_on_stop(tmp_path, feed_server):
    """Watcher A holds every feed's lease; watcher B, started later, skips them all while A
    runs, and takes them over once A stops (and releases them); items stay stored once."""
    url = pg_url()
    base, _ = feed_server
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feed_list(base, list(FEEDS), interval="2s"))
    log = fresh_postgres_log(url)
    db = log_url(url, log.schema)
    err_a, err_b = tmp_path / "a.err", tmp_path / "b.err"
    a = start_watch(db, feeds, err_a)
    b = None
    wanted = {f"feed:{fid}" for fid in FEEDS}

    def items() -> int:
        return len(list(log.iter_events(types={"ItemReceived"})))

    try:
        wait_for(lambda: items() == 60, "watcher A's first polls", (a, err_a))
        b = start_watch(db, feeds, err_b)
        wait_for(
            lambda: all(f"feed {fid} is polled by another watcher" in err_b.read_text()
                        for fid in FEEDS),
            "watcher B to find every feed taken", (a, err_a), (b, err_b),
        )  # fmt: skip
        assert lease_owners(url, log.schema) == dict.fromkeys(wanted, str(a.pid))
        a.send_signal(signal.SIGTERM)
        assert a.wait(60) == 0, err_a.read_text()[-2000:]
        wait_for(
            lambda: lease_owners(url, log.schema) == dict.fromkeys(wanted, str(b.pid)),
            "watcher B to take the feeds over", (b, err_b),
        )  # fmt: skip
        b.send_signal(signal.SIGTERM)
        assert b.wait(60) == 0, err_b.read_text()[-2000:]
        stored = [e for _, e in log.iter_events(types={"ItemReceived"})]
        assert len(stored) == len({e.item_id for e in stored}) == 60
        assert log.verify().ok
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
        log.close()

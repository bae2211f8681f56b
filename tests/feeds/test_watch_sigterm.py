"""`monitor watch` as a real process against a local HTTP server: a few scheduled rounds (with
a SIGHUP reload among them), then SIGTERM while a poll is in flight. The process exits cleanly,
the log verifies, and every item served is stored exactly once; a restart resumes without
duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.log import open_log

from .conftest import REPO, rss, wait_until

pytestmark = pytest.mark.slow

FEEDS = ("alpha", "bravo", "charlie")


class GrowingFeeds:
    """Each request for /<feed>.xml serves two more items than the last, after a short delay
    (so polls are in flight long enough to be interrupted). Records what it served."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.served: set[str] = set()
        self.in_flight = threading.Event()

    def __call__(self, request: Request) -> Response:
        name = request.path.strip("/").removesuffix(".xml")
        with self.lock:
            self.requests[name] += 1
            n = self.requests[name]
        self.in_flight.set()
        time.sleep(0.4)
        items = [
            {"title": f"{name} report {i}", "guid": f"{name}-{i}",
             "link": f"https://{name}.example/{i}", "description": f"Convoy report {i}."}
            for i in range(2 * n)
        ]  # fmt: skip
        body = rss(items, title=name)
        with self.lock:
            self.served.update(item["guid"] for item in items)
        self.in_flight.clear()
        return Response(body, content_type="application/rss+xml")


@pytest.fixture
def server():
    """A threaded local HTTP server on 127.0.0.1 serving the growing feeds."""
    httpd = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    feeds = GrowingFeeds()
    for name in FEEDS:
        httpd.expect_request(f"/{name}.xml").respond_with_handler(feeds)
    httpd.start()
    yield httpd, feeds
    httpd.clear()
    if httpd.is_running():
        httpd.stop()


def _command(db, feeds_yaml, *extra):
    return [sys.executable, "-m", "monitor", "--db", str(db), "watch", "--feeds",
            str(feeds_yaml), "--no-rules", *extra]  # fmt: skip


def _env():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MONITOR_DB", None)
    return env


def _stored_guids(db):
    with open_log(db) as log:
        assert log.verify().ok, log.verify()
        return [e.guid for _, e in log.iter_events(types=["ItemReceived"])]


def test_sigterm_mid_poll_leaves_a_verified_log_with_each_item_once(tmp_path, server):
    """SIGTERM during a poll: exit 0, chain verifies, stored items == served items, once each."""
    httpd, feeds = server
    feeds_yaml = tmp_path / "feeds.yaml"
    feeds_yaml.write_text(
        "defaults: {allow_networks: [127.0.0.1/32]}\n"
        "feeds:\n"
        + "".join(
            f"  - {{id: {n}, url: '{httpd.url_for(f'/{n}.xml')}', interval: 1s}}\n" for n in FEEDS
        )
    )
    db = tmp_path / "watch.db"
    proc = subprocess.Popen(
        _command(db, feeds_yaml), env=_env(), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert wait_until(lambda: min(feeds.requests[n] for n in FEEDS) >= 2, 60), (
            f"not enough rounds: {feeds.requests}"
        )
        proc.send_signal(signal.SIGHUP)  # a reload in the middle of the run changes nothing
        assert wait_until(lambda: min(feeds.requests[n] for n in FEEDS) >= 4, 60), (
            f"not enough rounds: {feeds.requests}"
        )
        assert wait_until(feeds.in_flight.is_set, 10)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "SIGTERM received" in err and "Traceback" not in err
    assert "SIGHUP received" in err and "not reloaded" not in err
    guids = _stored_guids(db)
    assert len(guids) == len(set(guids)), "an item was stored twice"
    assert set(guids) == feeds.served, "stored items differ from the items served"

    # A restart resumes from the log: only items not yet stored are added.
    before = len(guids)
    rerun = subprocess.run(_command(db, feeds_yaml, "--once"), env=_env(), cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    guids = _stored_guids(db)
    assert len(guids) == len(set(guids)) == len(feeds.served) > before

"""`monitor watch --sinks --metrics` as a real process: alerts delivered to a local webhook and a
JSON-lines file beside the polls, a sink added by SIGHUP, SIGTERM, a restart; nothing delivered
twice per sink and nothing lost. The metrics endpoint scraped during a run; /healthz turning
503 when every feed fails past --unhealthy-after."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.log import open_log
from tests.feeds.conftest import REPO, rss, wait_until

pytestmark = pytest.mark.slow

RULE = """id: movement
title: Troop or convoy movement
level: high
detection:
  move:
    text: [convoy]
  condition: move
"""


class Feeds:
    """/<name>.xml serves two more convoy items per request; `fail` makes every feed a 500."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.fail = False

    def __call__(self, request: Request) -> Response:
        if self.fail:
            return Response("down", status=500)
        name = request.path.strip("/").removesuffix(".xml")
        with self.lock:
            self.requests[name] += 1
            n = self.requests[name]
        items = [
            {"title": f"{name} convoy {i}", "guid": f"{name}-{i}",
             "link": f"https://{name}.example/{i}", "description": f"Convoy report {i}."}
            for i in range(2 * n)
        ]  # fmt: skip
        return Response(rss(items, title=name), content_type="application/rss+xml")


class Hooks:
    """A webhook receiver: records each POSTed alert id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[str] = []

    def __call__(self, request: Request) -> Response:
        body = json.loads(request.data)
        with self.lock:
            self.ids.append(body["data"]["alert_id"])
        return Response("", status=204)


@pytest.fixture
def server():
    """A local HTTP server with two feeds and a webhook endpoint."""
    httpd = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    feeds, hooks = Feeds(), Hooks()
    for name in ("alpha", "bravo"):
        httpd.expect_request(f"/{name}.xml").respond_with_handler(feeds)
    httpd.expect_request("/hook", method="POST").respond_with_handler(hooks)
    httpd.start()
    yield httpd, feeds, hooks
    httpd.clear()
    if httpd.is_running():
        httpd.stop()


def _setup(tmp_path, httpd):
    feeds_yaml = tmp_path / "feeds.yaml"
    feeds_yaml.write_text(
        "defaults: {allow_networks: [127.0.0.1/32]}\nfeeds:\n"
        + "".join(
            f"  - {{id: {n}, url: '{httpd.url_for(f'/{n}.xml')}', interval: 1s}}\n"
            for n in ("alpha", "bravo")
        )
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "movement.yaml").write_text(RULE)
    return feeds_yaml, rules


def _command(tmp_path, feeds_yaml, rules, *extra):
    return [sys.executable, "-m", "monitor", "--db", str(tmp_path / "watch.db"), "watch",
            "--feeds", str(feeds_yaml), "--rules", str(rules), *extra]  # fmt: skip


def _env():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MONITOR_DB", None)
    return env


def _start(cmd, tmp_path):
    return subprocess.Popen(cmd, env=_env(), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _jsonl_ids(path):
    if not path.exists():
        return []
    return [json.loads(line)["alert_id"] for line in path.read_text().splitlines()]


def _alert_ids(tmp_path):
    with open_log(tmp_path / "watch.db") as log:
        assert log.verify().ok
        return [e.alert_id for _, e in log.iter_events(types=["AlertRaised"])]


def _has_alerts(tmp_path) -> bool:
    return (tmp_path / "watch.db").exists() and len(_alert_ids(tmp_path)) >= 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None, ""


def test_watch_delivers_reloads_sinks_and_restarts_without_repeats(tmp_path, server):
    """Alerts reach the jsonl sink while polling; a webhook sink added by SIGHUP receives every
    alert in the log; after SIGTERM and a restart (--once), each sink holds every alert of the
    log exactly once."""
    httpd, feeds, hooks = server
    feeds_yaml, rules = _setup(tmp_path, httpd)
    archive = tmp_path / "alerts.jsonl"
    sinks = tmp_path / "sinks.yaml"
    sinks.write_text(f"sinks:\n  - {{name: archive, type: jsonl, path: '{archive}'}}\n")
    proc = _start(_command(tmp_path, feeds_yaml, rules, "--sinks", str(sinks)), tmp_path)
    try:
        assert wait_until(lambda: len(_jsonl_ids(archive)) >= 4, 60), proc.stderr
        # A broken edit is refused and the running sinks stay.
        sinks.write_text("sinks:\n  - {name: ops, type: webhok, url: x}\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        sinks.write_text(
            f"sinks:\n  - {{name: archive, type: jsonl, path: '{archive}'}}\n"
            f"  - {{name: ops, type: webhook, url: '{httpd.url_for('/hook')}'}}\n"
        )
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: len(hooks.ids) >= 6, 60)
        assert wait_until(lambda: min(feeds.requests.values()) >= 4, 60)
        _out, err = _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "sinks in" in err and "not reloaded, keeping the running sinks" in err
    assert "1 added, 0 removed, 0 changed" in err
    logged = _alert_ids(tmp_path)
    assert _jsonl_ids(archive) == logged, "the drain on SIGTERM delivered everything, once"
    assert hooks.ids == logged

    rerun = subprocess.run(
        _command(tmp_path, feeds_yaml, rules, "--sinks", str(sinks), "--once"),
        env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    logged_after = _alert_ids(tmp_path)
    assert len(logged_after) > len(logged), "the restart raised new alerts"
    assert _jsonl_ids(archive) == logged_after, "jsonl: nothing twice, nothing lost"
    assert hooks.ids == logged_after, "webhook: nothing twice, nothing lost"


def test_watch_prints_the_alert_line_with_headline_and_link(tmp_path, server):
    """watch's printed alert lines carry the time, level, rule, headline and link."""
    httpd, _feeds, _hooks = server
    feeds_yaml, rules = _setup(tmp_path, httpd)
    proc = _start(_command(tmp_path, feeds_yaml, rules), tmp_path)
    try:
        assert wait_until(lambda: _has_alerts(tmp_path), 60)
        time.sleep(0.5)
        out, err = _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    lines = [line for line in out.splitlines() if " movement " in line]
    assert lines, out
    assert any(
        " HIGH     movement - alpha convoy 0 <https://alpha.example/0>" in line for line in lines
    ), lines


def test_metrics_endpoint_and_healthz_during_a_run(tmp_path, server):
    """Scraped while watching: polls, items, alerts, deliveries, lag and build info; /healthz
    200; then every feed fails and after --unhealthy-after /healthz is 503."""
    httpd, feeds, _hooks = server
    feeds_yaml, rules = _setup(tmp_path, httpd)
    archive = tmp_path / "alerts.jsonl"
    sinks = tmp_path / "sinks.yaml"
    sinks.write_text(f"sinks:\n  - {{name: archive, type: jsonl, path: '{archive}'}}\n")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = _command(tmp_path, feeds_yaml, rules, "--sinks", str(sinks),
                   "--metrics", f"127.0.0.1:{port}", "--unhealthy-after", "2s")  # fmt: skip
    proc = _start(cmd, tmp_path)
    try:
        assert wait_until(lambda: _get(base + "/healthz")[0] == 200, 30), proc.stderr
        assert wait_until(lambda: len(_jsonl_ids(archive)) >= 4, 60)
        # Both feeds have been polled once the scrape shows a successful poll of each (the
        # first alerts may all come from the feed whose poll finished first).
        assert wait_until(
            lambda: all(
                f'monitor_feed_polls_total{{feed="{name}",outcome="ok"}}'
                in _get(base + "/metrics")[1]
                for name in ("alpha", "bravo")
            ),
            60,
        )
        status, text = _get(base + "/metrics")
        assert status == 200
        names = {f.name for f in text_string_to_metric_families(text)}
        assert {
            "monitor_feed_polls", "monitor_items_stored", "monitor_alerts_raised",
            "monitor_deliveries", "monitor_rule_evaluation_seconds", "monitor_subscriber_lag",
            "monitor_feed_last_success_timestamp_seconds", "monitor_log_head", "monitor_build_info",
        } <= names  # fmt: skip
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }
        assert samples[("monitor_feed_polls_total", (("feed", "alpha"), ("outcome", "ok")))] >= 1
        assert (
            samples[("monitor_deliveries_total", (("outcome", "delivered"), ("sink", "archive")))]
            >= 4
        )
        assert (
            "monitor_subscriber_lag",
            (("kind", "subscriber"), ("subscriber", "deliver:archive")),
        ) in samples
        feeds.fail = True
        assert wait_until(lambda: _get(base + "/healthz")[0] == 503, 60)
        body = json.loads(_get(base + "/healthz")[1])
        assert body["feeds"]["failing"] == 2 and "every feed" in body["reasons"][0]
        _out, err = _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert _get(base + "/healthz")[0] is None, "the endpoint closes with the watcher"


def test_healthz_is_503_when_the_log_file_is_replaced_by_garbage(tmp_path, server):
    """A running watcher whose SQLite log (file, WAL and shared memory) is overwritten with
    garbage answers /healthz with 503 and says the log cannot be read."""
    httpd, feeds, _hooks = server
    feeds_yaml, rules = _setup(tmp_path, httpd)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(_command(tmp_path, feeds_yaml, rules, "--metrics", f"127.0.0.1:{port}"),
                  tmp_path)  # fmt: skip
    try:
        assert wait_until(lambda: _get(base + "/healthz")[0] == 200, 30), proc.stderr
        assert wait_until(lambda: min(feeds.requests.values(), default=0) >= 1, 30)
        for suffix in ("", "-wal", "-shm"):
            path = tmp_path / f"watch.db{suffix}"
            if path.exists():
                size = max(path.stat().st_size, 4096)
                with path.open("r+b") as f:
                    f.write(b"garbage!" * (size // 8))
        assert wait_until(lambda: _get(base + "/healthz")[0] == 503, 30)
        body = json.loads(_get(base + "/healthz")[1])
        assert body["log"]["ok"] is False and "cannot be read" in body["reasons"][0]
    finally:
        proc.kill()
        proc.communicate()

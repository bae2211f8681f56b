"""`monitor watch --once` and `monitor feeds ...` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli._main import cli

from .conftest import REPO, rss, wire_items

DEFAULT = REPO / "feeds" / "default.yaml"
RULES = REPO / "rules"


def run(*args: str, db: Path) -> dict | str:
    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        cli, ["--db", str(db), *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "--json" in args else result.output


def test_watch_once_over_the_samples(tmp_path):
    """--once polls the four samples: 60 items stored, the malformed one degraded, alerts
    raised by the default rules; a second run stores nothing new."""
    db = tmp_path / "m.db"
    rules = ["--rules", str(RULES)] if RULES.is_dir() else ["--no-rules"]
    first = run("watch", "--once", "--feeds", str(DEFAULT), *rules, "--json", db=db)
    polls = {p["feed_id"]: p for p in first["polls"]}
    assert set(polls) == {"euphrates-wire", "levant-desk", "badia-bulletin", "tigris-evening-post"}
    assert sum(p["new_items"] for p in polls.values()) == 60
    assert [f for f, p in polls.items() if p["degraded"]] == ["tigris-evening-post"]
    if RULES.is_dir():
        assert first["alerts"], "the default rules flagged nothing in the samples"
    second = run("watch", "--once", "--feeds", str(DEFAULT), *rules, "--json", db=db)
    assert sum(p["new_items"] for p in second["polls"]) == 0 and second["alerts"] == []


def test_watch_once_prints_tables(tmp_path):
    """Without --json, --once prints the poll table and a summary line."""
    out = run("watch", "--once", "--feeds", str(DEFAULT), "--no-rules", db=tmp_path / "m.db")
    assert "Polls" in out and "tigris-evening-post" in out
    assert "stored 60 new item(s)" in out


def test_feeds_status_json_after_a_failure(tmp_path, httpserver):
    """feeds status shows items, failures, a backoff and the next poll for each feed."""
    httpserver.expect_request("/ok.xml").respond_with_data(rss(wire_items(3)))
    httpserver.expect_request("/down.xml").respond_with_data(b"", status=500)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "defaults: {allow_networks: [127.0.0.1/32]}\n"
        "feeds:\n"
        f"  - {{id: ok, url: '{httpserver.url_for('/ok.xml')}', interval: 10m}}\n"
        f"  - {{id: down, url: '{httpserver.url_for('/down.xml')}', interval: 10m}}\n"
        f"  - {{id: later, url: 'https://later.example/rss', enabled: false}}\n"
    )
    db = tmp_path / "m.db"
    run("watch", "--once", "--feeds", str(feeds), "--no-rules", db=db)
    rows = {r["feed_id"]: r for r in run("feeds", "status", "--feeds", str(feeds), "--json", db=db)}
    assert (
        rows["ok"]["items"] == 3 and rows["ok"]["failures"] == 0 and rows["ok"]["backoff"] is None
    )
    assert rows["ok"]["next_poll"] > rows["ok"]["last_poll"]
    assert rows["down"]["failures"] == 1 and rows["down"]["last_error_kind"] == "http_status"
    assert rows["down"]["backoff"] == 600
    assert rows["later"]["enabled"] is False and rows["later"]["last_poll"] is None
    table = run("feeds", "status", "--feeds", str(feeds), db=db)
    assert "down" in table and "http_status" in table


def test_opml_import_export_roundtrip(tmp_path):
    """feeds import writes a YAML list that feeds check accepts and feeds export turns back."""
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body><outline text="News">'
        '<outline type="rss" text="Wire One" xmlUrl="https://one.example/rss"/>'
        '<outline type="rss" text="Wire Two" xmlUrl="https://two.example/atom"/>'
        "</outline></body></opml>"
    )
    out = tmp_path / "feeds.yaml"
    run("feeds", "import", str(opml), "-o", str(out), db=tmp_path / "m.db")
    assert "2 feed(s), 2 enabled, OK" in run(
        "feeds", "check", "--feeds", str(out), db=tmp_path / "m.db"
    )
    exported = run("feeds", "export", "--feeds", str(out), db=tmp_path / "m.db")
    assert 'xmlUrl="https://one.example/rss"' in exported and 'category="News"' in exported
    refused = CliRunner().invoke(cli, ["feeds", "import", str(opml), "-o", str(out)])
    assert refused.exit_code == 2 and "--force" in refused.output


@pytest.mark.parametrize(
    ("text", "where"),
    [("feeds:\n  - id: a\n    url: file:///etc/passwd\n", ":3:10:"), ("feeds: [\n", ":2:")],
)
def test_bad_feed_list_is_one_clear_line_and_exit_4(tmp_path, text, where):
    """A bad feed list stops `monitor watch` with file:line:col, exit code 4, no traceback."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(text)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--db", str(tmp_path / "m.db"), "watch", "--once",
         "--feeds", str(feeds), "--no-rules"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert f"{feeds}{where}" in result.stderr and "Traceback" not in result.stderr

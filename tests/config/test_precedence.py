"""monitor.yaml, MONITOR_* variables and flags: flag > environment > file > default."""

from __future__ import annotations

import json

from tests.config.conftest import run, run_json


def write_config(tmp_path, text: str, name: str = "monitor.yaml"):
    """A configuration file in `tmp_path`."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def polled(result) -> list[str]:
    """The feed ids a `watch --once --json` run polled."""
    assert result.returncode == 0, result.stderr
    return [p["feed_id"] for p in json.loads(result.stdout)["polls"]]


CONFIG = "db: file.db\nwatch: {feeds: a.yaml, no_rules: true}\n"


def test_file_sets_db_and_watch_feeds(feedlists):
    """With only the file, watch uses its feed list and its database."""
    config = write_config(feedlists, CONFIG)
    result = run("--config", str(config), "watch", "--once", "--json", cwd=feedlists)
    assert polled(result) == ["feed-a"]
    assert (feedlists / "file.db").exists()


def test_environment_beats_the_file(feedlists):
    """MONITOR_DB and MONITOR_WATCH_FEEDS override the file's db and watch.feeds."""
    config = write_config(feedlists, CONFIG)
    env = {"MONITOR_DB": "env.db", "MONITOR_WATCH_FEEDS": "b.yaml"}
    result = run("--config", str(config), "watch", "--once", "--json", cwd=feedlists, env=env)
    assert polled(result) == ["feed-b"]
    assert (feedlists / "env.db").exists() and not (feedlists / "file.db").exists()


def test_flags_beat_the_environment(feedlists):
    """--db and --feeds override both the environment and the file."""
    config = write_config(feedlists, CONFIG)
    env = {"MONITOR_DB": "env.db", "MONITOR_WATCH_FEEDS": "b.yaml"}
    args = ("--config", str(config), "--db", "flag.db", "watch", "--once", "--json")
    result = run(*args, "--feeds", "c.yaml", cwd=feedlists, env=env)
    assert polled(result) == ["feed-c"]
    assert (feedlists / "flag.db").exists() and not (feedlists / "env.db").exists()


def test_paths_in_the_file_are_relative_to_it(feedlists):
    """A relative feed list in a file elsewhere is found beside that file, not in the cwd."""
    elsewhere = feedlists / "etc"
    elsewhere.mkdir()
    (elsewhere / "list.yaml").write_text(
        f"feeds:\n  - id: beside\n    path: {feedlists / 'samples' / 'levant_desk.atom'}\n"
    )
    config = write_config(elsewhere, "db: news.db\nwatch: {feeds: list.yaml, no_rules: true}\n")
    result = run("--config", str(config), "watch", "--once", "--json", cwd=feedlists)
    assert polled(result) == ["beside"]
    assert (elsewhere / "news.db").exists()


def test_monitor_config_variable_and_implicit_file(feedlists):
    """MONITOR_CONFIG names the file; without it, ./monitor.yaml is read if present."""
    write_config(feedlists, "db: named.db\n", name="named.yaml")
    code, shown = run_json("config", "show", "--json", cwd=feedlists,
                           env={"MONITOR_CONFIG": "named.yaml"})  # fmt: skip
    assert code == 0 and shown["file"] == "named.yaml"
    assert shown["settings"][0] == {
        "key": "db", "value": "named.db", "source": "file", "where": "named.yaml:1:5"
    }  # fmt: skip
    write_config(feedlists, "db: implicit.db\n")
    code, shown = run_json("config", "show", "--json", cwd=feedlists)
    assert shown["file"] == "monitor.yaml" and shown["settings"][0]["value"] == "implicit.db"


def test_a_missing_config_file_is_a_clear_error(tmp_path):
    """--config or MONITOR_CONFIG naming a missing file: one line, exit 4 (invalid input)."""
    for args, env in ((("--config", "nope.yaml"), {}), ((), {"MONITOR_CONFIG": "nope.yaml"})):
        result = run(*args, "stats", cwd=tmp_path, env=env)
        assert result.returncode == 4, result.stderr
        assert result.stderr.strip() == "error: nope.yaml: configuration file not found"


def test_a_broken_file_stops_every_command_with_its_location(tmp_path):
    """Any command refuses to run with a broken file and names file:line:column."""
    write_config(tmp_path, "watch:\n  workres: 3\n")
    result = run("stats", cwd=tmp_path)
    assert result.returncode == 4
    assert "monitor.yaml:2:3: unknown key 'watch.workres'" in result.stderr
    assert "did you mean 'workers'?" in result.stderr


def test_json_log_lines(feedlists):
    """log: {level: info, format: json} makes every log line one JSON object."""
    config = write_config(
        feedlists, "log: {level: info, format: json}\nwatch: {feeds: a.yaml, no_rules: true}\n"
    )
    result = run("--config", str(config), "--db", "x.db", "watch", "--once", cwd=feedlists)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines and {"time", "level", "logger", "message"} <= set(lines[0])
    assert any(line["message"].startswith("feed feed-a:") for line in lines)

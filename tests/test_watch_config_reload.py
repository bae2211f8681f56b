"""`monitor --config monitor.yaml watch` as a real process: everything from the file, a SIGHUP
after the file names other feeds, rules and sinks, SIGTERM, a restart; each sink holds every
alert of the log exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.feeds.conftest import wait_until
from tests.test_watch_service import (
    RULE,
    _alert_ids,
    _env,
    _jsonl_ids,
    _stop,
    server,  # noqa: F401 (a fixture)
)

pytestmark = pytest.mark.slow


def _config(tmp_path, *, feeds: str, sinks: str, rules: str) -> None:
    (tmp_path / "monitor.yaml").write_text(
        f"db: {tmp_path / 'watch.db'}\n"
        f"rules: [{rules}]\n"
        f"watch: {{feeds: {feeds}, sinks: {sinks}, drain_timeout: 20s}}\n"
    )


def _feed_list(path, httpd, names) -> None:
    path.write_text(
        "defaults: {allow_networks: [127.0.0.1/32]}\nfeeds:\n"
        + "".join(
            f"  - {{id: {n}, url: '{httpd.url_for(f'/{n}.xml')}', interval: 1s}}\n" for n in names
        )
    )


def test_sighup_rereads_monitor_yaml_and_nothing_is_delivered_twice(tmp_path, server):  # noqa: F811
    httpd, feeds, hooks = server
    _feed_list(tmp_path / "one.yaml", httpd, ["alpha"])
    _feed_list(tmp_path / "two.yaml", httpd, ["alpha", "bravo"])
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "movement.yaml").write_text(RULE)
    archive = tmp_path / "alerts.jsonl"
    (tmp_path / "archive.yaml").write_text(
        f"sinks:\n  - {{name: archive, type: jsonl, path: '{archive}'}}\n"
    )
    (tmp_path / "both.yaml").write_text(
        f"sinks:\n  - {{name: archive, type: jsonl, path: '{archive}'}}\n"
        f"  - {{name: ops, type: webhook, url: '{httpd.url_for('/hook')}'}}\n"
    )
    _config(tmp_path, feeds="one.yaml", sinks="archive.yaml", rules="rules")
    command = [sys.executable, "-m", "monitor", "--config", str(tmp_path / "monitor.yaml"), "watch"]
    proc = subprocess.Popen(command, env=_env(), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert wait_until(lambda: len(_jsonl_ids(archive)) >= 4, 60)
        assert feeds.requests["bravo"] == 0
        # A broken edit of monitor.yaml is refused; what runs keeps running.
        (tmp_path / "monitor.yaml").write_text("watch: {feds: two.yaml}\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        _config(tmp_path, feeds="two.yaml", sinks="both.yaml", rules="rules")
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: feeds.requests["bravo"] >= 2, 60), "the new feed list runs"
        assert wait_until(lambda: len(hooks.ids) >= 6, 60), "the new sinks file delivers"
        _out, err = _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "not reloaded, keeping the running configuration" in err and "feds" in err
    assert "'feeds' is now" in err and "'sinks' is now" in err
    logged = _alert_ids(tmp_path)
    assert any("bravo" in line for line in archive.read_text().splitlines())
    assert _jsonl_ids(archive) == logged and hooks.ids == logged
    # A restart from the same file delivers nothing again.
    again = subprocess.run([*command, "--once"], env=_env(), cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr
    logged = _alert_ids(tmp_path)
    assert _jsonl_ids(archive) == logged and hooks.ids == logged

"""Signed checkpoints from the watcher: housekeeping jobs on their interval and on stop, and
`monitor watch --checkpoint-key ... --checkpoint-out ...` writing a checkpoint that verifies."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli._main import cli
from monitor.feeds import Watcher
from monitor.log import load_public_key, open_log, read_checkpoint, verify_against_checkpoint
from tests.feeds.conftest import wait_until
from tests.feeds.test_watcher import FakePoll, Running, feed, feedlist

REPO = Path(__file__).resolve().parents[1]


def test_housekeeping_runs_on_its_interval_and_once_more_on_stop(caplog):
    """A chore runs every `every` seconds while the watcher runs, a failing turn is logged and
    retried, and one last turn runs after the final poll."""
    turns: list[int] = []
    lock = threading.Lock()

    def chore() -> None:
        with lock:
            turns.append(len(turns))
            if len(turns) == 2:
                raise OSError("disk full")

    watcher = Watcher(feedlist(feed("a", 60)), FakePoll(), housekeeping=[("sign", 0.05, chore)])
    with caplog.at_level(logging.ERROR, logger="monitor.watch"), Running(watcher) as running:
        assert wait_until(lambda: len(turns) >= 3, 10)
        assert "a" in running.next_runs() and len(running.next_runs()) == 1
        before_stop = len(turns)
    assert len(turns) == before_stop + 1 or len(turns) == before_stop + 2  # the final turn
    assert "sign failed: disk full" in caplog.text


def _keys(runner: CliRunner, tmp_path: Path) -> tuple[Path, Path]:
    result = runner.invoke(cli, ["keygen", "--out", str(tmp_path / "keys")])
    assert result.exit_code == 0, result.output
    return tmp_path / "keys" / "checkpoint.key", tmp_path / "keys" / "checkpoint.pub"


def test_watch_once_signs_the_head_it_leaves(tmp_path, monkeypatch):
    """`watch --once --checkpoint-key K --checkpoint-out F` polls, then signs the final head;
    `verify --checkpoint F --key PUB` passes on that log."""
    monkeypatch.chdir(REPO)
    runner = CliRunner()
    private, public = _keys(runner, tmp_path)
    db, out = tmp_path / "m.db", tmp_path / "head.checkpoint"
    result = runner.invoke(
        cli,
        ["--db", str(db), "watch", "--once", "--feeds", "feeds/default.yaml", "--rules", "rules",
         "--checkpoint-key", str(private), "--checkpoint-out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    signed = read_checkpoint(out)
    with open_log(str(db)) as log:
        assert signed.position == log.head() > 60
        assert verify_against_checkpoint(log, signed, load_public_key(public)).ok
    verified = runner.invoke(
        cli, ["--db", str(db), "verify", "--checkpoint", str(out), "--key", str(public)]
    )
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--checkpoint-out", "x.cp"], "need --checkpoint-key"),
        (["--checkpoint-append"], "need --checkpoint-key"),
        (["--checkpoint-key", "KEY"], "needs --checkpoint-out"),
        (["--checkpoint-key", "KEY", "--checkpoint-out", "x", "--checkpoint-every", "soon"],
         "expected a duration"),
    ],
)  # fmt: skip
def test_watch_checkpoint_options_that_do_not_fit_are_usage_errors(tmp_path, args, message):
    runner = CliRunner()
    private, _ = _keys(runner, tmp_path)
    args = [str(private) if a == "KEY" else a for a in args]
    result = runner.invoke(
        cli,
        ["--db", str(tmp_path / "m.db"), "watch", "--once", "--no-rules",
         "--feeds", str(REPO / "feeds" / "default.yaml"), *args],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output

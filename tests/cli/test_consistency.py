"""The command line behaves the same everywhere: a missing input file is exit 4 with one
`error: PATH: ...` line on every command, `--help` works and documents every option, `-q`
silences what is not data, `watch --once` fails when every feed failed, and shells can
complete commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.cli._config import walk
from monitor.cli._main import CliContext
from monitor.cli._progress import progress_bar

from .conftest import REPO

MISSING = "missing/nothing-here.yaml"
FEEDS = str(REPO / "feeds" / "default.yaml")

#: Every command that reads a file named on its command line, with that file missing.
#: EXISTS stands for a file that exists (so only MISSING is at fault).
MISSING_INPUTS = [
    ["rules", "check", MISSING],
    ["rules", "check", "--rules", MISSING],
    ["rules", "test", MISSING],
    ["rules", "explain", "some-rule", "text", "--rules", MISSING],
    ["rules", "eval", MISSING],
    ["rules", "eval", "EXISTS", "--rules", MISSING],
    ["match", MISSING],
    ["match", "--rules", MISSING, "EXISTS"],
    ["backtest", "--rules", MISSING],
    ["ingest", MISSING],
    ["ingest", "EXISTS", "--sinks", MISSING],
    ["ingest", "EXISTS", "--rules", MISSING],
    ["watch", "--once", "--feeds", MISSING],
    ["watch", "--once", "--feeds", FEEDS, "--no-rules", "--sinks", MISSING],
    ["watch", "--once", "--feeds", FEEDS, "--rules", MISSING],
    ["watch", "--once", "--feeds", FEEDS, "--no-rules", "--checkpoint-key", MISSING,
     "--checkpoint-out", "cp.json"],
    ["feeds", "check", "--feeds", MISSING],
    ["feeds", "status", "--feeds", MISSING],
    ["feeds", "export", "--feeds", MISSING],
    ["feeds", "import", MISSING],
    ["verify", "--key", MISSING],
    ["verify", "--checkpoint", MISSING, "--key", "EXISTS"],
    ["checkpoint", "--key", MISSING, "--out", "cp.json"],
    ["config", "check", MISSING],
    ["--config", MISSING, "stats"],
]  # fmt: skip


@pytest.mark.parametrize("args", MISSING_INPUTS, ids=lambda a: " ".join(a).replace(MISSING, "X"))
def test_a_missing_input_file_is_exit_4_and_one_line_naming_it(monitor, tmp_path, args):
    """Whatever the command, a missing input file exits 4 with one stderr line
    `error: PATH: ...`, nothing on stdout, and no log created."""
    (tmp_path / "exists.jsonl").write_text('{"title": "x"}\n', encoding="utf-8")
    args = [str(tmp_path / "exists.jsonl") if a == "EXISTS" else a for a in args]
    result = monitor("--db", str(tmp_path / "m.db"), *args)
    assert result.code == 4, result
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"error: {MISSING}: "), lines[0]
    assert result.out == ""
    assert not (tmp_path / "m.db").exists()


def test_a_folder_given_as_an_input_file_is_exit_4(monitor, tmp_path):
    """A folder where a file goes is the same input fault (exit 4), not a usage error."""
    (tmp_path / "folder").mkdir()
    result = monitor("feeds", "check", "--feeds", "folder")
    assert result.code == 4
    assert result.err.strip() == "error: folder: feed list is a folder, not a file"


def test_click_path_exists_is_not_used_for_input_files():
    """No option or argument uses click.Path(exists=True), which would exit 2 instead of 4."""
    for path, command in walk(cli):
        for param in command.params:
            if isinstance(param.type, click.Path):
                assert not param.type.exists, (path, param.name)


def _commands() -> list[tuple[str, ...]]:
    return [(), *(path for path, _ in walk(cli))]


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "monitor")
def test_help_works_and_every_option_has_help(path):
    """`monitor ... --help` exits 0 for every group and command, and every option it lists
    has a help text."""
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert command.help, f"{' '.join(path)} has no docstring"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"monitor {' '.join(path)} {param.opts[0]} has no help"


# --- -q/--quiet ---------------------------------------------------------------------------------


def test_quiet_rules_check_prints_nothing_when_fine(monitor):
    """`monitor -q rules check default` exits 0 and prints nothing: the OK line is
    informational."""
    loud = monitor("rules", "check", "default")
    assert loud.code == 0 and "OK" in loud.out
    quiet = monitor("-q", "rules", "check", "default")
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")


def test_quiet_keeps_json_and_errors(monitor, tmp_path):
    """--json output and error lines are kept under -q."""
    result = monitor("-q", "feeds", "check", "--feeds", FEEDS, "--json")
    assert result.code == 0 and json.loads(result.out)["ok"] is True
    assert monitor("-q", "feeds", "check", "--feeds", FEEDS).out == ""
    missing = monitor("-q", "feeds", "check", "--feeds", MISSING)
    assert missing.code == 4 and missing.err.startswith("error: ")


def test_quiet_and_verbose_do_not_go_together(monitor):
    """-q with -v is a usage error."""
    result = monitor("-q", "-v", "rules", "check", "default")
    assert result.code == 2 and "do not go together" in result.err


def test_quiet_hides_progress_bars(monkeypatch, capsys):
    """The progress bar draws on a terminal (stderr), and draws nothing under -q."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: treat the captured stream as a terminal

    def draw(quiet: bool) -> str:
        context = click.Context(cli, obj=CliContext(db="memory:", quiet=quiet))
        with context, progress_bar("working") as update:
            update(1, 2)
        captured = capsys.readouterr()
        assert captured.out == ""
        return captured.err

    assert "working" in draw(quiet=False)
    assert draw(quiet=True) == ""


# --- watch --once -------------------------------------------------------------------------------


def _feed_list(folder: Path, *, good: bool) -> Path:
    (folder / "bad.xml").write_text("not a feed <<<", encoding="utf-8")
    feeds = "feeds:\n  - {id: bad, path: bad.xml}\n  - {id: blocked, url: 'http://127.0.0.1:9/f'}\n"
    if good:
        good_file = REPO / "feeds" / "samples" / "euphrates_wire.rss.xml"
        feeds += f"  - {{id: good, path: '{good_file}'}}\n"
    (folder / "feeds.yaml").write_text(feeds, encoding="utf-8")
    return folder / "feeds.yaml"


def test_watch_once_exits_1_when_every_feed_failed(monitor, tmp_path):
    """Every feed failed: the report is still printed (JSON here), then one error line and
    exit 1."""
    feeds = _feed_list(tmp_path, good=False)
    result = monitor(
        "-q", "--db", "m.db", "watch", "--once", "--no-rules", "--feeds", str(feeds), "--json"
    )
    assert result.code == 1, result
    assert [p["ok"] for p in json.loads(result.out)["polls"]] == [False, False]
    assert result.err.strip() == "error: every feed failed (2 polled)"


def test_watch_once_exits_0_when_one_feed_worked(monitor, tmp_path):
    """One working feed among failing ones is a success (exit 0)."""
    feeds = _feed_list(tmp_path, good=True)
    result = monitor(
        "-q", "--db", "m.db", "watch", "--once", "--no-rules", "--feeds", str(feeds), "--json"
    )
    assert result.code == 0, result
    assert sorted(p["ok"] for p in json.loads(result.out)["polls"]) == [False, False, True]


def test_watch_once_with_no_enabled_feed_exits_0(monitor, tmp_path):
    """Nothing to poll is not a failure."""
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n  - {id: off, url: 'https://example.org/f', enabled: false}\n", encoding="utf-8"
    )
    result = monitor("--db", "m.db", "watch", "--once", "--no-rules", "--feeds", "feeds.yaml")
    assert result.code == 0, result


# --- shell completion ---------------------------------------------------------------------------


def _monitor_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("monitor")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "monitor"]
    return subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


def test_bash_completion_script_is_printed():
    """`_MONITOR_COMPLETE=bash_source monitor` prints a bash completion script."""
    result = _monitor_script({"_MONITOR_COMPLETE": "bash_source"})
    assert result.returncode == 0, result.stderr
    assert "complete " in result.stdout and "_MONITOR_COMPLETE=bash_complete" in result.stdout


def test_bash_completes_a_command_name():
    """Completing `monitor wa` offers `watch` (bash's COMP_WORDS/COMP_CWORD protocol)."""
    result = _monitor_script(
        {"_MONITOR_COMPLETE": "bash_complete", "COMP_WORDS": "monitor wa", "COMP_CWORD": "1"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["plain,watch"]


def test_a_missing_file_in_monitor_yaml_stops_only_the_commands_that_read_it(monitor, tmp_path):
    """`feeds: nowhere.yaml` in monitor.yaml: `feeds check` exits 4 naming the file, while a
    command without --feeds (`rules check`) still runs."""
    (tmp_path / "monitor.yaml").write_text("feeds: nowhere.yaml\n", encoding="utf-8")
    assert monitor("-q", "rules", "check", "default").code == 0
    result = monitor("feeds", "check")
    assert result.code == 4
    assert result.err.strip() == "error: nowhere.yaml: feed list not found"

"""Helpers for the command-line tests: run `monitor.cli.main` as a user would."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from monitor.cli import main

REPO = Path(__file__).resolve().parents[2]


@attrs.frozen
class Outcome:
    """What one `monitor ...` run left behind: its exit code, stdout and stderr."""

    code: int
    out: str
    err: str


@pytest.fixture
def monitor(capsys, monkeypatch, tmp_path):
    """Run `monitor ARGS...` in-process through `main` (so the exit code is the one a shell
    sees, not CliRunner's), from an empty working directory; returns an `Outcome`."""
    monkeypatch.chdir(tmp_path)
    for name in ("MONITOR_CONFIG", "MONITOR_DB"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run

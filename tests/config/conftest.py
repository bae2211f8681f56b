"""Helpers for running `monitor` with a configuration file, as an operator does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "feeds" / "samples"


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m monitor ARGS` in `cwd` with no MONITOR_* variables but `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    base["PYTHONPATH"] = str(ROOT)
    base.update(env or {})
    command = [sys.executable, "-m", "monitor", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=base, timeout=120)


def run_json(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, dict]:
    """Run a --json command; its exit code and the object it printed."""
    result = run(*args, cwd=cwd, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.fixture
def feedlists(tmp_path):
    """Three one-feed lists (a.yaml, b.yaml, c.yaml), each naming a different local sample."""
    shutil.copytree(SAMPLES, tmp_path / "samples")
    for name, sample in (("a", "euphrates_wire.rss.xml"), ("b", "levant_desk.atom"),
                         ("c", "badia_bulletin.rdf")):  # fmt: skip
        (tmp_path / f"{name}.yaml").write_text(
            f"feeds:\n  - id: feed-{name}\n    path: samples/{sample}\n", encoding="utf-8"
        )
    return tmp_path

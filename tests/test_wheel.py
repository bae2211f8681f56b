"""The wheel carries the default rule pack: installed alone, `monitor` works with no ./rules.

The wheel is built from a copy of the sources (so the build leaves nothing in the checkout) with
the dev environment's setuptools, and installed with --no-deps into a fresh virtual environment
outside the checkout; a .pth file lends it the dev environment's installed dependencies, so
nothing is downloaded. Everything runs from a temporary folder, so the checkout's rules/ cannot
be what the commands find.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "feeds" / "samples" / "euphrates_wire.rss.xml"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _run(*args: str | Path, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(cwd)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of pyproject.toml, setup.py, README.md, monitor/, rules/."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("monitor", "rules"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "pip", "wheel", src, "--no-deps", "--no-build-isolation",
         "--no-cache-dir", "-q", "-w", out, cwd=src)  # fmt: skip
    (built,) = out.glob("news_monitor-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with only the wheel installed (dependencies lent)."""
    root = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", "--without-pip", root, cwd=root)
    python = root / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q",
         "--no-index", wheel, cwd=root)  # fmt: skip
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root
        ).stdout.strip()
    )
    (site / "dev-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root


def test_the_wheel_holds_the_pack_and_its_lexicons(wheel):
    """Every YAML file of rules/ is in the wheel under monitor/_pack/, lexicons included."""
    names = set(zipfile.ZipFile(wheel).namelist())
    pack = {
        f"monitor/_pack/{p.relative_to(REPO / 'rules')}" for p in (REPO / "rules").rglob("*.yaml")
    }
    assert any("/lexicons/" in n for n in pack)
    assert pack <= names
    assert "monitor/py.typed" in names


def test_the_wheel_holds_every_module(wheel):
    """setup.py finds the packages: a package added under monitor/ is in the wheel too."""
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(REPO)) for p in (REPO / "monitor").rglob("*.py")}
    assert modules <= names


def test_the_installed_monitor_runs_on_its_own_pack(venv, tmp_path):
    """From a folder without rules/: rules check, match and watch --once use the bundled pack."""
    bin_ = venv / "bin"
    where = _run(bin_ / "python", "-c", "import monitor; print(monitor.__file__)", cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv)
    assert not Path(where.stdout.strip()).is_relative_to(REPO)

    check = _run(bin_ / "monitor", "rules", "check", cwd=tmp_path)
    assert "OK: 17 file(s), 9 rule(s), 2 correlation rule(s), 151 lexicon(s)" in check.stdout

    item = {"title": "US convoy moves toward Abu Kamal crossing"}
    match = _run(bin_ / "monitor", "match", "-", cwd=tmp_path, stdin=json.dumps(item))
    assert "troop-movement" in {m["rule"] for m in json.loads(match.stdout)["matches"]}

    shutil.copy(SAMPLE, tmp_path / "wire.xml")
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - id: wire\n    path: wire.xml\n")
    watch = _run(bin_ / "monitor", "--db", tmp_path / "m.db", "watch", "--once", "--json",
                 "--feeds", tmp_path / "feeds.yaml", cwd=tmp_path)  # fmt: skip
    report = json.loads(watch.stdout)
    assert report["polls"][0]["new_items"] == 17
    assert "troop-movement" in {a["rule_id"] for a in report["alerts"]}

"""The README's examples run as written.

Every ```python block is run on its own (a fresh interpreter, nothing carried over from an
earlier block) in a scratch folder that holds what the README says a reader has beside them:
the feed list and samples of `feeds/`, an items file `today.jsonl`, a feed file `feed.xml`,
and `myrules/` written from the tutorial's own YAML block. A block that names a PostgreSQL
server runs against `MONITOR_TEST_PG` in a schema of its own.

The tutorial's shell session is replayed too: `rules check`, `rules explain` and `match` must
print what the README shows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
MONITOR = str(Path(sys.executable).with_name("monitor"))
PG = os.environ.get("MONITOR_TEST_PG")
PG_IN_README = re.compile(r"postgresql://monitor@db/monitor(\?schema=\w+)?")

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def _blocks(language: str) -> list[tuple[int, str]]:
    """(line number, code) of every fenced block in `language`."""
    return [
        (README.count("\n", 0, m.start()) + 1, m.group(2))
        for m in _FENCE.finditer(README)
        if m.group(1) == language
    ]


def _tutorial_rule() -> str:
    [rule] = [code for _, code in _blocks("yaml") if "id: convoy-at-crossing" in code]
    return rule


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out as the README's reader has it."""
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(REPO / "feeds", root / "feeds")
    (root / "myrules").mkdir()
    (root / "myrules" / "convoy-at-crossing.yaml").write_text(_tutorial_rule(), encoding="utf-8")
    items = [
        {"id": "t1", "title": "Convoy of armoured vehicles crosses into Deir ez-Zor province",
         "source": "wire-b", "published": "2026-03-01T09:00:00Z"},
        {"id": "t2", "title": "Ministry denies reports of troop withdrawal from al-Tanf",
         "source": "wire-c", "published": "2026-03-01T10:00:00Z"},
    ]  # fmt: skip
    (root / "today.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    shutil.copy(REPO / "feeds" / "samples" / "euphrates_wire.rss.xml", root / "feed.xml")
    (root / "items.jsonl").write_text(
        json.dumps({"id": "a1", "summary": "A convoy moved toward Abu Kamal."}) + "\n"
    )
    return root


def _run(args: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": "", "COLUMNS": "200"}
    env.pop("MONITOR_CONFIG", None)
    env.pop("MONITOR_DB", None)
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False, **kw
    )


PYTHON_BLOCKS = _blocks("python")


def test_the_readme_has_python_examples() -> None:
    assert len(PYTHON_BLOCKS) >= 8


@pytest.mark.parametrize(
    ("line", "code"), PYTHON_BLOCKS, ids=[f"line{n}" for n, _ in PYTHON_BLOCKS]
)
def test_python_example_runs_as_written(sandbox: Path, line: int, code: str) -> None:
    """Each block runs alone in a fresh interpreter; only a PostgreSQL address is swapped for
    the test server's (in a schema of its own, dropped afterwards)."""
    schema = None
    if PG_IN_README.search(code):
        if PG is None:
            pytest.skip("PostgreSQL tests need MONITOR_TEST_PG=postgresql://... (CI sets it)")
        schema = f"readme_{uuid.uuid4().hex[:8]}"
        code = PG_IN_README.sub(f"{PG}?schema={schema}", code)
    try:
        done = _run([sys.executable, "-c", code], sandbox)
    finally:
        if schema is not None:
            import psycopg

            with psycopg.connect(PG, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    assert done.returncode == 0, f"README.md:{line}: example failed\n{done.stderr[-3000:]}"


def test_the_library_example_prints_what_its_comment_says(sandbox: Path) -> None:
    """The first example's `print(report.stored, ...)  # 1 [...]` comment is its real output."""
    line, code = PYTHON_BLOCKS[0]
    expected = re.search(r"print\(report\.stored.*#\s*(.+)$", code, re.M)
    assert expected is not None, "the first example lost its commented output"
    scratch = sandbox / "first-example"
    scratch.mkdir(exist_ok=True)
    for name in ("today.jsonl", "feed.xml", "feeds"):
        target = sandbox / name
        link = scratch / name
        if not link.exists():
            link.symlink_to(target, target_is_directory=target.is_dir())
    done = _run([sys.executable, "-c", code], scratch)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[0] == expected.group(1).strip(), f"README.md:{line}"


def _shown_after(marker: str) -> str:
    """The text block that follows the paragraph containing `marker`."""
    start = README.index(marker)
    match = _FENCE.search(README, start)
    assert match is not None
    return match.group(2)


def test_tutorial_rules_check_prints_what_the_readme_shows(sandbox: Path) -> None:
    shown = _shown_after("**2. Check it.**")
    command, output = shown.splitlines()[:2]
    assert command == "$ monitor rules check myrules"
    done = _run([MONITOR, "rules", "check", "myrules"], sandbox)
    assert done.returncode == 0, done.stderr
    prefix = output.split("hash")[0]
    assert done.stdout.startswith(prefix), done.stdout


def test_tutorial_misspelt_modifier_error_is_the_one_shown(sandbox: Path) -> None:
    quoted = re.search(r"`(myrules/convoy-at-crossing\.yaml:\d+:\d+: error: [^`]+)`", README)
    assert quoted is not None
    broken = sandbox / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "convoy-at-crossing.yaml").write_text(
        _tutorial_rule().replace("text|expand|near=12", "text|expand|nera=12")
    )
    done = _run([MONITOR, "rules", "check", "broken"], sandbox)
    assert done.returncode == 4
    expected = quoted.group(1).replace("myrules/", "broken/")
    assert expected in done.stdout + done.stderr


def test_tutorial_explain_prints_what_the_readme_shows(sandbox: Path) -> None:
    shown = _shown_after("**4. See why.**")
    done = _run(
        [MONITOR, "rules", "explain", "convoy-at-crossing", "A convoy moved toward Abu Kamal.",
         "--rules", "myrules"],
        sandbox,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == shown.strip()


def test_tutorial_match_prints_what_the_readme_shows(sandbox: Path) -> None:
    shown = json.loads(_shown_after("**5. Try it on your data.**"))
    done = _run([MONITOR, "match", "--rules", "myrules", "items.jsonl"], sandbox)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[0]) == shown

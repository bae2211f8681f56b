"""Several processes on one SQLite log file: concurrent appends of the same items, and locks.

The writers are real processes (``tests/log/_child.py append-items``), started together and
released at the same instant, each appending the same items in its own shuffled order, so their
batches overlap in every way. SQLite serialises them; the log must turn that into: every item
stored exactly once, gap-free positions, an intact chain, and no "database is locked" reaching
the caller. The lock tests hold SQLite's write lock from another process on purpose.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pytest

from monitor.errors import LogLockedError
from monitor.log import NewRecord, open_log
from tests.log._child import ITEM_TYPE

REPO = Path(__file__).resolve().parents[2]
ITEMS = 5000
BATCH = 50


def _spawn(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def run_writers(tmp_path: Path, writers: int, *, precreate: bool) -> Path:
    """Start `writers` processes appending items 0..ITEMS-1 in different orders to one file,
    release them together, and assert each exited cleanly. Returns the database path."""
    db = tmp_path / "shared.db"
    go = tmp_path / "go"
    if precreate:
        open_log(db).close()
    procs = [
        _spawn(
            "-m",
            "tests.log._child",
            "append-items",
            str(db),
            f"w{w}",
            str(ITEMS),
            str(w),
            str(BATCH),
            str(go),
        )
        for w in range(writers)
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        go.touch()
        outputs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    stored = dup = 0
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"a writer failed:\n{err}"
        assert "Traceback" not in err and "locked" not in err.lower(), err
        _, s, _, d = out.split()
        stored += int(s)
        dup += int(d)
    assert stored == ITEMS, f"writers report {stored} stored items, want {ITEMS}"
    assert dup == ITEMS * (writers - 1)
    return db


def check_items(db: Path) -> None:
    """Assert the file holds every item exactly once at positions 1..ITEMS, chain intact."""
    with open_log(db) as log:
        assert log.verify().ok
        assert log.head() == ITEMS
        records = list(log.read())
    assert [r.position for r in records] == list(range(1, ITEMS + 1))
    keys = Counter(r.dedupe_key for r in records)
    assert keys == Counter(f"item:{n:05d}" for n in range(ITEMS))
    for r in records:
        assert r.type == ITEM_TYPE
        assert r.dedupe_key == f"item:{json.loads(r.data)['n']:05d}"


@pytest.mark.slow
def test_two_processes_append_the_same_items_on_a_new_file(tmp_path):
    """Two writers creating and filling one new file with the same 5,000 items store each once,
    gap-free, chain intact, and neither sees a lock error."""
    check_items(run_writers(tmp_path, 2, precreate=False))


@pytest.mark.slow
def test_two_processes_append_the_same_items_on_an_existing_file(tmp_path):
    """The same race on a log that already exists (no schema creation in the race)."""
    check_items(run_writers(tmp_path, 2, precreate=True))


@pytest.mark.slow
def test_four_processes_append_the_same_items(tmp_path):
    """Four writers racing on one new file still store every item exactly once."""
    check_items(run_writers(tmp_path, 4, precreate=False))


_HOLDER = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    print("released", flush=True)
    """
)


def _hold_lock(db: Path) -> subprocess.Popen:
    """Start a process that holds SQLite's write lock on `db` until told to let go."""
    holder = _spawn("-c", _HOLDER, str(db))
    assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
    return holder


def _release(holder: subprocess.Popen) -> None:
    out, err = holder.communicate("go\n", timeout=30)
    assert holder.returncode == 0 and "released" in out, err


def _items(start: int, count: int) -> list[NewRecord]:
    return [
        NewRecord(ITEM_TYPE, 1, json.dumps({"n": n}).encode(), f"item:{n:05d}")
        for n in range(start, start + count)
    ]


def test_lock_held_by_another_process_fails_clearly_and_loses_nothing(tmp_path):
    """With the write lock held elsewhere past the timeout, append raises LogLockedError naming
    the file and the fix; readers still work; after release the same batch is stored whole."""
    db = tmp_path / "locked.db"
    with open_log(db) as log:
        log.append(_items(0, 10))
    holder = _hold_lock(db)
    try:
        log = open_log(db, timeout=0.3)
        with pytest.raises(LogLockedError) as info:
            log.append(_items(10, 5))
        message = str(info.value)
        assert str(db) in message
        assert "locked" in message and "timeout" in message  # says what to do about it
        assert "\n" not in message
        assert log.head() == 10  # readers are not blocked, and nothing of the batch was stored
        assert [r.position for r in log.read()] == list(range(1, 11))
    finally:
        _release(holder)
    try:
        assert log.append(_items(10, 5)).positions == (11, 12, 13, 14, 15)
        assert log.verify().ok
        assert [r.dedupe_key for r in log.read()] == [f"item:{n:05d}" for n in range(15)]
    finally:
        log.close()


def test_lock_held_shorter_than_the_timeout_is_waited_for(tmp_path):
    """An append that meets a lock released within its timeout waits and succeeds."""
    db = tmp_path / "wait.db"
    open_log(db).close()
    holder = _hold_lock(db)

    def release() -> None:
        holder.stdin.write("go\n")
        holder.stdin.flush()

    releaser = threading.Timer(0.3, release)
    releaser.start()
    try:
        with open_log(db, timeout=30) as log:
            assert log.append(_items(0, 3)).positions == (1, 2, 3)
            assert log.verify().ok
    finally:
        releaser.join()
        out, err = holder.communicate(timeout=30)
        assert holder.returncode == 0 and "released" in out, err

"""Crash safety of the SQLite log: a writer killed with SIGKILL at random moments.

A child process (``tests/log/_child.py crash``) appends batches, advances a counting projection
(state + checkpoint via `commit_projection`) and a deriving subscriber (derived records +
checkpoint via ``append(..., checkpoint=...)``) in a loop. The parent kills it at a random moment
(seeded), then checks the file: the chain verifies, positions are gap-free, only whole batches
are stored, every acknowledged batch survived, and the projection and subscriber, resumed from
their checkpoints, have applied every record exactly once. Then it starts the next child on the
same file, which first retries the batch its predecessor was writing.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from monitor.log import EventLog, open_log
from tests.log._child import (
    DERIVED_TYPE,
    PROJECTION,
    SOURCE_TYPE,
    SUBSCRIBER,
    batch_records,
    projection_step,
    subscriber_step,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX-only"),
]

REPO = Path(__file__).resolve().parents[2]
BATCH = 40
KILLS = 15
SEED = 20260301


def _lines(path: Path) -> list[str]:
    """Complete lines of the child's ack file (a torn last line, if any, is ignored)."""
    if not path.exists():
        return []
    text = path.read_text()
    return text.split("\n")[:-1]


def _wait_ready(acks: Path, proc: subprocess.Popen, errs: Path, line: str = "ready") -> None:
    deadline = time.monotonic() + 60
    while line not in _lines(acks):
        if proc.poll() is not None:
            pytest.fail(
                f"child exited with {proc.returncode} before opening the log:\n{errs.read_text()}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("child did not open the log within 60 s")
        time.sleep(0.01)


def check_log(log: EventLog, acked: set[str]) -> tuple[list[int], int, int]:
    """Assert every crash invariant on `log`; return the source positions and the projection
    and subscriber checkpoints."""
    result = log.verify()
    assert result.ok, f"hash chain broken after a crash: {result}"
    records = list(log.read())
    head = log.head()
    assert [r.position for r in records] == list(range(1, head + 1)), "positions have a gap"

    batches: dict[str, list[tuple[int, int]]] = defaultdict(list)
    source_positions: list[int] = []
    derived_of: Counter[int] = Counter()
    for r in records:
        body = json.loads(r.data)
        if r.type == SOURCE_TYPE:
            assert r.dedupe_key == f"{body['batch']}:{body['i']}"
            batches[body["batch"]].append((body["i"], r.position))
            source_positions.append(r.position)
        else:
            assert r.type == DERIVED_TYPE
            derived_of[body["of"]] += 1

    for batch, members in batches.items():
        indexes = sorted(i for i, _ in members)
        assert indexes == list(range(BATCH)), f"batch {batch} is torn: has {indexes}"
        positions = sorted(p for _, p in members)
        assert positions == list(range(positions[0], positions[0] + BATCH)), (
            f"batch {batch} is not contiguous: {positions}"
        )
    lost = sorted(acked - batches.keys())
    assert not lost, f"acknowledged batches lost in the crash: {lost}"

    state = log.projection_state(PROJECTION)
    checkpoint = state.position if state else 0
    applied = dict(log.projection_scan(PROJECTION, "p:"))
    expected = {f"p:{p:010d}": 1 for p in source_positions if p <= checkpoint}
    assert applied == expected, "projection applied an event twice or skipped one"
    assert (log.projection_get(PROJECTION, "count") or 0) == len(expected)

    sub_checkpoint = log.get_checkpoint(SUBSCRIBER)
    assert derived_of == Counter(p for p in source_positions if p <= sub_checkpoint), (
        "subscriber handled a record twice or skipped one"
    )
    return source_positions, checkpoint, sub_checkpoint


def test_sigkill_at_random_moments_never_tears_loses_or_double_applies(tmp_path):
    """After each of 15 random SIGKILLs the log verifies, holds whole batches only, keeps every
    acknowledged batch, and projection and subscriber resume with each event applied once."""
    rng = random.Random(SEED)
    db = tmp_path / "crash.db"
    acked_all: set[str] = set()
    retries: list[tuple[str, str]] = []
    last_attempt: str | None = None
    for run in range(KILLS):
        acks = tmp_path / f"acks-{run}.txt"
        errs = tmp_path / f"stderr-{run}.txt"
        args = ["crash", str(db), str(acks), str(run), str(BATCH)]
        if last_attempt is not None:
            args.append(last_attempt)
        with errs.open("w") as err_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.log._child", *args],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=err_file,
            )
            try:
                _wait_ready(acks, proc, errs)
                time.sleep(rng.uniform(0.0, 0.25))
                alive = proc.poll() is None
                proc.send_signal(signal.SIGKILL)
            finally:
                proc.kill()
                proc.wait()
        assert alive, f"child died on its own (exit {proc.returncode}):\n{errs.read_text()}"
        assert "Traceback" not in errs.read_text()

        lines = _lines(acks)
        acked = {line.split()[1] for line in lines if line.startswith("acked ")}
        for line in lines:
            if line.startswith("retry "):
                _, batch, outcome = line.split()
                assert outcome in ("dup", "stored"), f"retry of {batch} was {outcome}"
                if batch in acked_all:
                    assert outcome == "dup", f"acknowledged batch {batch} was stored again"
                retries.append((batch, outcome))
        attempts = [line.split()[1] for line in lines if line.startswith("attempt ")]
        if attempts:
            last_attempt = attempts[-1]
        acked_all |= acked

        with open_log(db) as log:
            check_log(log, acked_all)
            # Resume both from their checkpoints, as the next start would, and check again.
            projection_step(log)
            subscriber_step(log)
            source, checkpoint, sub_checkpoint = check_log(log, acked_all)
            assert checkpoint == sub_checkpoint == (source[-1] if source else 0)

    assert acked_all, "no append was ever acknowledged: the kills all came too early"
    assert retries, "no restarted child retried its predecessor's batch"


def test_sigkill_while_creating_a_new_log_never_leaves_an_unusable_file(tmp_path):
    """A writer killed at random moments while it creates a new log leaves either no file or a
    complete, verifiable log that the next writer can open and append to."""
    rng = random.Random(SEED + 1)
    created = 0
    for attempt in range(12):
        db = tmp_path / f"new-{attempt}.db"
        acks = tmp_path / f"new-acks-{attempt}.txt"
        errs = tmp_path / f"new-stderr-{attempt}.txt"
        with errs.open("w") as err_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.log._child", "crash", str(db), str(acks), "0",
                 str(BATCH)],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=err_file,
            )  # fmt: skip
            try:
                _wait_ready(acks, proc, errs, "opening")
                time.sleep(rng.uniform(0.0, 0.15))  # opening a new log takes ~0.1 s
            finally:
                proc.kill()
                proc.wait()
        assert "Traceback" not in errs.read_text()
        acked = {line.split()[1] for line in _lines(acks) if line.startswith("acked ")}
        if db.exists():
            created += 1
        with open_log(db) as log:  # must open whatever the kill left behind
            check_log(log, acked)
            log.append(batch_records(f"next{attempt}", BATCH))
            check_log(log, acked | {f"next{attempt}"})
    assert created, "no kill came after the file was created"

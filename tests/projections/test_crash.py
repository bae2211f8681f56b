"""Crash test: a process folding a projection into SQLite is killed with SIGKILL at random
moments; every time, state and checkpoint agree, and resuming applies each event once."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import pytest

from monitor.log import open_log
from monitor.projections import ProjectionRunner
from tests.conftest import REPO, make_item

from .conftest import CountingProjection, seen_positions

CHILD = """
import sys
from monitor.log import open_log
from monitor.projections import ProjectionRunner
from tests.projections.conftest import CountingProjection
log = open_log(sys.argv[1])
print("ready", flush=True)
# A short lease, so the next child takes over soon after this one is killed holding it.
ProjectionRunner(log, [CountingProjection()], page_size=5, lease_ttl=0.3).run(
    progress=lambda done, total: print("page", done, flush=True)
)
print("done", flush=True)
"""


def consistent(path) -> int:
    """Assert the counting projection holds exactly positions 1..checkpoint, once each, and a
    count equal to the checkpoint; return the checkpoint."""
    with open_log(path) as log:
        state = log.projection_state("counting")
        checkpoint = 0 if state is None else state.position
        assert seen_positions(log) == {p: 1 for p in range(1, checkpoint + 1)}
        assert log.projection_get("counting", "count") in (None, checkpoint)
        return checkpoint


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX-only")
def test_sigkill_mid_fold_never_applies_twice_or_skips(tmp_path):
    """SIGKILL mid-fold leaves whole pages only; resuming applies every event once."""
    path = tmp_path / "crash.db"
    with open_log(path) as log:
        log.append_events([make_item(n) for n in range(1500)])
    rng = random.Random(20260301)
    checkpoints = []
    for _ in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        # Let it commit a random number of pages, then kill it wherever it is by then.
        for _ in range(rng.randint(1, 25)):
            child.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.005))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()
        checkpoints.append(consistent(path))
    assert checkpoints == sorted(checkpoints)
    assert 0 < checkpoints[-1] < 1500, "the kills should land mid-fold"
    with open_log(path) as log:
        assert ProjectionRunner(log, [CountingProjection()]).run() == {"counting": 1500}
    assert consistent(path) == 1500

"""The runner refuses to fold when records were lost behind its checkpoint (issue 13, part 2)."""

from __future__ import annotations

import pytest

from monitor.errors import LogRecordsLostError
from monitor.log import MemoryLog
from monitor.projections import ProjectionRunner
from tests.conftest import make_item
from tests.log.tamper import lose_tail

from .conftest import CountingProjection, seen_positions


def test_run_refuses_a_projection_past_the_head_instead_of_skipping(log):
    """After the tail is lost, run raises naming the projection, its checkpoint and the head,
    and says to run verify; nothing is folded."""
    log.append_events([make_item(n) for n in range(12)])
    runner = ProjectionRunner(log, [CountingProjection()])
    runner.run()
    lose_tail(log, 10)
    with pytest.raises(LogRecordsLostError) as caught:
        runner.run()
    assert str(caught.value).startswith(
        "projection 'counting' has folded up to 12 but the log ends at 10: the log lost "
        "records; run `monitor verify`"
    )
    assert log.projection_state("counting").position == 12


def test_new_records_at_the_lost_positions_are_never_silently_skipped():
    """On a memory log, which accepts appends after a lost tail, a record that takes a lost
    position (11, below the checkpoint 12) makes the run refuse instead of being skipped."""
    log = MemoryLog()
    log.append_events([make_item(n) for n in range(12)])
    runner = ProjectionRunner(log, [CountingProjection()])
    runner.run()
    lose_tail(log, 10)
    log.append_events([make_item(100)])  # takes position 11, which was folded before
    with pytest.raises(LogRecordsLostError, match="folded up to 12 but the log ends at 11"):
        runner.run()


def test_rebuild_is_the_way_out(log):
    """rebuild (monitor replay) drops and refolds from what remains, then runs work again."""
    log.append_events([make_item(n) for n in range(12)])
    runner = ProjectionRunner(log, [CountingProjection()])
    runner.run()
    lose_tail(log, 10)
    assert runner.rebuild() == {"counting": 10}
    assert seen_positions(log) == {p: 1 for p in range(1, 11)}
    assert runner.run() == {"counting": 10}

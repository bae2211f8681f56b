"""A checkpoint past the head is an error (issue 13, part 2).

When records are lost at the end of the log, checkpoints still point at them; the records
appended next would take the lost positions and be skipped by whatever had folded them. These
tests lose a tail behind the log's back and check that it is reported and refused.
"""

from __future__ import annotations

import pytest

from monitor.errors import LogRecordsLostError
from monitor.log import CheckpointPastHead, MemoryLog, NewRecord
from tests.log.tamper import lose_tail


def records(n: int, start: int = 0) -> list[NewRecord]:
    """n small records with distinct dedupe keys."""
    return [NewRecord("T", 1, b'{"v":"%d"}' % i, f"k{i}") for i in range(start, start + n)]


def damaged(log):
    """`log` with 12 records, a subscriber at 12, projections at 12 and 9, then the records
    after 8 lost."""
    log.append(records(12), checkpoint=("rules", 12))
    log.set_checkpoint("deliver:console", 5)
    log.commit_projection("items", 1, 12, {"a": 1})
    log.commit_projection("feeds", 1, 9, {"b": 2})
    lose_tail(log, 8)
    return log


def test_every_checkpoint_past_the_head_is_listed(log):
    """checkpoints_past_head names each projection and subscriber beyond the last record,
    with its position and the head; those at or before the head are not listed."""
    damaged(log)
    assert log.checkpoints_past_head() == (
        CheckpointPastHead("projection", "feeds", 9, 8),
        CheckpointPastHead("projection", "items", 12, 8),
        CheckpointPastHead("subscriber", "rules", 12, 8),
    )
    assert "subscriber 'rules' has processed records up to 12 but the log ends at 8" in str(
        log.checkpoints_past_head()[2]
    )


def test_verify_fails_at_the_first_missing_position_and_names_them_all(log):
    """The chain of what remains is intact, but verify fails: first_bad is the first lost
    position, the reason names every checkpoint past the head and what to do."""
    damaged(log)
    result = log.verify()
    assert (result.ok, result.checked, result.first_bad) == (False, 8, 9)
    assert len(result.past_head) == 3
    assert result.reason.startswith("records 9 to 12 are missing from the end of the log")
    for name in ("'feeds'", "'items'", "'rules'", "monitor replay"):
        assert name in result.reason


def test_an_intact_log_verifies_with_nothing_past_the_head(log):
    """Checkpoints at or before the head are normal: verify is ok and lists nothing."""
    log.append(records(3), checkpoint=("rules", 3))
    log.commit_projection("items", 1, 2, {})
    result = log.verify()
    assert result.ok and result.past_head == () and log.checkpoints_past_head() == ()


def test_database_backends_refuse_new_records_until_it_is_dealt_with(log):
    """Appending records while a checkpoint is past the head is refused with a message that
    names it and says what to do; nothing is stored. The memory log cannot lose records and
    may hold another log's positions as checkpoints (a backtest's scratch log), so it
    appends as before."""
    damaged(log)
    if isinstance(log, MemoryLog):
        assert log.append(records(1, start=100)).positions == (9,)
        return
    with pytest.raises(LogRecordsLostError) as caught:
        log.append(records(2, start=100))
    message = str(caught.value)
    assert "projection 'feeds' has folded up to 9 but the log ends at 8" in message
    assert "the log lost records; run `monitor verify`" in message
    assert log.head() == 8
    log.set_checkpoint("other", 3)  # a checkpoint alone adds no record: allowed
    assert log.get_checkpoint("other") == 3


def test_rewind_drops_projections_and_moves_subscribers_to_the_head(log):
    """rewind_past_head drops the projections past the head (they are rebuilt from what
    remains), moves subscribers back to the head, leaves the others, and appends work
    again; the records are untouched."""
    damaged(log)
    rewound = log.rewind_past_head()
    assert [(r.kind, r.name) for r in rewound] == [
        ("projection", "feeds"),
        ("projection", "items"),
        ("subscriber", "rules"),
    ]
    assert log.projection_state("items") is None and log.projection_state("feeds") is None
    assert log.get_checkpoint("rules") == 8 and log.get_checkpoint("deliver:console") == 5
    assert log.checkpoints_past_head() == () and log.verify().ok
    assert log.append(records(1, start=100)).positions == (9,)

"""`ScratchOutput`, where a backtest's evaluator writes: idempotent by dedupe key, checkpoints
move with their batch, and with a tally nothing is kept (memory follows what is counted)."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.alerting import ScratchOutput
from monitor.events import AlertSuppressed, EntitiesExtracted

T = datetime(2026, 3, 1, 8, tzinfo=UTC)


def _repeat(n: int) -> AlertSuppressed:
    return AlertSuppressed(
        alert_id=f"a{n}",
        folded_into="a0",
        rule_id="r",
        group_key=None,
        item_ids=(f"i{n}",),
        event_time=T,
    )


def _entities(n: int) -> EntitiesExtracted:
    return EntitiesExtracted.for_item(
        item_id=f"i{n}", feed_id="f", entities=("place:x",), event_time=T
    )


def test_appends_are_idempotent_by_dedupe_key_and_move_the_checkpoint():
    out = ScratchOutput()
    first = out.append_events([_repeat(1), _entities(1)], checkpoint=("backtest", 7))
    again = out.append_events([_repeat(1), _repeat(2)], checkpoint=("backtest", 9))
    assert first.positions == (1, 2)
    assert again.positions == (None, 3) and again.duplicates == 1
    assert out.get_checkpoint("backtest") == 9 and out.get_checkpoint("other") == 0
    kept = [(r.position, e.alert_id) for r, e in out.iter_events(types=("AlertSuppressed",))]
    assert kept == [(1, "a1"), (3, "a2")]
    assert [r.position for r, _ in out.iter_events(2)] == [3]
    assert len(out) == 3


def test_a_tallying_scratch_hands_each_new_event_over_once_and_keeps_none():
    seen: list[str] = []
    out = ScratchOutput(tally=lambda evt: seen.append(evt.dedupe_key()))
    out.append_events([_repeat(1), _repeat(2)])
    result = out.append_events([_repeat(2), _repeat(3)])
    assert result.positions == (None, 3)
    assert seen == ["suppressed:a1", "suppressed:a2", "suppressed:a3"]
    assert list(out.iter_events()) == [] and len(out) == 3

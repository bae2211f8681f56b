"""The runner: checkpoints, versions, failures, atomic commits, type filtering, progress."""

from __future__ import annotations

from typing import ClassVar

import pytest

from monitor.errors import LogError, ProjectionError
from monitor.events import Event, FeedPolled, RulesetLoaded
from monitor.log import MemoryLog, Record
from monitor.projections import (
    BUILTIN_PROJECTIONS,
    Projection,
    ProjectionRunner,
    StateView,
)
from tests.conftest import make_item

from .conftest import CountingProjection, FlakyLog, seen_positions


def items(n: int, start: int = 0, feed: str = "wire") -> list:
    """n distinct ItemReceived events."""
    return [make_item(i, feed=feed) for i in range(start, start + n)]


class ItemsOnly(Projection):
    """Counts ItemReceived events only."""

    name: ClassVar[str] = "items_only"
    version: ClassVar[int] = 1
    types: ClassVar[frozenset[str]] = frozenset({"ItemReceived"})

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        state.put("n", state.get("n", 0) + 1)


class Exploding(CountingProjection):
    """A counting projection that fails on the record at position `fail_at`."""

    name: ClassVar[str] = "exploding"

    def __init__(self, fail_at: int | None) -> None:
        self.fail_at = fail_at

    def apply(self, event: Event, record: Record, state: StateView) -> None:
        if record.position == self.fail_at:
            raise KeyError("boom")
        super().apply(event, record, state)


def test_run_folds_everything_once_and_reports_checkpoints(log):
    """A run folds each record exactly once and returns each projection's checkpoint."""
    log.append_events(items(25))
    runner = ProjectionRunner(log, [CountingProjection()], page_size=7)
    assert runner.run() == {"counting": 25}
    assert seen_positions(log) == {p: 1 for p in range(1, 26)}
    assert log.projection_get("counting", "count") == 25


def test_second_run_resumes_from_checkpoint(log):
    """A later run folds only the records appended since the last one."""
    runner = ProjectionRunner(log, [CountingProjection()], page_size=4)
    log.append_events(items(10))
    runner.run()
    log.append_events(items(5, start=10))
    assert runner.run() == {"counting": 15}
    assert seen_positions(log) == {p: 1 for p in range(1, 16)}


def test_run_until_stops_at_that_position(log):
    """`run(until=N)` folds records up to N and leaves the checkpoint there."""
    log.append_events(items(10))
    runner = ProjectionRunner(log, [CountingProjection()], page_size=3)
    assert runner.run(until=5) == {"counting": 5}
    assert sorted(seen_positions(log)) == [1, 2, 3, 4, 5]
    assert runner.run() == {"counting": 10}


def test_projection_reads_only_its_types_and_checkpoint_passes_the_rest(log):
    """A typed projection sees only its types, and its checkpoint still reaches the head."""
    log.append_events(items(3))
    rs = RulesetLoaded(ruleset_hash="h", rules=[], loaded_at="2026-03-01T00:00:00Z")
    log.append_events([rs, rs])
    runner = ProjectionRunner(log, [ItemsOnly()], page_size=2)
    assert runner.run() == {"items_only": 5}
    assert log.projection_get("items_only", "n") == 3
    assert runner.status()[0].lag == 0


def test_runner_asks_the_log_for_the_union_of_types_only():
    """The runner passes the union of its projections' types to read_page."""
    asked = []

    class Spy(MemoryLog):
        def read_page(self, after, limit, types=None):
            asked.append(None if types is None else frozenset(types))
            return super().read_page(after, limit, types)

    log = Spy()
    log.append_events(items(3))
    ProjectionRunner(log, [ItemsOnly(), BUILTIN_PROJECTIONS[0]()]).run()
    assert asked and all(
        t == {"ItemReceived", "FeedPolled", "FeedFailed", "FeedMoved", "FeedDisabled"}
        for t in asked
    )


def test_projections_at_different_checkpoints_each_fold_once(log):
    """A new projection added later catches up from 0 while the old one resumes."""
    log.append_events(items(6))
    ProjectionRunner(log, [CountingProjection()], page_size=4).run()
    log.append_events(items(4, start=6))

    class Late(CountingProjection):
        name: ClassVar[str] = "late"

    ProjectionRunner(log, [CountingProjection(), Late()], page_size=4).run()
    assert seen_positions(log) == {p: 1 for p in range(1, 11)}
    assert seen_positions(log, "late") == {p: 1 for p in range(1, 11)}


def test_version_bump_drops_and_rebuilds(log):
    """A projection whose stored version differs is rebuilt from 0, not folded on top."""
    log.append_events(items(5))
    ProjectionRunner(log, [CountingProjection()]).run()

    class CountingV2(CountingProjection):
        version: ClassVar[int] = 2

        def apply(self, event, record, state):
            state.put("count", state.get("count", 0) + 10)

    runner = ProjectionRunner(log, [CountingV2()])
    (status,) = runner.status()
    assert status.stale and status.stored_version == 1 and status.version == 2
    runner.run()
    assert log.projection_get("counting", "count") == 50
    assert seen_positions(log) == {}  # the v1 keys were dropped
    assert log.projection_state("counting").version == 2


def test_rebuild_replays_from_zero_with_the_same_result(log):
    """`rebuild` drops the state and replays it, ending where `run` did with equal state."""
    log.append_events(items(9))
    runner = ProjectionRunner(log, [CountingProjection()], page_size=2)
    runner.run()
    before = log.projection_scan("counting")
    assert runner.rebuild() == {"counting": 9}
    assert log.projection_scan("counting") == before


def test_rebuild_of_unknown_name_is_a_clear_error(log):
    """Naming a projection the runner does not have lists the known ones."""
    runner = ProjectionRunner(log, [CountingProjection()])
    with pytest.raises(ProjectionError, match="unknown projection 'nope'; known: counting"):
        runner.rebuild(["nope"])


def test_failing_apply_raises_and_keeps_last_committed_page(log):
    """A failing apply raises a chained ProjectionError; checkpoints stay at the last page."""
    log.append_events(items(10))
    runner = ProjectionRunner(log, [CountingProjection(), Exploding(fail_at=8)], page_size=3)
    with pytest.raises(ProjectionError) as info:
        runner.run()
    err = info.value
    assert "'exploding'" in str(err) and "position 8" in str(err) and "ItemReceived" in str(err)
    assert (err.projection, err.position, err.event_type) == ("exploding", 8, "ItemReceived")
    assert isinstance(err.__cause__, KeyError)
    assert log.projection_state("exploding").position == 6
    assert log.projection_state("counting").position == 6
    assert seen_positions(log, "exploding") == {p: 1 for p in range(1, 7)}
    # Fixed, the next run folds the rest exactly once.
    ProjectionRunner(log, [CountingProjection(), Exploding(fail_at=None)], page_size=3).run()
    assert seen_positions(log, "exploding") == {p: 1 for p in range(1, 11)}
    assert seen_positions(log) == {p: 1 for p in range(1, 11)}


def test_undecodable_record_is_a_projection_error(log):
    """A stored record that cannot be decoded stops the run with a ProjectionError."""
    from monitor.log import NewRecord

    log.append_events(items(2))
    log.append([NewRecord("ItemReceived", 1, b"{not json", "bad")])
    with pytest.raises(ProjectionError, match="position 3"):
        ProjectionRunner(log, [CountingProjection()], page_size=2).run()
    assert log.projection_state("counting").position == 2


def test_projection_without_decode_gets_records_only(log):
    """A decode=False projection gets event=None and never trips on undecodable records."""
    from monitor.log import NewRecord

    given = []

    class Raw(CountingProjection):
        decode: ClassVar[bool] = False

        def apply(self, event, record, state):
            given.append(event)
            super().apply(event, record, state)

    log.append_events(items(2))
    log.append([NewRecord("ItemReceived", 1, b"{not json", "bad")])
    assert ProjectionRunner(log, [Raw()]).run() == {"counting": 3}
    assert given == [None, None, None]
    assert seen_positions(log) == {1: 1, 2: 1, 3: 1}


def test_non_json_value_is_a_projection_error(log):
    """A projection that stores a non-JSON value fails with a ProjectionError, not a crash."""

    class Bad(CountingProjection):
        name: ClassVar[str] = "bad"

        def apply(self, event, record, state):
            state.put("x", {1, 2})

    log.append_events(items(1))
    with pytest.raises(ProjectionError, match="not JSON"):
        ProjectionRunner(log, [Bad()]).run()
    assert log.projection_state("bad") is None


@pytest.mark.parametrize("fail_on", [{1}, {2}, {3}, {2, 3}, {4}])
def test_failed_commit_applies_nothing_and_rerun_is_exactly_once(log, fail_on):
    """A failed commit leaves no partial page; re-running applies every event exactly once."""
    log.append_events(items(10))
    flaky = FlakyLog(log, fail_on=fail_on)
    runner = ProjectionRunner(flaky, [CountingProjection()], page_size=3)
    for _ in range(len(fail_on)):
        with pytest.raises(LogError, match="simulated crash"):
            runner.run()
        state = log.projection_state("counting")
        checkpoint = 0 if state is None else state.position
        assert seen_positions(log) == {p: 1 for p in range(1, checkpoint + 1)}
        assert log.projection_get("counting", "count") in (None, checkpoint)
    assert runner.run() == {"counting": 10}
    assert seen_positions(log) == {p: 1 for p in range(1, 11)}
    assert log.projection_get("counting", "count") == 10


def test_runner_refuses_to_fold_over_a_checkpoint_moved_by_another(log):
    """A checkpoint moved by another runner mid-run stops this one before double-applying."""
    log.append_events(items(6))

    class Racing(FlakyLog):
        def commit_projection(self, name, version, position, changes):
            super().commit_projection(name, version, position, changes)
            if self.commits == 1:  # meanwhile another runner folds the next record
                self.inner.commit_projection(name, version, position + 1, {})

    runner = ProjectionRunner(Racing(log), [CountingProjection()], page_size=3)
    with pytest.raises(ProjectionError, match="another runner"):
        runner.run()


def test_progress_reports_positions_up_to_total(log):
    """Progress is called with non-decreasing `done` and ends at (total, total)."""
    log.append_events(items(10))
    calls = []
    ProjectionRunner(log, [CountingProjection()], page_size=4).run(
        progress=lambda d, t: calls.append((d, t))
    )
    assert calls[-1] == (10, 10)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert all(t == 10 for _, t in calls)


def test_status_reports_lag_against_head(log):
    """`status` gives the checkpoint, the head and the lag of each projection."""
    log.append_events(items(4))
    runner = ProjectionRunner(log, [CountingProjection()])
    (before,) = runner.status()
    assert (before.stored_version, before.checkpoint, before.lag) == (None, 0, 4)
    runner.run()
    log.append_events(items(3, start=4))
    (after,) = runner.status()
    assert (after.checkpoint, after.head, after.lag, after.stale) == (4, 7, 3, False)


def test_default_runner_runs_every_builtin(log):
    """Without a list the runner runs the built-ins under their stable names."""
    runner = ProjectionRunner(log)
    assert [p.name for p in runner.projections] == [
        "feed_status",
        "items_by_feed_day",
        "item_versions",
        "alert_timeline",
        "rule_hits",
        "entity_mentions",
    ]
    log.append_events([FeedPolled(feed_id="f", url="u", polled_at="2026-03-01T00:00:00Z")])
    assert set(runner.run().values()) == {1}


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"name": ""}, "has no name"),
        ({"version": 0}, "version must be an int >= 1"),
        ({"types": frozenset({"ItemRecieved"})}, "unknown event type 'ItemRecieved'"),
        ({"types": "ItemReceived"}, "types must be a frozenset"),
    ],
)
def test_invalid_projection_is_refused_clearly(attrs, message):
    """A projection with a bad name, version or types is refused with what to fix."""
    bad = type("Bad", (CountingProjection,), attrs)()
    with pytest.raises(ProjectionError, match=message):
        ProjectionRunner(MemoryLog(), [bad])


def test_duplicate_projection_names_are_refused():
    """Two projections under one name would share state, so the runner refuses them."""
    with pytest.raises(ProjectionError, match="two projections are named 'counting'"):
        ProjectionRunner(MemoryLog(), [CountingProjection(), CountingProjection()])

"""The contract every log backend keeps; runs once per backend (see conftest.py)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.events import ItemReceived
from monitor.log import GENESIS, MemoryLog, NewRecord, record_hash
from tests.conftest import make_item


def rec(n: int, key: str | None = "auto", type_: str = "T") -> NewRecord:
    """A small record; `key="auto"` gives it the dedupe key k<n>."""
    return NewRecord(type_, 1, f'{{"n":{n}}}'.encode(), f"k{n}" if key == "auto" else key)


class TestAppend:
    def test_positions_start_at_one_and_are_gap_free(self, log):
        """Appends number records 1, 2, 3, ... across batches."""
        assert log.head() == 0
        assert log.append([rec(1), rec(2)]).positions == (1, 2)
        assert log.append([rec(3)]).positions == (3,)
        assert [r.position for r in log.read()] == [1, 2, 3]
        assert log.head() == 3

    def test_duplicate_key_is_not_stored_and_is_reported(self, log):
        """A record whose dedupe key exists stores nothing and comes back as None."""
        log.append([rec(1)])
        result = log.append([rec(1), rec(2)])
        assert result.positions == (None, 2)
        assert result.duplicates == 1
        assert result.stored == (2,)
        assert log.head() == 2

    def test_first_copy_of_a_key_within_a_batch_wins(self, log):
        """Two records with one key in the same batch: the first is stored, the second is not."""
        first = NewRecord("T", 1, b'{"copy":1}', "same")
        second = NewRecord("T", 1, b'{"copy":2}', "same")
        assert log.append([first, second]).positions == (1, None)
        assert [r.data for r in log.read()] == [b'{"copy":1}']

    def test_records_without_key_are_always_stored(self, log):
        """Records with no dedupe key are never treated as duplicates."""
        result = log.append([rec(1, key=None), rec(1, key=None)])
        assert result.positions == (1, 2)

    def test_empty_append_stores_nothing(self, log):
        """Appending an empty batch is a no-op."""
        assert log.append([]).positions == ()
        assert log.head() == 0

    def test_failed_batch_stores_nothing(self, log):
        """A batch that fails part-way leaves no trace: appends are atomic."""
        log.append([rec(1)])
        bad = NewRecord("T", 1, None, "bad")  # type: ignore[arg-type]
        with pytest.raises(Exception):  # noqa: B017 - backends raise their own type here
            log.append([rec(2), bad])
        assert log.head() == 1
        assert log.append([rec(2)]).positions == (2,)

    def test_stored_record_round_trips_every_field(self, log):
        """What is read back is exactly what was appended, plus position, time and hash."""
        log.append([NewRecord("ItemReceived", 3, b"\x00payload\xff", "key-1")])
        (record,) = log.read()
        assert (record.type, record.version, record.data, record.dedupe_key) == (
            "ItemReceived",
            3,
            b"\x00payload\xff",
            "key-1",
        )
        assert record.recorded_at > 0
        assert record.hash == record_hash(GENESIS, record)

    def test_append_events_uses_natural_dedupe_keys(self, log):
        """The same item appended twice through append_events is stored once."""
        item = make_item(1)
        assert log.append_events([item]).stored == (1,)
        assert log.append_events([item]).duplicates == 1
        ((record, event),) = list(log.iter_events())
        assert record.dedupe_key == f"item:{item.item_id}"
        assert event == item


class TestRead:
    def test_read_pages_through_everything_in_order(self, log):
        """read() with a small page size streams every record once, in order."""
        log.append([rec(n) for n in range(1, 26)])
        assert [r.position for r in log.read(page_size=4)] == list(range(1, 26))

    def test_read_after_and_until(self, log):
        """read(after, until) returns exactly the positions in (after, until]."""
        log.append([rec(n) for n in range(1, 11)])
        assert [r.position for r in log.read(3, until=7)] == [4, 5, 6, 7]

    def test_read_stops_at_the_head_seen_when_called(self, log):
        """Records appended while reading are not part of that read."""
        log.append([rec(n) for n in range(1, 6)])
        seen = []
        for record in log.read(page_size=2):
            seen.append(record.position)
            if record.position == 1:
                log.append([rec(99)])
        assert seen == [1, 2, 3, 4, 5]

    def test_read_filters_by_type(self, log):
        """read(types=...) returns only records of those types, across pages."""
        log.append([rec(n, type_="A" if n % 3 else "B") for n in range(1, 31)])
        got = [r.position for r in log.read(types={"B"}, page_size=2)]
        assert got == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]

    def test_read_page_respects_limit(self, log):
        """read_page returns at most `limit` records after the given position."""
        log.append([rec(n) for n in range(1, 11)])
        assert [r.position for r in log.read_page(2, 3)] == [3, 4, 5]
        assert log.read_page(10, 5) == []


class TestFollow:
    def test_follow_catches_up_then_sees_new_records(self, log):
        """A follower yields the existing records, then ones appended later by another thread."""
        log.append([rec(1), rec(2)])
        stop = threading.Event()
        seen: list[int] = []

        def writer():
            for n in range(3, 8):
                log.append([rec(n)])

        thread = threading.Thread(target=writer)
        for record in log.follow(0, stop=stop, poll_interval=0.05):
            seen.append(record.position)
            if record.position == 2:
                thread.start()
            if record.position == 7:
                stop.set()
        thread.join()
        assert seen == [1, 2, 3, 4, 5, 6, 7]

    def test_follow_with_types_skips_other_records(self, log):
        """A typed follower sees only its types, including ones appended after it caught up."""
        log.append([rec(1, type_="A"), rec(2, type_="B")])
        stop = threading.Event()
        seen: list[int] = []
        for record in log.follow(0, types={"B"}, stop=stop, poll_interval=0.05):
            seen.append(record.position)
            if record.position == 2:
                log.append([rec(3, type_="A"), rec(4, type_="B")])
            if record.position == 4:
                stop.set()
        assert seen == [2, 4]

    def test_wait_times_out_without_new_records(self, log):
        """wait() returns False when nothing newer than `after` arrives in time."""
        log.append([rec(1)])
        assert log.wait(0, 0.01) is True
        assert log.wait(1, 0.05) is False


class TestCheckpoints:
    def test_checkpoint_defaults_to_zero_and_persists(self, log):
        """An unknown subscriber starts at 0; set_checkpoint stores its position."""
        assert log.get_checkpoint("evaluator") == 0
        log.set_checkpoint("evaluator", 7)
        assert log.get_checkpoint("evaluator") == 7

    def test_append_with_checkpoint_is_one_transaction(self, log):
        """append(..., checkpoint=) stores the records and moves the checkpoint together."""
        log.append([rec(1)])
        log.append([rec(2)], checkpoint=("evaluator", 1))
        assert log.get_checkpoint("evaluator") == 1
        bad = NewRecord("T", 1, None, "bad")  # type: ignore[arg-type]
        with pytest.raises(Exception):  # noqa: B017 - backends raise their own type here
            log.append([bad], checkpoint=("evaluator", 2))
        assert log.get_checkpoint("evaluator") == 1


class TestProjectionStore:
    def test_commit_get_and_state(self, log):
        """Committed values come back by key, and the version and checkpoint are stored."""
        assert log.projection_state("p") is None
        log.commit_projection("p", 2, 10, {"a": {"n": 1}, "b": [1, 2]})
        assert log.projection_get("p", "a") == {"n": 1}
        assert log.projection_get("p", "missing") is None
        state = log.projection_state("p")
        assert (state.version, state.position) == (2, 10)

    def test_none_deletes_a_key(self, log):
        """A change to None removes the key."""
        log.commit_projection("p", 1, 1, {"a": 1, "b": 2})
        log.commit_projection("p", 1, 2, {"a": None})
        assert [k for k, _ in log.projection_scan("p")] == ["b"]

    def test_scan_prefix_order_limit_and_after(self, log):
        """scan pages through keys with a prefix, forwards or backwards."""
        log.commit_projection("p", 1, 1, {f"x:{i:02}": i for i in range(10)} | {"y:1": 1})
        assert [v for _, v in log.projection_scan("p", "x:", limit=3)] == [0, 1, 2]
        assert [v for _, v in log.projection_scan("p", "x:", after="x:02", limit=2)] == [3, 4]
        back = log.projection_scan("p", "x:", reverse=True, limit=2)
        assert [v for _, v in back] == [9, 8]
        again = log.projection_scan("p", "x:", reverse=True, after="x:08", limit=2)
        assert [v for _, v in again] == [7, 6]
        assert len(log.projection_scan("p")) == 11

    def test_projections_are_isolated_and_droppable(self, log):
        """Two projections do not see each other's keys; drop removes one entirely."""
        log.commit_projection("p", 1, 5, {"a": 1})
        log.commit_projection("q", 1, 6, {"a": 2})
        log.drop_projection("p")
        assert log.projection_get("p", "a") is None
        assert log.projection_state("p") is None
        assert log.projection_get("q", "a") == 2


class TestVerify:
    def test_intact_chain_verifies(self, log):
        """A log written only through append verifies, counting every record."""
        log.append([rec(n) for n in range(1, 51)])
        result = log.verify(page_size=7)
        assert result.ok and result.checked == 50 and result.first_bad is None

    def test_empty_log_verifies(self, log):
        """An empty log is a valid chain of length zero."""
        assert log.verify().ok

    def test_hashes_chain_each_record_to_the_previous(self, log):
        """Each stored hash covers the previous record's hash."""
        log.append([rec(1), rec(2)])
        first, second = log.read()
        assert second.hash == record_hash(first.hash, second)


def test_memory_log_tampering_is_found():
    """Changing one byte of a stored record makes verify point at that record."""
    log = MemoryLog()
    log.append([rec(n) for n in range(1, 6)])
    import attrs

    log._records[2] = attrs.evolve(log._records[2], data=b'{"n":X}')
    result = log.verify()
    assert not result.ok and result.first_bad == 3 and result.checked == 2


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(
        st.lists(st.one_of(st.none(), st.integers(0, 15)), max_size=8), min_size=1, max_size=12
    )
)
def test_any_appends_give_gap_free_positions_and_one_record_per_key(log, batches):
    """Property: any mix of appends and duplicate appends leaves positions 1..n, one per key."""
    start = log.head()
    prefix = f"run{start}-"  # the fixture's log is shared across examples: keep keys apart
    expected_keys: set[str] = set()
    expected_count = 0
    for batch in batches:
        records = [NewRecord("T", 1, b"{}", None if k is None else f"{prefix}{k}") for k in batch]
        result = log.append(records)
        for record, position in zip(records, result.positions, strict=True):
            fresh = record.dedupe_key is None or record.dedupe_key not in expected_keys
            assert (position is not None) == fresh
            if record.dedupe_key is not None:
                expected_keys.add(record.dedupe_key)
            expected_count += fresh
    stored = list(log.read(start))
    assert [r.position for r in stored] == list(range(start + 1, start + expected_count + 1))
    keys = [r.dedupe_key for r in stored if r.dedupe_key is not None]
    assert len(keys) == len(set(keys)) and set(keys) == expected_keys
    assert log.verify().ok


def test_item_received_survives_the_log(log):
    """An ItemReceived with every field set decodes to an equal event after storage."""
    item = make_item(
        5,
        url="https://example.org/a?utm_source=x",
        summary="Convoy seen near the crossing.",
        content="Longer text with ünïcödé and العربية",
        authors=("A. Writer",),
        tags=("syria", "iraq"),
        published="2026-02-28T23:00:00+03:00",
        lang="en",
        source="example.org",
    )
    log.append_events([item])
    ((_, event),) = list(log.iter_events())
    assert isinstance(event, ItemReceived)
    assert event == item
    assert event.published.isoformat() == "2026-02-28T20:00:00+00:00"

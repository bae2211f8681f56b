"""StateView (reads through its write buffer) and the key helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.projections import StateView, iter_from, iter_scan, key, sortable_time, utc_day
from monitor.projections._base import unkey


@pytest.fixture
def view(log) -> StateView:
    """A view on projection 'p' whose stored state holds a:1, b:2, c:3."""
    log.commit_projection("p", 1, 0, {"a": 1, "b": 2, "c": 3})
    return StateView(log, "p")


def test_get_reads_through_pending_writes(view, log):
    """`get` sees a put or delete before it is committed, and the store is unchanged."""
    view.put("a", 10)
    view.delete("b")
    assert (view.get("a"), view.get("b"), view.get("b", "none"), view.get("c")) == (
        10,
        None,
        "none",
        3,
    )
    assert log.projection_get("p", "a") == 1 and log.projection_get("p", "b") == 2


def test_get_returns_a_copy_of_a_pending_value(view):
    """Mutating a value returned by `get` changes nothing until it is put back."""
    view.put("d", {"n": [1]})
    got = view.get("d")
    got["n"].append(2)
    assert view.get("d") == {"n": [1]}


def test_put_none_is_refused(view):
    """None is not a storable value: `put` says to use `delete`."""
    with pytest.raises(ValueError, match="use delete"):
        view.put("a", None)


def test_scan_merges_pending_and_stored_in_key_order(view):
    """`scan` overlays pending puts/deletes on stored keys, honouring prefix, after, limit."""
    view.put("bb", 22)
    view.delete("c")
    view.put("a", 11)
    assert view.scan() == [("a", 11), ("b", 2), ("bb", 22)]
    assert view.scan("b") == [("b", 2), ("bb", 22)]
    assert view.scan(after="a") == [("b", 2), ("bb", 22)]
    assert view.scan(limit=2) == [("a", 11), ("b", 2)]


def test_clear_forgets_pending_writes(view):
    """After `clear` the view shows the stored state again."""
    view.put("a", 5)
    view.clear()
    assert view.get("a") == 1 and view.changes == {}


def test_iter_scan_and_iter_from_page_through_keys(log):
    """`iter_scan` streams every key in pages, both directions; `iter_from` starts inclusive."""
    log.commit_projection("p", 1, 0, {f"k{n:02d}": n for n in range(11)} | {"other": 0})
    assert [v for _, v in iter_scan(log, "p", "k", page=3)] == list(range(11))
    assert [v for _, v in iter_scan(log, "p", "k", page=4, reverse=True)] == list(range(10, -1, -1))
    assert [v for _, v in iter_from(log, "p", "k", "k05")] == list(range(5, 11))
    assert [v for _, v in iter_from(log, "p", "k", "k055")] == list(range(6, 11))
    assert [v for _, v in iter_from(log, "p", "k", "a")] == list(range(11))


def test_key_escapes_separators_and_preserves_prefixes():
    """`key` escapes ':' and '%' per part, so parts never run together, and `unkey` undoes it."""
    assert key("feed", "a:b") == "feed:a%3Ab"
    assert key("feed", "a%3Ab") == "feed:a%253Ab"
    assert key("feed", "a:b") != key("feed", "a%3Ab")
    assert key("e", "place:") + "x" == key("e", "place:x")
    assert unkey("a%253Ab%3Ac") == "a%3Ab:c"


def test_sortable_time_sorts_as_strings_and_utc_day():
    """Fixed-width UTC times sort as strings in time order; `utc_day` uses the UTC date."""
    t = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    times = [t, t + timedelta(microseconds=1), t + timedelta(seconds=1)]
    assert sorted(sortable_time(x) for x in reversed(times)) == [sortable_time(x) for x in times]
    assert sortable_time(t) == "2026-03-01T23:30:00.000000Z"
    east = datetime(2026, 3, 2, 4, 0, tzinfo=timezone(timedelta(hours=5)))
    assert utc_day(east) == "2026-03-01"

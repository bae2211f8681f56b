"""`EventLog.read_positions`: the records at the given positions, in order, on every backend;
positions the log does not hold are skipped."""

from __future__ import annotations

from tests.conftest import make_item


def test_read_positions_returns_exactly_those_records(log) -> None:
    log.append_events([make_item(n) for n in range(30)])
    wanted = [2, 3, 17, 29, 30]
    got = log.read_positions(wanted)
    assert [r.position for r in got] == wanted
    by_page = {r.position: r for r in log.read_page(0, 100)}
    assert got == [by_page[p] for p in wanted]
    assert [r.position for r in log.read_positions([5, 31, 999])] == [5]  # 31+ are not there
    assert log.read_positions([]) == []

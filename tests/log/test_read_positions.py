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


def test_read_key_prefix_finds_the_records_of_a_key_prefix_in_log_order(log) -> None:
    """Every record of the types whose dedupe key starts with the prefix, up to `until`;
    nothing else (other prefixes, other types, later records)."""
    from monitor.events import ItemRevised, content_hash

    items = [make_item(n) for n in range(6)]
    log.append_events(items)
    revisions = []
    for n in (1, 4):
        fields = {**{k: getattr(items[n], k) for k in ("item_id", "feed_id", "received")}}
        revised = make_item(n, title=f"revised {n}")
        revisions.append(
            ItemRevised(**fields, title=revised.title, content_hash=content_hash(revised))
        )
    log.append_events(revisions)
    found = log.read_key_prefix("revision:", ("ItemRevised",))
    assert [r.position for r in found] == [7, 8]
    assert [r.position for r in log.read_key_prefix("revision:", ("ItemRevised",), until=7)] == [7]
    assert [r.position for r in log.read_key_prefix("item:", ("ItemReceived",))] == list(
        range(1, 7)
    )
    assert log.read_key_prefix("alert:", ("AlertRaised",)) == []
    assert log.read_key_prefix("item:", ("ItemRevised",)) == []  # the type must match too

"""`salvage`: the verified prefix of a damaged log, copied record for record (issue 13, 4)."""

from __future__ import annotations

import sqlite3

import pytest

from monitor.errors import LogError
from monitor.log import NewRecord, open_log, salvage
from tests.log.tamper import drop_append_only_triggers

PAGE = 4096


def build(path, n: int = 200, size: int = 3000):
    """A log of `n` records of `size` bytes each at `path`; returns its records."""
    with open_log(path) as lg:
        lg.append([NewRecord("T", 1, b"y" * size, f"k{i}") for i in range(n)])
        lg.set_checkpoint("rules", n)
        lg.commit_projection("items", 1, n, {"a": 1})
        return list(lg.read())


def stored(path):
    """Every record of the log at `path`, read read-only."""
    with open_log(path, read_only=True) as lg:
        return list(lg.read())


def test_an_intact_log_is_copied_whole_and_byte_for_byte(tmp_path):
    """Every record arrives with the same position, bytes, time, key and hash; checkpoints
    and projections are not copied."""
    source = build(tmp_path / "old.db", n=30, size=10)
    result = salvage(tmp_path / "old.db", tmp_path / "new.db")
    assert (result.complete, result.copied, result.stopped_at, result.reason) == (
        True,
        30,
        None,
        None,
    )
    assert stored(tmp_path / "new.db") == source
    with open_log(tmp_path / "new.db") as new:
        assert new.verify().ok and new.checkpoints_past_head() == ()
        assert new.get_checkpoint("rules") == 0 and new.projection_state("items") is None
        assert new.append([NewRecord("T", 1, b"{}", "after")]).positions == (31,)


def test_an_edited_record_stops_the_copy_before_it(tmp_path):
    """A record whose data was edited without recomputing its hash is where the copy stops;
    everything before it is copied, and the reason says why."""
    path = tmp_path / "old.db"
    source = build(path, n=20, size=10)
    with sqlite3.connect(path) as conn:
        drop_append_only_triggers(conn)  # as an attacker with write access would
        conn.execute("UPDATE events SET data = x'7a7a' WHERE position = 7")
    conn.close()
    result = salvage(path, tmp_path / "new.db")
    assert (result.copied, result.stopped_at, result.source_head) == (6, 7, 20)
    assert "record 7's stored hash does not match its content" in result.reason
    assert stored(tmp_path / "new.db") == source[:6]


@pytest.mark.parametrize("first_page, pages", [(40, 4), (100, 1)])
def test_overwritten_pages_in_the_middle(tmp_path, first_page, pages):
    """Garbage over pages in the middle of the file: the records before the damage are
    copied and verify; the copy stops at the first record that cannot be read, and the
    source file is not changed."""
    path = tmp_path / "old.db"
    source = build(path)
    raw = bytearray(path.read_bytes())
    raw[PAGE * first_page : PAGE * (first_page + pages)] = b"\xde\xad\xbe\xef" * (PAGE * pages // 4)
    path.write_bytes(bytes(raw))
    result = salvage(path, tmp_path / "new.db")
    assert 0 < result.copied < 200 and result.stopped_at == result.copied + 1
    assert "cannot be read (the file is damaged" in result.reason
    assert path.read_bytes() == bytes(raw)
    assert stored(tmp_path / "new.db") == source[: result.copied]
    with open_log(tmp_path / "new.db", read_only=True) as new:
        assert new.verify().ok


def test_an_existing_destination_is_refused_and_left_alone(tmp_path):
    """salvage never writes over an existing file."""
    build(tmp_path / "old.db", n=3, size=10)
    (tmp_path / "new.db").write_bytes(b"precious")
    with pytest.raises(LogError, match="already exists"):
        salvage(tmp_path / "old.db", tmp_path / "new.db")
    assert (tmp_path / "new.db").read_bytes() == b"precious"


def test_a_postgres_log_can_be_salvaged_into_a_file(tmp_path):
    """The source may be any backend's URL: a PostgreSQL log with an edited record."""
    from tests.pg import admin, fresh_postgres_log, pg_url

    lg = fresh_postgres_log(pg_url())
    try:
        lg.append([NewRecord("T", 1, b'{"n":%d}' % i, f"k{i}") for i in range(10)])
        source = list(lg.read())
        with admin(lg.url) as conn:
            events = f'"{lg.schema}".events'
            conn.execute(f"ALTER TABLE {events} DISABLE TRIGGER USER")
            conn.execute(f"UPDATE {events} SET data = 'x' WHERE position = 4")
            conn.execute(f"ALTER TABLE {events} ENABLE TRIGGER USER")
        result = salvage(lg.url, tmp_path / "new.db")
    finally:
        lg.close()
    assert (result.copied, result.stopped_at) == (3, 4)
    assert stored(tmp_path / "new.db") == source[:3]

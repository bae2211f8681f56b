"""A full disk (issue 13, part 3): the error says so and names the file, instead of SQLite's
"cannot rollback - no transaction is active", and nothing stored before is lost.

A tiny filesystem needs root to mount, so the disk is "full" through ``PRAGMA
max_page_count``: SQLite then fails exactly as on a full disk (SQLITE_FULL, "database or disk
is full") and, as there, rolls the transaction back itself.
"""

from __future__ import annotations

import pytest

from monitor.errors import LogFullError
from monitor.log import NewRecord, open_log
from monitor.log._sqlite import SQLiteLog


def full(path) -> SQLiteLog:
    """A log at `path` with 5 records whose database cannot grow by one more page."""
    lg = SQLiteLog(path)
    lg.append([NewRecord("T", 1, b"x", f"k{i}") for i in range(5)])
    lg.commit_projection("p", 1, 5, {"a": 1})
    pages = lg._conn.execute("PRAGMA page_count").fetchone()[0]
    lg._conn.execute(f"PRAGMA max_page_count={pages}")
    return lg


@pytest.mark.parametrize(
    "write",
    [
        lambda lg: lg.append([NewRecord("T", 1, b"x" * 50_000, f"big{i}") for i in range(5)]),
        lambda lg: lg.commit_projection("p", 1, 5, {f"k{i}": "v" * 5000 for i in range(50)}),
    ],
    ids=["append", "commit_projection"],
)
def test_full_disk_names_the_file_and_loses_nothing(tmp_path, write):
    """The write fails with LogFullError naming the file; the log still holds its 5 records
    and projection state, verifies, and accepts writes again once there is room."""
    path = tmp_path / "monitor.db"
    lg = full(path)
    with pytest.raises(LogFullError) as caught:
        write(lg)
    message = str(caught.value)
    assert message.startswith(f"cannot write to {path}: the disk holding it is full")
    assert "nothing of this write was stored" in message and "rollback" not in message
    assert lg.head() == 5 and lg.projection_get("p", "a") == 1
    lg._conn.execute("PRAGMA max_page_count=1073741823")  # space was freed
    assert lg.append([NewRecord("T", 1, b"y", "after")]).positions == (6,)
    lg.close()
    with open_log(path) as again:
        assert again.head() == 6 and again.verify().ok

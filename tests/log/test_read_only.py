"""Opening a log read-only (issue 13, part 6): a log on read-only media or in a backup can be
read and verified, and nothing is ever written to it.

Tests run as root here, and root ignores permission bits. The tests that need a file and a
directory that really cannot be written therefore run their checks in a child process whose
capabilities to override file permissions are dropped (``setpriv``), which is what an ordinary
user gets. Where the tests are not run as root, the child is simply run as the same user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from monitor.errors import LogError, LogReadOnlyError
from monitor.log import NewRecord, open_log

SETPRIV = shutil.which("setpriv")
ROOT = os.geteuid() == 0


def records(n: int, start: int = 0) -> list[NewRecord]:
    """n small records with distinct dedupe keys."""
    return [NewRecord("T", 1, b'{"v":"%d"}' % i, f"k{i}") for i in range(start, start + n)]


def run_unprivileged(code: str) -> subprocess.CompletedProcess[str]:
    """Run Python `code` in a child that file permissions apply to, even as root."""
    command = [sys.executable, "-c", textwrap.dedent(code)]
    if ROOT:
        caps = "-dac_override,-dac_read_search,-fowner"
        command = [SETPRIV, "--bounding-set", caps, "--inh-caps", caps, *command]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def locked_log(tmp_path):
    """A log of 7 records, as file mode 0o444 in a directory of mode 0o555."""
    folder = tmp_path / "backup"
    folder.mkdir()
    path = folder / "log.db"
    with open_log(path) as lg:
        lg.append(records(7))
    assert not Path(f"{path}-wal").exists()  # the last close folded the WAL in
    path.chmod(0o444)
    folder.chmod(0o555)
    yield path
    folder.chmod(0o755)
    path.chmod(0o644)


def test_read_only_open_reads_and_refuses_writes(tmp_path):
    """read_only=True reads every record and verifies; any write is a LogReadOnlyError and
    changes nothing."""
    path = tmp_path / "log.db"
    with open_log(path) as lg:
        lg.append(records(4))
        lg.set_checkpoint("sub", 2)
    before = path.read_bytes()
    with open_log(path, read_only=True) as lg:
        assert lg.head() == 4 and lg.verify().ok and lg.get_checkpoint("sub") == 2
        for write in (
            lambda: lg.append(records(1, start=9)),
            lambda: lg.set_checkpoint("sub", 3),
            lambda: lg.commit_projection("p", 1, 4, {"a": 1}),
            lambda: lg.drop_projection("p"),
            lambda: lg.acquire_lease("l", "me", 5),
        ):
            with pytest.raises(LogReadOnlyError, match="opened read-only"):
                write()
    assert path.read_bytes() == before


def test_read_only_open_sees_records_still_in_the_wal(tmp_path):
    """A read-only reader sees what a live writer has committed but not yet checkpointed."""
    path = tmp_path / "log.db"
    with open_log(path) as writer:
        writer.append(records(3))
        with open_log(f"sqlite:///{path}?read_only=1") as reader:
            assert reader.head() == 3 and reader.verify().ok


def test_read_only_open_of_a_missing_file_creates_nothing(tmp_path):
    """A missing path is an error, not a new empty log."""
    with pytest.raises(LogError, match="does not exist"):
        open_log(tmp_path / "nope.db", read_only=True)
    assert not (tmp_path / "nope.db").exists()


@pytest.mark.skipif(ROOT and SETPRIV is None, reason="needs setpriv to drop root's overrides")
def test_read_only_media_can_be_read_and_verified(locked_log):
    """A 0o444 log in a 0o555 directory: the read-write open fails with a clear error, the
    read-only open reads and verifies it, and a write there says it is read-only."""
    result = run_unprivileged(
        f"""
        from monitor.errors import LogError, LogReadOnlyError
        from monitor.log import NewRecord, open_log
        try:
            open_log({str(locked_log)!r})
        except LogError as exc:
            print("rw:", type(exc).__name__, exc)
        with open_log({str(locked_log)!r}, read_only=True) as lg:
            print("ro:", lg.head(), lg.verify().ok)
            try:
                lg.append([NewRecord("T", 1, b"{{}}", "new")])
            except LogReadOnlyError as exc:
                print("write:", exc)
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("rw: LogReadOnlyError") and "cannot be written" in lines[0]
    assert lines[1] == "ro: 7 True"
    assert lines[2].startswith("write: ") and "opened read-only" in lines[2]
    assert sorted(p.name for p in locked_log.parent.iterdir()) == ["log.db"]


@pytest.mark.skipif(ROOT and SETPRIV is None, reason="needs setpriv to drop root's overrides")
def test_wal_without_its_index_in_a_read_only_directory_is_a_clear_error(tmp_path):
    """A -wal file left beside the log, with no -shm, cannot be read where nothing may be
    created: the error names the file and says to copy the files somewhere writable."""
    folder = tmp_path / "backup"
    folder.mkdir()
    path = folder / "log.db"
    child = f"""
        import os
        from monitor.log import NewRecord, open_log
        lg = open_log({str(path)!r})
        lg.append([NewRecord("T", 1, b"{{}}", "k")])
        os._exit(0)  # dies without closing: the record stays in log.db-wal
        """
    subprocess.run([sys.executable, "-c", textwrap.dedent(child)], check=True)
    Path(f"{path}-shm").unlink()
    for file in folder.iterdir():
        file.chmod(0o444)
    folder.chmod(0o555)
    try:
        result = run_unprivileged(
            f"""
            from monitor.errors import LogReadOnlyError
            from monitor.log import open_log
            try:
                open_log({str(path)!r}, read_only=True)
            except LogReadOnlyError as exc:
                print(exc)
            """
        )
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "log.db-wal holds records" in result.stdout and "copy" in result.stdout


def test_postgres_read_only_reads_and_refuses_writes():
    """A read-only PostgreSQL log reads and verifies; writes are refused before the server
    is asked, and a schema with no log is not created."""
    from monitor.log._postgres import PostgresLog
    from tests.pg import admin, fresh_postgres_log, new_schema, pg_url

    url = pg_url()
    lg = fresh_postgres_log(url)
    try:
        lg.append(records(3))
        reader = PostgresLog(lg.url, schema=lg.schema, read_only=True)
        try:
            assert reader.head() == 3 and reader.verify().ok
            with pytest.raises(LogReadOnlyError, match="opened read-only"):
                reader.append(records(1, start=5))
            with pytest.raises(LogReadOnlyError):
                reader.commit_projection("p", 1, 3, {"a": 1})
        finally:
            reader.close()
    finally:
        lg.close()
    empty = new_schema()
    with pytest.raises(LogError, match="holds no log"):
        PostgresLog(url, schema=empty, read_only=True)
    with admin(url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (empty,)
        ).fetchone() == (0,)

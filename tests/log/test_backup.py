"""`backup`: a consistent, verified copy of a live SQLite log (issue 12, item 6)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from monitor.errors import LogCorruptedError, LogError
from monitor.log import BackupResult, MemoryLog, NewRecord, backup, open_log
from tests.log.tamper import drop_append_only_triggers
from tests.test_cli_log import assert_one_line_error, monitor

ROOT = Path(__file__).resolve().parents[2]


def build(path: Path, n: int = 300, size: int = 2000) -> None:
    """A log of `n` records of `size` bytes at `path`, with a checkpoint and a projection."""
    with open_log(path) as lg:
        lg.append([NewRecord("T", 1, b"y" * size, f"k{i}") for i in range(n)])
        lg.set_checkpoint("rules", n)
        lg.commit_projection("items", 1, n, {"a": 1})


def records(path: Path) -> list:
    with open_log(path, read_only=True) as lg:
        return list(lg.read())


def assert_is_prefix(copy: Path, source: Path) -> int:
    """The copy verifies and its records are exactly the source's first ones; returns how many."""
    with open_log(copy, read_only=True) as lg:
        result = lg.verify()
        assert result.ok, result
    copied = records(copy)
    assert copied == records(source)[: len(copied)]
    return len(copied)


class TestBackup:
    def test_copy_verifies_and_has_the_source_head(self, tmp_path):
        """The copy holds every record, byte for byte, and the checkpoints and projections;
        the result reports the source's head, the size and the pages; no -wal/-shm is left
        beside the copy or any temporary file in its folder."""
        build(tmp_path / "src.db")
        (tmp_path / "out").mkdir()
        result = backup(tmp_path / "src.db", tmp_path / "out" / "copy.db")
        assert isinstance(result, BackupResult)
        src = records(tmp_path / "src.db")
        assert records(tmp_path / "out" / "copy.db") == src
        assert (result.records, result.head_hash) == (300, src[-1].hash.hex())
        assert result.size == (tmp_path / "out" / "copy.db").stat().st_size
        assert result.pages > 0 and result.seconds >= 0
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["copy.db"]
        with open_log(tmp_path / "out" / "copy.db", read_only=True) as lg:
            assert lg.verify().ok
            assert lg.get_checkpoint("rules") == 300
            assert lg.projection_get("items", "a") == 1

    def test_copy_opens_as_a_working_log(self, tmp_path):
        """A restored copy is a normal log: it opens read-write (back in WAL mode) and takes
        new records after the copied ones."""
        build(tmp_path / "src.db", n=5)
        backup(tmp_path / "src.db", tmp_path / "copy.db")
        with open_log(tmp_path / "copy.db") as lg:
            assert lg.append([NewRecord("T", 1, b"new", "new")]).positions == (6,)
            assert lg.verify().ok

    def test_empty_log(self, tmp_path):
        """An empty log backs up to an empty log, head hash None."""
        open_log(tmp_path / "src.db").close()
        result = backup(tmp_path / "src.db", tmp_path / "copy.db")
        assert (result.records, result.head_hash) == (0, None)
        assert records(tmp_path / "copy.db") == []

    def test_an_open_sqlite_log_is_accepted_and_not_blocked(self, tmp_path):
        """Given the open log object, the backup reads its file on its own read-only
        connection; the caller's log keeps appending during the copy."""
        with open_log(tmp_path / "src.db") as lg:
            lg.append([NewRecord("T", 1, b"z" * 3000, f"k{i}") for i in range(200)])

            def append_during(done: int, total: int) -> None:
                lg.append([NewRecord("T", 1, b"late", f"late{done}")])

            result = backup(lg, tmp_path / "copy.db", pages=5, progress=append_during)
            assert lg.head() > 200
        assert result.records == 200
        assert assert_is_prefix(tmp_path / "copy.db", tmp_path / "src.db") == 200

    def test_progress_is_reported_per_step_up_to_the_total(self, tmp_path):
        """The callback gets (copied, total) after each step of `pages` pages, rising to
        total == copied: one snapshot, so the copy never restarts."""
        build(tmp_path / "src.db", n=200, size=4000)
        calls: list[tuple[int, int]] = []
        result = backup(
            tmp_path / "src.db",
            tmp_path / "copy.db",
            pages=10,
            progress=lambda d, t: calls.append((d, t)),
        )
        assert len(calls) > 10
        done = [d for d, _ in calls]
        assert done == sorted(done) and len(set(done)) == len(done)
        assert calls[-1] == (result.pages, result.pages)

    def test_pages_must_be_positive(self, tmp_path):
        """pages=0 is a caller's mistake, not a silent whole-file step."""
        build(tmp_path / "src.db", n=1)
        with pytest.raises(ValueError, match="pages"):
            backup(tmp_path / "src.db", tmp_path / "copy.db", pages=0)


class TestWhileAppending:
    def test_appends_during_the_copy_are_not_in_it(self, tmp_path):
        """Records appended by another connection between two steps of the copy are left
        out: the copy is the log as it was when the backup began, and it verifies."""
        build(tmp_path / "src.db", n=400, size=3000)
        writer = open_log(tmp_path / "src.db")
        try:
            n = iter(range(10**6))

            def append_between_steps(done: int, total: int) -> None:
                writer.append([NewRecord("T", 1, b"w" * 3000, f"w{next(n)}")])

            result = backup(
                tmp_path / "src.db", tmp_path / "copy.db", pages=8, progress=append_between_steps
            )
            assert writer.head() > 410
        finally:
            writer.close()
        assert result.records == 400
        assert assert_is_prefix(tmp_path / "copy.db", tmp_path / "src.db") == 400

    def test_a_writer_thread_appending_throughout(self, tmp_path):
        """A thread appending batches as fast as it can while backups run: every copy is a
        prefix of the log that verifies, and its head is what the result says."""
        build(tmp_path / "src.db", n=200, size=3000)
        stop = threading.Event()
        errors: list[BaseException] = []

        def write() -> None:
            try:
                with open_log(tmp_path / "src.db") as lg:
                    i = 0
                    while not stop.is_set():
                        lg.append([NewRecord("T", 1, b"t" * 3000, f"t{i}-{j}") for j in range(5)])
                        i += 1
            except BaseException as exc:  # reported below
                errors.append(exc)

        thread = threading.Thread(target=write)
        thread.start()
        try:
            results = [
                backup(tmp_path / "src.db", tmp_path / f"copy{k}.db", pages=4) for k in range(4)
            ]
        finally:
            stop.set()
            thread.join(30)
        assert not errors, errors
        for k, result in enumerate(results):
            assert assert_is_prefix(tmp_path / f"copy{k}.db", tmp_path / "src.db") == result.records
        assert results[-1].records > 200

    def test_a_writer_process_appending_throughout(self, tmp_path):
        """The same with the writer in another process (the watcher's situation)."""
        build(tmp_path / "src.db", n=50)
        go = tmp_path / "go"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "tests.log._child", "append-items"]
        args = [str(tmp_path / "src.db"), "w", "20000", "1", "5", str(go)]
        proc = subprocess.Popen(
            [*command, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
            go.touch()
            results = []
            for k in range(3):
                results.append(backup(tmp_path / "src.db", tmp_path / f"copy{k}.db", pages=2))
            running = proc.poll() is None
        finally:
            proc.kill()
            proc.communicate()
        assert running, "the writer finished before the backups did: make it write more"
        for k, result in enumerate(results):
            assert assert_is_prefix(tmp_path / f"copy{k}.db", tmp_path / "src.db") == result.records


class TestRefusals:
    def test_existing_dest_is_refused_and_left_alone(self, tmp_path):
        """DEST exists: LogError, and DEST keeps its bytes; no temporary file is left."""
        build(tmp_path / "src.db", n=3)
        (tmp_path / "copy.db").write_bytes(b"precious")
        with pytest.raises(LogError, match=r"already exists.*--force"):
            backup(tmp_path / "src.db", tmp_path / "copy.db")
        assert (tmp_path / "copy.db").read_bytes() == b"precious"
        assert not list(tmp_path.glob(".copy.db*"))

    def test_a_leftover_wal_at_dest_is_refused(self, tmp_path):
        """A `-wal` left at DEST would be replayed into the new file: refused too."""
        build(tmp_path / "src.db", n=3)
        (tmp_path / "copy.db-wal").write_bytes(b"old")
        with pytest.raises(LogError, match=r"copy\.db-wal already exists"):
            backup(tmp_path / "src.db", tmp_path / "copy.db")

    def test_force_replaces_dest_and_its_wal(self, tmp_path):
        """With force, an older backup (and any -wal/-shm of it) is replaced by the new copy."""
        build(tmp_path / "src.db", n=3)
        backup(tmp_path / "src.db", tmp_path / "copy.db")
        with open_log(tmp_path / "src.db") as lg:
            lg.append([NewRecord("T", 1, b"more", "more")])
        (tmp_path / "copy.db-wal").write_bytes(b"stale")
        (tmp_path / "copy.db-shm").write_bytes(b"stale")
        result = backup(tmp_path / "src.db", tmp_path / "copy.db", force=True)
        assert result.records == 4
        assert records(tmp_path / "copy.db") == records(tmp_path / "src.db")

    def test_backing_up_onto_itself_is_refused(self, tmp_path):
        """DEST naming the log itself is refused, even with force."""
        build(tmp_path / "src.db", n=3)
        with pytest.raises(LogError, match="is the log being backed up"):
            backup(tmp_path / "src.db", tmp_path / "src.db", force=True)
        assert len(records(tmp_path / "src.db")) == 3

    @pytest.mark.parametrize(
        "url", ["postgresql://monitor@db.invalid/monitor", "postgres://u@h/d?schema=x"]
    )
    def test_postgresql_is_refused_pointing_at_pg_dump(self, tmp_path, url):
        """A PostgreSQL URL is refused before any connection, with the pg_dump to run."""
        with pytest.raises(LogError, match="pg_dump"):
            backup(url, tmp_path / "copy.db")
        assert not (tmp_path / "copy.db").exists()

    def test_memory_log_is_refused(self, tmp_path):
        """An in-memory log has no file to copy."""
        for source in ("memory:", MemoryLog()):
            with pytest.raises(LogError, match="in-memory"):
                backup(source, tmp_path / "copy.db")

    def test_open_postgres_log_is_refused(self, tmp_path):
        """An open PostgresLog object is refused the same way (needs MONITOR_TEST_PG)."""
        from tests.pg import fresh_postgres_log, pg_url

        lg = fresh_postgres_log(pg_url())
        try:
            with pytest.raises(LogError, match="pg_dump"):
                backup(lg, tmp_path / "copy.db")
        finally:
            lg.close()

    def test_a_log_whose_chain_breaks_is_not_backed_up(self, tmp_path):
        """The copy is verified before it is put in place: a record edited in the source
        makes the backup fail, naming the record and pointing at verify and salvage; nothing
        is written."""
        build(tmp_path / "src.db", n=10)
        conn = sqlite3.connect(tmp_path / "src.db")
        drop_append_only_triggers(conn)
        conn.execute("UPDATE events SET data = x'00' WHERE position = 7")
        conn.commit()
        conn.close()
        with pytest.raises(LogCorruptedError, match=r"record 7.*salvage"):
            backup(tmp_path / "src.db", tmp_path / "copy.db")
        assert (
            sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("copy", ".copy"))) == []
        )

    def test_missing_dest_folder(self, tmp_path):
        """DEST's folder must exist (the temporary file is made there)."""
        build(tmp_path / "src.db", n=1)
        with pytest.raises(LogError, match="does not exist"):
            backup(tmp_path / "src.db", tmp_path / "nowhere" / "copy.db")


class TestCommand:
    def test_json(self, tmp_path):
        """`monitor backup DEST --json` prints the result; the copy verifies with `monitor
        verify`."""
        build(tmp_path / "src.db", n=20)
        result = monitor("backup", str(tmp_path / "copy.db"), "--json", db=tmp_path / "src.db")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["records"] == 20
        assert data["dest"] == str(tmp_path / "copy.db")
        assert data["head_hash"] == records(tmp_path / "src.db")[-1].hash.hex()
        assert set(data) == {"source", "dest", "records", "head_hash", "size", "seconds", "pages"}
        checked = monitor("verify", db=tmp_path / "copy.db")
        assert checked.returncode == 0 and "20 record(s)" in checked.stdout

    def test_text(self, tmp_path):
        """Without --json, one line says how many records, where, and that it verifies."""
        build(tmp_path / "src.db", n=2)
        result = monitor("backup", str(tmp_path / "copy.db"), db=tmp_path / "src.db")
        assert result.returncode == 0, result.stderr
        assert "backed up 2 record(s)" in result.stdout and "verifies" in result.stdout

    def test_existing_dest_exits_3_and_force_works(self, tmp_path):
        """DEST exists: exit 3 with one line (the log-problem code, as salvage uses);
        --force replaces it."""
        build(tmp_path / "src.db", n=2)
        (tmp_path / "copy.db").write_bytes(b"x")
        refused = monitor("backup", str(tmp_path / "copy.db"), db=tmp_path / "src.db")
        assert_one_line_error(refused, 3, "already exists", "--force")
        forced = monitor("backup", str(tmp_path / "copy.db"), "--force", db=tmp_path / "src.db")
        assert forced.returncode == 0, forced.stderr
        assert len(records(tmp_path / "copy.db")) == 2

    def test_postgresql_exits_3_naming_pg_dump(self, tmp_path):
        """A PostgreSQL --db: one line naming pg_dump, exit 3, no connection attempted."""
        refused = monitor(
            "backup", str(tmp_path / "copy.db"), db="postgresql://monitor@db.invalid/monitor"
        )
        assert_one_line_error(refused, 3, "pg_dump")

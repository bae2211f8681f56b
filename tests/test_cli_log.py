"""The log's CLI verbs as a user runs them: a real process, its output and its exit code."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.log import open_log
from tests.conftest import make_item

SETPRIV = shutil.which("setpriv")


def monitor(*args: str, db: Path | str | None = None, cwd: Path | None = None, drop=False):
    """Run `python -m monitor ARGS` and return the completed process."""
    command = [sys.executable, "-m", "monitor"]
    if db is not None:
        command += ["--db", str(db)]
    command += list(args)
    if drop:
        # As root, permission bits do not stop writes; dropping CAP_DAC_OVERRIDE makes a
        # read-only directory read-only again, as it is for every other user.
        caps = "-dac_override,-dac_read_search"
        command = [SETPRIV, "--bounding-set", caps, "--inh-caps", caps, *command]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("MONITOR_DB", None)
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def assert_one_line_error(result, code: int, *fragments: str) -> None:
    """A clean failure: the exit code, one line on stderr naming the problem, no traceback."""
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def write_items(path: Path, count: int) -> Path:
    """A JSON-lines file of `count` distinct items."""
    with path.open("w") as fh:
        for n in range(count):
            fh.write(
                json.dumps(
                    {
                        "id": f"n{n}",
                        "title": f"Market report {n}",
                        "summary": "Prices of bread rose again in Raqqa.",
                        "feed": "local",
                        "published": "2026-03-01T10:00:00Z",
                    }
                )
                + "\n"
            )
    return path


class TestBadDatabases:
    def test_text_file(self, tmp_path):
        """A file that is not a database: one line, exit 3."""
        path = tmp_path / "notes.txt"
        path.write_text("not a database at all\n" * 50)
        assert_one_line_error(monitor("stats", db=path), 3, "not a monitor log")

    def test_empty_file(self, tmp_path):
        """An empty file: one line, exit 3, the file untouched."""
        path = tmp_path / "empty.db"
        path.touch()
        assert_one_line_error(monitor("verify", db=path), 3, "empty file")
        assert path.stat().st_size == 0

    def test_foreign_database(self, tmp_path):
        """Another application's SQLite database: one line, exit 3, nothing written."""
        path = tmp_path / "app.db"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE invoices (id INTEGER)")
        assert_one_line_error(monitor("events", db=path), 3, "another application")

    @pytest.mark.skipif(SETPRIV is None and os.geteuid() == 0, reason="needs setpriv as root")
    def test_read_only_directory(self, tmp_path):
        """A log path in a directory nobody may write: one line, exit 3, says why."""
        locked = tmp_path / "locked"
        locked.mkdir()
        items = write_items(tmp_path / "items.jsonl", 2)
        locked.chmod(0o555)
        try:
            result = monitor(
                "ingest", "--no-rules", str(items), db=locked / "m.db", drop=os.geteuid() == 0
            )
        finally:
            locked.chmod(0o755)
        assert_one_line_error(result, 3, "not writable")
        assert not (locked / "m.db").exists()


class TestVerify:
    def test_intact_log_exits_zero(self, tmp_path):
        """verify on an untouched log prints ok and exits 0."""
        db = tmp_path / "m.db"
        with open_log(db) as lg:
            lg.append_events([make_item(n) for n in range(30)])
        result = monitor("verify", db=db)
        assert result.returncode == 0 and "ok: 30 record(s)" in result.stdout

    def test_one_changed_byte_fails_at_that_record(self, tmp_path):
        """Flipping one byte of record 12 in the file makes verify exit 1 naming record 12."""
        db = tmp_path / "m.db"
        with open_log(db) as lg:
            lg.append_events([make_item(n, title=f"Unique headline {n:03}") for n in range(30)])
        raw = bytearray(db.read_bytes())
        offset = raw.find(b"Unique headline 011")  # item 11 is record 12
        assert offset > 0
        raw[offset] ^= 0x20  # 'U' -> 'u': one bit of one byte
        db.write_bytes(bytes(raw))
        result = monitor("verify", "--json", db=db)
        assert result.returncode == 1
        assert json.loads(result.stdout) == {
            "ok": False,
            "checked": 11,
            "first_bad": 12,
            "reason": "stored hash does not match its content",
            "past_head": [],
        }


class TestIngestAndEvents:
    def test_ingest_twice_stores_once(self, tmp_path):
        """Ingesting the same JSON-lines file twice stores its items once."""
        db, items = tmp_path / "m.db", write_items(tmp_path / "items.jsonl", 5)
        first = monitor("ingest", "--no-rules", "--json", str(items), db=db)
        second = monitor("ingest", "--no-rules", "--json", str(items), db=db)
        assert json.loads(first.stdout)["stored"] == 5, first.stderr
        assert json.loads(second.stdout) == {
            "stored": 0,
            "duplicates": 5,
            "raised": 0,
            "alerts": [],
        }

    def test_ingest_counts_every_alert_and_shows_the_latest(self, tmp_path, monkeypatch):
        """A large ingest prints how many alerts it raised and a table of the latest only
        (`monitor alerts` lists them all); --json counts them all too."""
        from monitor.cli import cli

        monkeypatch.setattr("monitor.cli._log_cmds.SHOWN_ALERTS", 2)
        places = ["Abu Kamal", "Mayadin", "Raqqa", "Hasakah"]
        items = tmp_path / "moves.jsonl"
        items.write_text(
            "".join(
                json.dumps({"id": f"m{i}", "title": f"US convoy moves toward {place}",
                            "summary": f"Armoured vehicles were seen heading to {place}.",
                            "feed": "wire", "published": f"2026-03-0{i + 1}T08:00:00Z"}) + "\n"
                for i, place in enumerate(places)
            )
        )  # fmt: skip
        db = tmp_path / "m.db"
        result = CliRunner().invoke(
            cli, ["--db", str(db), "ingest", "--rules", "default", str(items)]
        )
        assert result.exit_code == 0, result.output
        raised = int(result.output.split("raised ")[1].split(" alert")[0])
        assert raised >= 4  # a movement per place, at least
        assert f"The latest 2 of {raised} alerts" in result.output
        again = CliRunner().invoke(
            cli, ["--db", str(tmp_path / "n.db"), "ingest", "--json", str(items)]
        )
        summary = json.loads(again.output)
        assert summary["raised"] == raised == len(summary["alerts"])

    def test_events_dumps_json_lines_with_filters(self, tmp_path):
        """events prints one JSON object per record, honouring --from, --type and --limit."""
        db, items = tmp_path / "m.db", write_items(tmp_path / "items.jsonl", 4)
        monitor("ingest", "--no-rules", str(items), db=db)
        result = monitor("events", "--type", "ItemReceived", "--from", "1", "--limit", "2", db=db)
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [line["position"] for line in lines] == [2, 3]
        assert lines[0]["type"] == "ItemReceived" and lines[0]["data"]["feed_id"] == "local"
        assert len(lines[0]["hash"]) == 64

    def test_stats_and_replay(self, tmp_path):
        """stats reports the records and items per feed; replay rebuilds and shows lag 0."""
        db, items = tmp_path / "m.db", write_items(tmp_path / "items.jsonl", 3)
        monitor("ingest", "--no-rules", str(items), db=db)
        data = json.loads(monitor("stats", "--json", db=db).stdout)
        assert data["records"] == 3
        assert [(f["feed_id"], f["items"]) for f in data["feeds"]] == [("local", 3)]
        replay = monitor("replay", db=db)
        assert replay.returncode == 0, replay.stderr
        assert "items_by_feed_day" in replay.stdout

    def test_db_from_environment(self, tmp_path):
        """MONITOR_DB chooses the log when --db is not given."""
        db, items = tmp_path / "env.db", write_items(tmp_path / "items.jsonl", 1)
        env = {**os.environ, "MONITOR_DB": str(db)}
        subprocess.run(
            [sys.executable, "-m", "monitor", "ingest", "--no-rules", str(items)],
            env=env,
            check=True,
            capture_output=True,
        )
        with open_log(db) as lg:
            assert lg.head() == 1


def test_every_command_has_help():
    """`monitor COMMAND --help` works for every command and subcommand."""
    from monitor.cli import cli

    def walk(group, prefix):
        for name, command in group.commands.items():
            yield [*prefix, name]
            if hasattr(command, "commands"):
                yield from walk(command, [*prefix, name])

    paths = list(walk(cli, []))
    assert {"ingest", "stats", "replay", "verify", "events"} <= {p[0] for p in paths}
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output


class TestIntegrityAndRecovery:
    """Issue 13: numeric options, salvage, replay after a lost tail, read-only logs."""

    @pytest.mark.parametrize(
        "args, option",
        [
            (["--limit", "0"], "--limit"),
            (["--limit", "-3"], "--limit"),
            (["--from", "-5"], "--from"),
        ],
    )
    def test_events_refuses_out_of_range_numbers(self, tmp_path, args, option):
        """--limit below 1 and --from below 0 are usage errors (exit 2) naming the option,
        not one record printed or a silent read from the start."""
        db = tmp_path / "m.db"
        with open_log(db) as lg:
            lg.append_events([make_item(n) for n in range(3)])
        result = monitor("events", *args, db=db)
        assert result.returncode == 2 and result.stdout == ""
        assert option in result.stderr

    def test_salvage_copies_the_verified_prefix_and_says_what_next(self, tmp_path):
        """salvage of a log with record 12 edited copies 11 records, exits 1, says where and
        why it stopped and to run replay; the new log verifies and replays."""
        db = tmp_path / "m.db"
        with open_log(db) as lg:
            lg.append_events([make_item(n, title=f"Unique headline {n:03}") for n in range(30)])
        raw = bytearray(db.read_bytes())
        offset = raw.find(b"Unique headline 011")  # item 11 is record 12
        raw[offset] ^= 0x20
        db.write_bytes(bytes(raw))
        new = tmp_path / "new.db"
        result = monitor("salvage", str(db), str(new))
        assert result.returncode == 1, result.stderr
        assert "stopped at record 12 of 30: record 12's stored hash" in result.stderr
        assert f"copied records 1 to 11 into {new}" in result.stderr
        assert f"monitor --db {new} replay" in result.stderr
        assert monitor("verify", db=new).stdout.startswith("ok: 11 record(s)")
        assert monitor("replay", db=new).returncode == 0
        again = monitor("salvage", str(db), str(new))
        assert_one_line_error(again, 3, "already exists")

    def test_salvage_of_an_intact_log_exits_zero(self, tmp_path):
        """Every record copied: exit 0 and the JSON result says complete."""
        db = tmp_path / "m.db"
        with open_log(db) as lg:
            lg.append_events([make_item(n) for n in range(5)])
        result = monitor("salvage", "--json", str(db), str(tmp_path / "new.db"))
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert (data["copied"], data["stopped_at"], data["source_head"]) == (5, None, 5)

    def test_a_lost_tail_is_refused_then_verify_and_replay_recover(self, tmp_path):
        """After the last records are deleted behind the program's back: ingest refuses
        (exit 3) naming the projection and `monitor verify`; verify fails naming the lost
        positions; replay rebuilds and moves checkpoints back; ingest then works."""
        db, items = tmp_path / "m.db", write_items(tmp_path / "items.jsonl", 6)
        assert monitor("ingest", "--no-rules", str(items), db=db).returncode == 0
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TRIGGER events_no_delete")  # as an attacker would
            conn.execute("DELETE FROM events WHERE position > 4")
        conn.close()
        more = write_items(tmp_path / "more.jsonl", 9)
        refused = monitor("ingest", "--no-rules", str(more), db=db)
        assert_one_line_error(refused, 3, "but the log ends at 4", "run `monitor verify`")
        verify = monitor("verify", db=db)
        assert verify.returncode == 1
        assert "FAILED at record 5: records 5 to 6 are missing from the end" in verify.stderr
        replay = monitor("replay", db=db)
        assert replay.returncode == 0, replay.stderr
        assert "records lost: projection" in replay.stderr
        assert monitor("ingest", "--no-rules", str(more), db=db).returncode == 0
        assert monitor("verify", db=db).returncode == 0

    @pytest.mark.skipif(SETPRIV is None and os.geteuid() == 0, reason="needs setpriv as root")
    def test_events_reads_a_log_on_read_only_media(self, tmp_path):
        """A 0o444 log in a 0o555 directory (permissions enforced, root's override dropped):
        events dumps it, and nothing is created beside it."""
        folder = tmp_path / "backup"
        folder.mkdir()
        db = folder / "m.db"
        with open_log(db) as lg:
            lg.append_events([make_item(n) for n in range(3)])
        db.chmod(0o444)
        folder.chmod(0o555)
        try:
            result = monitor("events", db=db, drop=os.geteuid() == 0)
        finally:
            folder.chmod(0o755)
        assert result.returncode == 0, result.stderr
        assert [json.loads(line)["position"] for line in result.stdout.splitlines()] == [1, 2, 3]
        assert sorted(p.name for p in folder.iterdir()) == ["m.db"]

    @pytest.mark.skipif(SETPRIV is None and os.geteuid() == 0, reason="needs setpriv as root")
    def test_verify_checks_a_log_on_read_only_media(self, tmp_path):
        """A backup on read-only media can be verified (plain and --json), and nothing is
        created beside it."""
        folder = tmp_path / "backup"
        folder.mkdir()
        db = folder / "m.db"
        with open_log(db) as lg:
            lg.append_events([make_item(n) for n in range(4)])
        db.chmod(0o444)
        folder.chmod(0o555)
        try:
            plain = monitor("verify", db=db, drop=os.geteuid() == 0)
            as_json = monitor("verify", "--json", db=db, drop=os.geteuid() == 0)
        finally:
            folder.chmod(0o755)
        assert plain.returncode == 0 and "ok: 4 record(s)" in plain.stdout, plain.stderr
        assert json.loads(as_json.stdout)["ok"] is True
        assert sorted(p.name for p in folder.iterdir()) == ["m.db"]

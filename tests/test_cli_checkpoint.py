"""`monitor keygen`, `monitor checkpoint` and `monitor verify --checkpoint/--key` as a user
runs them: a real process, its output and its exit code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from monitor.log import CheckpointWriter, generate_keypair, open_log, save_keypair
from tests.conftest import make_item
from tests.log.attacker import SQLiteAttacker
from tests.test_cli_log import assert_one_line_error, monitor, write_items


@pytest.fixture
def signed(tmp_path) -> dict[str, Path]:
    """A log of 5 items, a key pair, and a checkpoint file of the log's head, made with the
    library (the commands that make them are tested on their own below)."""
    paths = {
        "db": tmp_path / "log.db",
        "key": tmp_path / "checkpoint.key",
        "pub": tmp_path / "checkpoint.pub",
        "cp": tmp_path / "cp.txt",
    }
    private, _public = generate_keypair()
    save_keypair(private, paths["key"], paths["pub"])
    with open_log(paths["db"]) as log:
        log.append_events([make_item(n) for n in range(5)])
        CheckpointWriter(private, paths["cp"], origin="test/log").write(log)
    return paths


def verify(paths: dict[str, Path], *extra: str):
    return monitor(
        "verify",
        "--checkpoint",
        str(paths["cp"]),
        "--key",
        str(paths["pub"]),
        *extra,
        db=paths["db"],
    )


class TestKeygen:
    def test_writes_a_private_and_a_public_key(self, tmp_path):
        """keygen writes a mode-600 private key and a public key, and never overwrites them."""
        result = monitor("keygen", "--out", str(tmp_path / "keys"))
        assert result.returncode == 0, result.stderr
        assert os.stat(tmp_path / "keys" / "checkpoint.key").st_mode & 0o777 == 0o600
        assert (
            (tmp_path / "keys" / "checkpoint.pub").read_text().startswith("-----BEGIN PUBLIC KEY")
        )
        before = (tmp_path / "keys" / "checkpoint.key").read_bytes()
        again = monitor("keygen", "--out", str(tmp_path / "keys"))
        assert_one_line_error(again, 4, "already exists")
        assert (tmp_path / "keys" / "checkpoint.key").read_bytes() == before


class TestVerify:
    def test_intact_log(self, signed):
        """An untouched log: exit 0, 'log contains the signed head at 5'."""
        result = verify(signed)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("ok: log contains the signed head at 5 (")

    def test_json(self, signed):
        """--json gives the outcome, the chain result and the checkpoint's fields."""
        data = json.loads(verify(signed, "--json").stdout)
        assert data["ok"] is True and data["problems"] == []
        assert data["checked"] == 5 and data["log_head"] == 5
        assert data["checkpoint"]["position"] == 5

    def test_truncation(self, signed):
        """Deleting the newest 2 records: plain verify passes; the checkpoint fails, exit 1."""
        attacker = SQLiteAttacker(signed["db"])
        attacker.truncate(2)
        attacker.close()
        assert monitor("verify", db=signed["db"]).returncode == 0
        result = verify(signed)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            "FAILED: log ends at 3, checkpoint signed 5: records 4..5 are missing (truncated)"
        )

    def test_rewrite_and_recompute(self, signed):
        """Rewriting record 2 and every later hash: plain verify passes; the checkpoint fails."""
        attacker = SQLiteAttacker(signed["db"])
        attacker.rewrite(2)
        attacker.close()
        assert monitor("verify", db=signed["db"]).returncode == 0
        result = verify(signed)
        assert result.returncode == 1
        assert result.stderr.startswith("FAILED: record 5 hash differs from the signed head")
        assert json.loads(verify(signed, "--json").stdout)["ok"] is False

    def test_wrong_key(self, signed, tmp_path):
        """Another key pair's public key: exit 1, 'not signed by this public key'."""
        assert monitor("keygen", "--out", str(tmp_path / "other")).returncode == 0
        result = monitor(
            "verify",
            "--checkpoint",
            str(signed["cp"]),
            "--key",
            str(tmp_path / "other" / "checkpoint.pub"),
            db=signed["db"],
        )
        assert result.returncode == 1
        assert "not signed by this public key" in result.stderr

    def test_edited_checkpoint_file(self, signed):
        """A checkpoint edited to claim a smaller size: exit 1, the signature fails."""
        text = signed["cp"].read_text()
        signed["cp"].write_text(text.replace("\n5\n", "\n3\n", 1))
        result = verify(signed)
        assert result.returncode == 1
        assert "the signature does not verify" in result.stderr

    def test_malformed_checkpoint_file(self, signed):
        """A file that is not a checkpoint: exit 4, one line naming the file and line."""
        signed["cp"].write_text("hello\nworld\n")
        assert_one_line_error(verify(signed), 4, str(signed["cp"]), "no blank line")

    def test_checkpoint_needs_a_key(self, signed):
        """--checkpoint without --key is a usage error (exit 2)."""
        result = monitor("verify", "--checkpoint", str(signed["cp"]), db=signed["db"])
        assert result.returncode == 2
        assert "--checkpoint needs --key" in result.stderr


class TestCheckpoint:
    def test_keygen_checkpoint_verify(self, tmp_path):
        """The whole round as a user types it: ingest, keygen, checkpoint, verify."""
        db = tmp_path / "log.db"
        items = write_items(tmp_path / "i.jsonl", 5)
        assert monitor("ingest", "--no-rules", str(items), db=db).returncode == 0
        assert monitor("keygen", "--out", str(tmp_path / "keys")).returncode == 0
        key, pub = tmp_path / "keys" / "checkpoint.key", tmp_path / "keys" / "checkpoint.pub"
        done = monitor("checkpoint", "--key", str(key), "--out", str(tmp_path / "cp"), db=db)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("signed position 5, head ")
        checked = monitor("verify", "--checkpoint", str(tmp_path / "cp"), "--key", str(pub), db=db)
        assert checked.returncode == 0, checked.stderr
        assert "log contains the signed head at 5" in checked.stdout

    def test_readable_private_key_is_refused(self, signed):
        """A private key others may read: exit 4, saying to chmod 600."""
        signed["key"].chmod(0o644)
        result = monitor("checkpoint", "--key", str(signed["key"]), "--out", "x", db=signed["db"])
        assert_one_line_error(result, 4, "readable by group or others", "chmod 600")

    def test_needs_a_destination(self, signed):
        """Neither --out nor --append is a usage error (exit 2)."""
        result = monitor("checkpoint", "--key", str(signed["key"]), db=signed["db"])
        assert result.returncode == 2
        assert "give --out FILE, --append, or both" in result.stderr

    def test_append_then_verify_the_in_log_checkpoint(self, signed):
        """--append stores the checkpoint as record 6; `verify --key` alone checks it, and
        fails once records below it are rewritten."""
        done = monitor("checkpoint", "--key", str(signed["key"]), "--append", db=signed["db"])
        assert done.returncode == 0, done.stderr
        assert "stored in the log as record 6" in done.stdout
        ok = monitor("verify", "--key", str(signed["pub"]), db=signed["db"])
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith("ok: 1 in-log checkpoint(s) verified; log contains the signed")
        attacker = SQLiteAttacker(signed["db"])
        attacker.rewrite(3)
        attacker.close()
        bad = monitor("verify", "--key", str(signed["pub"]), db=signed["db"])
        assert bad.returncode == 1
        assert "record 6: record 5 hash differs from the signed head" in bad.stderr

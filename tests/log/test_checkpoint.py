"""Signed checkpoints: what they detect that the hash chain alone cannot, on every backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ConfigError
from monitor.events import CheckpointSigned
from monitor.log import (
    GENESIS,
    Checkpoint,
    CheckpointFormatError,
    CheckpointWriter,
    EventLog,
    KeyFileError,
    MemoryLog,
    format_checkpoint,
    generate_keypair,
    load_private_key,
    load_public_key,
    note_key_id,
    parse_checkpoint,
    public_key_bytes,
    read_checkpoint,
    save_keypair,
    sign_checkpoint,
    verify_against_checkpoint,
    verify_log_checkpoints,
    write_checkpoint,
)
from tests.conftest import make_item
from tests.log.attacker import Attacker, MemoryAttacker, PostgresAttacker, SQLiteAttacker
from tests.log.conftest import BACKENDS, open_backend

ORIGIN = "example.org/news-monitor/test"
KEY, PUBLIC = generate_keypair()
OTHER_KEY, OTHER_PUBLIC = generate_keypair()


def clock() -> datetime:
    return datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@attrs.define
class Target:
    """A log and the attacker who can change its stored rows."""

    log: EventLog
    attacker: Attacker


@pytest.fixture(params=BACKENDS)
def target(request, tmp_path) -> Iterator[Target]:
    """A fresh log of each backend, with an attacker for its storage."""
    log = open_backend(request.param, tmp_path)
    if request.param == "memory":
        attacker: Attacker = MemoryAttacker(log)
    elif request.param == "sqlite":
        attacker = SQLiteAttacker(tmp_path / "log.db")
    else:
        attacker = PostgresAttacker(log)
    yield Target(log, attacker)
    if hasattr(attacker, "close"):
        attacker.close()
    log.close()


def fill(log: EventLog, count: int, start: int = 0) -> None:
    log.append_events([make_item(n) for n in range(start, start + count)])


def sign(log: EventLog) -> Checkpoint:
    return sign_checkpoint(log, KEY, origin=ORIGIN, clock=clock)


class TestRoundTrip:
    def test_sign_serialize_parse_verify(self, target):
        """A checkpoint survives text and back unchanged, and an untouched log verifies."""
        fill(target.log, 5)
        signed = sign(target.log)
        assert (signed.position, signed.head) == (5, list(target.log.read())[-1].hash)
        parsed = parse_checkpoint(format_checkpoint(signed))
        assert parsed == signed
        result = verify_against_checkpoint(target.log, parsed, PUBLIC)
        assert result.ok, result.problems
        assert (result.position, result.head, result.chain.checked) == (5, 5, 5)

    def test_appends_after_the_checkpoint_still_verify(self, target):
        """A log that only grew after signing still contains the signed head."""
        fill(target.log, 3)
        signed = sign(target.log)
        fill(target.log, 4, start=3)
        result = verify_against_checkpoint(target.log, signed, PUBLIC)
        assert result.ok, result.problems
        assert result.head == 7

    def test_text_follows_tlog_checkpoint(self):
        """Origin, size, base64 hash, time, blank line, an em-dash signature line named
        after the origin whose first 4 bytes are the signed-note key id."""
        log = MemoryLog()
        fill(log, 2)
        lines = format_checkpoint(sign(log)).split("\n")
        assert lines[0] == ORIGIN
        assert lines[1] == "2"
        assert len(lines[2]) == 44 and lines[2].endswith("=")
        assert lines[3] == "time 2026-03-01T12:00:00Z"
        assert lines[4] == "" and lines[-1] == ""
        assert lines[5].startswith(f"\u2014 {ORIGIN} ")
        import base64
        import hashlib

        raw = base64.b64decode(lines[5].split(" ")[2])
        assert (
            raw[:4]
            == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public_key_bytes(PUBLIC)).digest()[:4]
        )
        assert raw[:4] == note_key_id(ORIGIN, PUBLIC)

    def test_empty_log(self):
        """An empty log signs size 0 with the genesis hash, which verifies."""
        log = MemoryLog()
        signed = sign(log)
        assert (signed.position, signed.head) == (0, GENESIS)
        assert verify_against_checkpoint(log, signed, PUBLIC).ok

    def test_file_round_trip(self, tmp_path):
        """write_checkpoint then read_checkpoint give the same checkpoint; no temp file stays."""
        log = MemoryLog()
        fill(log, 2)
        signed = sign(log)
        write_checkpoint(signed, tmp_path / "cp.txt")
        assert read_checkpoint(tmp_path / "cp.txt") == signed
        assert [p.name for p in tmp_path.iterdir()] == ["cp.txt"]


class TestTampering:
    def test_truncation_fails_and_names_the_positions(self, target):
        """Deleting the newest 2 of 5 records: plain verify passes, the checkpoint does not."""
        fill(target.log, 5)
        signed = sign(target.log)
        target.attacker.truncate(2)
        assert target.log.verify().ok  # the weakness the checkpoint exists for
        result = verify_against_checkpoint(target.log, signed, PUBLIC)
        assert not result.ok
        assert result.reason == (
            "log ends at 3, checkpoint signed 5: records 4..5 are missing (truncated)"
        )

    def test_truncation_then_new_appends_fails(self, target):
        """Truncating and appending back up to the signed size leaves a different head."""
        fill(target.log, 5)
        signed = sign(target.log)
        target.attacker.truncate(2)
        fill(target.log, 2, start=100)
        result = verify_against_checkpoint(target.log, signed, PUBLIC)
        assert not result.ok
        assert result.reason.startswith("record 5 hash differs from the signed head")

    def test_rewrite_and_recompute_fails(self, target):
        """Editing record 2 and recomputing every later hash fools plain verify, not the
        checkpoint."""
        fill(target.log, 5)
        signed = sign(target.log)
        target.attacker.rewrite(2)
        assert target.log.verify().ok  # the weakness the checkpoint exists for
        result = verify_against_checkpoint(target.log, signed, PUBLIC)
        assert not result.ok
        assert result.reason.startswith("record 5 hash differs from the signed head")
        assert "records up to 5 were rewritten" in result.reason

    def test_edit_without_recompute_fails(self, target):
        """A changed byte below the signed head is named by the chain walk."""
        fill(target.log, 5)
        signed = sign(target.log)
        target.attacker.edit(3)
        result = verify_against_checkpoint(target.log, signed, PUBLIC)
        assert not result.ok
        assert result.problems == (
            "hash chain broken at record 3 (at or below the signed head 5): "
            "stored hash does not match its content",
        )

    def test_edit_after_the_checkpoint_is_still_caught_by_the_chain(self, target):
        """The full chain walk still runs: an edit after the signed head fails too."""
        fill(target.log, 3)
        signed = sign(target.log)
        fill(target.log, 2, start=3)
        target.attacker.edit(5)
        result = verify_against_checkpoint(target.log, signed, PUBLIC)
        assert not result.ok
        assert "after the signed head 3" in result.reason


class TestSignature:
    def _signed(self) -> tuple[MemoryLog, Checkpoint]:
        log = MemoryLog()
        fill(log, 3)
        return log, sign(log)

    def test_wrong_public_key_fails(self):
        """A checkpoint checked with another key fails on the key id, before anything else."""
        log, signed = self._signed()
        result = verify_against_checkpoint(log, signed, OTHER_PUBLIC)
        assert not result.ok
        assert result.reason.startswith("the checkpoint was not signed by this public key")

    def test_forged_signature_fails(self):
        """A signature made by another key under the right key id does not verify."""
        log, signed = self._signed()
        forged = attrs.evolve(signed, signature=OTHER_KEY.sign(signed.note_text().encode()))
        result = verify_against_checkpoint(log, forged, PUBLIC)
        assert result.reason == (
            "the signature does not verify: the checkpoint was changed after it was signed"
        )

    @pytest.mark.parametrize(
        ("line", "new"),
        [
            (1, "2"),
            (2, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            (3, "time 2026-03-02T00:00:00Z"),
        ],
    )
    def test_edited_checkpoint_text_fails(self, line, new):
        """Changing the size, the hash or the time in the text breaks the signature (so a
        checkpoint edited to match a truncated log is refused)."""
        log, signed = self._signed()
        lines = format_checkpoint(signed).split("\n")
        lines[line] = new
        edited = parse_checkpoint("\n".join(lines))
        result = verify_against_checkpoint(log, edited, PUBLIC)
        assert not result.ok
        assert result.reason.startswith("the signature does not verify")

    def test_edited_origin_fails(self):
        """Renaming the origin (and the signature line's name with it) changes the key id."""
        log, signed = self._signed()
        text = format_checkpoint(signed).replace(ORIGIN, "evil.example/log")
        result = verify_against_checkpoint(log, parse_checkpoint(text), PUBLIC)
        assert result.reason.startswith("the checkpoint was not signed by this public key")

    def test_expected_origin_is_checked(self):
        """A checkpoint of another log (by origin) is refused when the caller names its log."""
        log, signed = self._signed()
        result = verify_against_checkpoint(log, signed, PUBLIC, origin="other/log")
        assert result.reason == f"the checkpoint is of log {ORIGIN!r}, not 'other/log'"


class TestParse:
    def text(self) -> str:
        log = MemoryLog()
        fill(log, 3)
        return format_checkpoint(sign(log))

    @pytest.mark.parametrize(
        ("mangle", "line", "fragment"),
        [
            (lambda t: "", None, "empty file"),
            (lambda t: t.replace("\n", "\r\n"), None, "carriage returns"),
            (lambda t: t[:-1], None, "does not end with a newline"),
            (lambda t: t.replace("\n\n", "\n"), None, "no blank line"),
            (lambda t: t.replace("\n3\n", "\n03\n", 1), 2, "leading zeros"),
            (lambda t: t.replace("\n3\n", "\nthree\n", 1), 2, "decimal number"),
            (lambda t: t.replace("=\n", "\n", 1), 3, "base64 of 32 bytes"),
            (lambda t: t.replace("time ", "when ", 1), 4, "expected `time <UTC time>`"),
            (lambda t: t.replace("time 2026", "time 20x6", 1), 4, "ISO-8601"),
            (lambda t: t.replace("\n\n", "\nextra\n\n"), 5, "unexpected line"),
            (
                lambda t: t.split("\n\n")[0].split("\ntime")[0] + "\n\n" + t.split("\n\n")[1],
                4,
                "expected 4",
            ),
            (lambda t: t.replace("\u2014 ", "- "), 6, "em dash"),
            (lambda t: t.replace(f"\u2014 {ORIGIN} ", f"\u2014 {ORIGIN}"), 6, "key name"),
            (lambda t: t.replace(f"\u2014 {ORIGIN} ", "\u2014 someone.else "), 6, "log's own key"),
            (lambda t: t[:-10] + "AAAA\n", 6, "4-byte key id + 64 bytes"),
        ],
    )
    def test_malformed_text_names_the_line(self, mangle, line, fragment):
        """Each malformation is a CheckpointFormatError (a ConfigError: exit 4 from the CLI)
        naming the file, the line and what was expected."""
        with pytest.raises(CheckpointFormatError) as info:
            parse_checkpoint(mangle(self.text()), source="cp.txt")
        assert isinstance(info.value, ConfigError)
        assert info.value.source.path == "cp.txt"
        assert info.value.source.line == line
        assert fragment in str(info.value)

    def test_other_signers_lines_are_ignored(self):
        """A cosignature by another key name (a witness) is skipped, as signed-note says."""
        text = self.text() + "\u2014 witness.example/w1 AAAAAAAA\n"
        signed = parse_checkpoint(text)
        assert signed.origin == ORIGIN

    def test_binary_file_is_refused(self, tmp_path):
        """A file that is not UTF-8 is refused with a clear message."""
        (tmp_path / "cp").write_bytes(b"\xff\xfe\x00garbage")
        with pytest.raises(CheckpointFormatError, match="not UTF-8"):
            read_checkpoint(tmp_path / "cp")

    def test_missing_file(self, tmp_path):
        """A missing file is a CheckpointFormatError naming it."""
        with pytest.raises(CheckpointFormatError, match="cannot read checkpoint file"):
            read_checkpoint(tmp_path / "nope")


class TestKeys:
    def test_save_and_load(self, tmp_path):
        """Saved keys load back; the private file is mode 600, the public one 644."""
        save_keypair(KEY, tmp_path / "k", tmp_path / "k.pub")
        assert os.stat(tmp_path / "k").st_mode & 0o777 == 0o600
        assert os.stat(tmp_path / "k.pub").st_mode & 0o777 == 0o644
        loaded = load_private_key(tmp_path / "k")
        assert public_key_bytes(loaded.public_key()) == public_key_bytes(PUBLIC)
        assert public_key_bytes(load_public_key(tmp_path / "k.pub")) == public_key_bytes(PUBLIC)

    def test_raw_bytes(self):
        """32 raw bytes load as a public key."""
        assert public_key_bytes(load_public_key(public_key_bytes(PUBLIC))) == public_key_bytes(
            PUBLIC
        )

    def test_never_overwrites(self, tmp_path):
        """A second save over an existing key file is refused and leaves it unchanged."""
        save_keypair(KEY, tmp_path / "k", tmp_path / "k.pub")
        before = (tmp_path / "k").read_bytes()
        with pytest.raises(KeyFileError, match="already exists"):
            save_keypair(OTHER_KEY, tmp_path / "k", tmp_path / "k2.pub")
        assert (tmp_path / "k").read_bytes() == before

    @pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
    @pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
    def test_readable_private_key_is_refused(self, tmp_path, mode):
        """A private key others may read is refused, saying to chmod 600, as ssh does."""
        save_keypair(KEY, tmp_path / "k", tmp_path / "k.pub")
        os.chmod(tmp_path / "k", mode)
        with pytest.raises(KeyFileError) as info:
            load_private_key(tmp_path / "k")
        assert f"(mode {mode:04o}); run `chmod 600 {tmp_path / 'k'}`" in str(info.value)

    def test_swapped_files_are_named(self, tmp_path):
        """A public key given to sign, or a private key given to verify, is refused."""
        save_keypair(KEY, tmp_path / "k", tmp_path / "k.pub")
        with pytest.raises(KeyFileError, match="this is a public key"):
            load_private_key(tmp_path / "k.pub")
        with pytest.raises(KeyFileError, match="this is a private key"):
            load_public_key(tmp_path / "k")

    def test_non_ed25519_key_is_refused(self, tmp_path):
        """An EC key is refused with a pointer to `monitor keygen`."""
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        with pytest.raises(KeyFileError, match="signed with Ed25519"):
            load_private_key(pem)

    def test_garbage_is_refused(self, tmp_path):
        """A file that is not PEM is refused."""
        path = tmp_path / "k"
        path.write_text("hello")
        path.chmod(0o600)
        with pytest.raises(KeyFileError, match="not a PEM private key"):
            load_private_key(path)


class TestInLog:
    def test_writer_appends_and_the_log_verifies(self, target, tmp_path):
        """CheckpointWriter stores the checkpoint in the log and in the file; both verify."""
        fill(target.log, 4)
        writer = CheckpointWriter(KEY, tmp_path / "cp", origin=ORIGIN, append_to_log=True)
        signed = writer.write(target.log)
        assert (signed.position, writer.appended_at, target.log.head()) == (4, 5, 5)
        assert read_checkpoint(tmp_path / "cp") == signed
        (record,) = target.log.read_page(4, 1)
        assert record.type == "CheckpointSigned"
        assert parse_checkpoint(record.event().note) == signed
        result = verify_log_checkpoints(target.log, PUBLIC)
        assert result.ok, result.problems
        assert (result.checked, result.position) == (1, 4)

    def test_rewrite_below_an_in_log_checkpoint_fails(self, target):
        """A rewrite-and-recompute that keeps the checkpoint record is caught without any
        outside copy."""
        fill(target.log, 4)
        CheckpointWriter(KEY, origin=ORIGIN, append_to_log=True).write(target.log)
        fill(target.log, 2, start=10)
        target.attacker.rewrite(2)
        assert target.log.verify().ok
        result = verify_log_checkpoints(target.log, PUBLIC)
        assert not result.ok
        assert result.reason.startswith("record 5: record 4 hash differs from the signed head")

    def test_truncation_that_removes_the_checkpoints_is_not_detected_by_them(self, target):
        """The limit, documented: cutting the log below the newest in-log checkpoint leaves
        an older one that still verifies; only an outside copy could show the loss."""
        fill(target.log, 2)
        writer = CheckpointWriter(KEY, origin=ORIGIN, append_to_log=True)
        writer.write(target.log)  # signs 2, stored at 3
        fill(target.log, 3, start=10)
        outside = writer.write(target.log)  # signs 6, stored at 7
        target.attacker.truncate(4)  # back to 3 records: the first checkpoint survives
        assert verify_log_checkpoints(target.log, PUBLIC).ok
        assert not verify_against_checkpoint(target.log, outside, PUBLIC).ok

    def test_no_checkpoint_of_this_key_fails(self):
        """Finding no in-log checkpoint by the given key is a failure (nothing to check)."""
        log = MemoryLog()
        fill(log, 2)
        CheckpointWriter(OTHER_KEY, origin=ORIGIN, append_to_log=True).write(log)
        result = verify_log_checkpoints(log, PUBLIC)
        assert not result.ok
        assert result.checked == 0
        assert result.reason.startswith("no checkpoint in the log is signed by this key")

    def test_forged_in_log_checkpoint_fails(self):
        """An in-log checkpoint with this key's id but a bad signature is reported."""
        log = MemoryLog()
        fill(log, 2)
        good = sign(log)
        forged = attrs.evolve(good, signature=OTHER_KEY.sign(good.note_text().encode()))
        log.append_events(
            [
                CheckpointSigned(
                    origin=ORIGIN,
                    position=2,
                    key_id=forged.key_id.hex(),
                    signed_at=forged.time,
                    note=format_checkpoint(forged),
                )
            ]
        )
        result = verify_log_checkpoints(log, PUBLIC)
        assert result.reason == (
            "record 3: the signature does not verify: the checkpoint was changed after it was "
            "signed"
        )


class TestWriter:
    def test_unchanged_head_is_not_signed_again(self, tmp_path):
        """A second write with no new records returns the same checkpoint and appends
        nothing."""
        log = MemoryLog()
        fill(log, 3)
        writer = CheckpointWriter(KEY, tmp_path / "cp", origin=ORIGIN, append_to_log=True)
        first = writer.write(log)
        assert writer.write(log) is first
        assert writer.appended_at is None
        assert log.head() == 4

    def test_idle_log_does_not_grow_across_restarts(self):
        """A fresh writer (a cron run) does not append a checkpoint right after another."""
        log = MemoryLog()
        fill(log, 3)
        for _ in range(3):
            CheckpointWriter(KEY, origin=ORIGIN, append_to_log=True).write(log)
        assert log.head() == 4

    def test_new_records_are_signed(self, tmp_path):
        """After new appends the writer signs the new head and replaces the file."""
        log = MemoryLog()
        fill(log, 3)
        writer = CheckpointWriter(KEY, tmp_path / "cp", origin=ORIGIN)
        writer.write(log)
        fill(log, 2, start=3)
        assert writer.write(log).position == 5
        assert read_checkpoint(tmp_path / "cp").position == 5

    def test_needs_a_destination(self):
        """A writer with neither a file nor the log to write to is refused."""
        with pytest.raises(ValueError, match="give a checkpoint file path"):
            CheckpointWriter(KEY, origin=ORIGIN)


TAMPERINGS = ["none", "append", "truncate", "edit", "rewrite"]


@settings(max_examples=50, deadline=None)
@given(
    count=st.integers(1, 40),
    tampering=st.sampled_from(TAMPERINGS),
    pick=st.integers(0, 10_000),
    after=st.integers(0, 5),
)
def test_any_tampering_up_to_the_checkpoint_fails(count, tampering, pick, after):
    """For any log of 1..40 records and any one tampering with the signed part (truncate
    k >= 1, edit a record's bytes, edit and recompute the rest of the chain), verifying
    against the last checkpoint fails; untouched, or only appended to, it passes."""
    log = MemoryLog()
    for n in range(count):  # one append each, so records differ in recorded_at too
        log.append_events([make_item(n)])
    signed = sign(log)
    attacker = MemoryAttacker(log)
    if tampering == "append":
        fill(log, after + 1, start=count)
    elif tampering == "truncate":
        fill(log, after, start=count)
        attacker.delete_after(count - 1 - pick % count)  # drops k = 1..count signed records
    elif tampering == "edit":
        fill(log, after, start=count)
        attacker.edit(1 + pick % count)
    elif tampering == "rewrite":
        fill(log, after, start=count)
        attacker.rewrite(1 + pick % count)
    result = verify_against_checkpoint(log, signed, PUBLIC)
    assert result.ok == (tampering in ("none", "append")), (tampering, result.problems)

"""Signed checkpoints: a signed statement "this log had N records and its head hash was H".

The hash chain alone (`EventLog.verify`) catches accidental corruption and edits that do not
recompute the hashes, but not someone who deletes the newest records or rewrites a record and
recomputes every later hash: the shortened or rewritten chain is internally consistent. A
checkpoint signed with an Ed25519 key kept outside the database closes that gap, the way
Certificate Transparency logs publish signed tree heads and Sigstore's Rekor publishes
checkpoints: later, `verify_against_checkpoint` checks that the log still holds record N and
that its stored hash is still H, so truncation below N and rewrites up to N are detected by
anyone who holds the checkpoint and the public key.

The text form follows c2sp.org/tlog-checkpoint, a c2sp.org/signed-note::

    myhost/news-monitor/monitor              origin: names the log (and the signing key)
    1234                                     size: the head position (= record count)
    q0QjGGzq0e6vU9Y3dN2k7Zc0p6B0S6a2u8y3k1l9xXQ=   base64 of record 1234's chain hash
    time 2026-03-01T12:00:00Z                extension line: when it was signed

    — myhost/news-monitor/monitor base64(4-byte key id || 64-byte Ed25519 signature)

The signature covers the four lines above the blank line, including their final newline; the
key name is the origin and the key id is ``SHA-256(origin || 0x0A || 0x01 || public key)[:4]``
as signed-note specifies for Ed25519, so a signed-note library can check the signature.

Where this deviates from tlog-checkpoint, and why: line 3 is the head of our linear SHA-256
hash chain, not an RFC 6962 Merkle root. The log has no Merkle tree, so there are no
logarithmic inclusion or consistency proofs: checking a checkpoint means walking the chain
(which `monitor verify` does anyway), and an outside witness cannot check two checkpoints'
consistency without the records. The ``time`` extension line (the spec calls extension lines
optional and not recommended, because monitors cannot audit them) is there because an
operator asks when a head was signed; it is covered by the signature like every body line.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import socket
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ..errors import ConfigError, EventError, MonitorError, SourceLocation
from ..events import CheckpointSigned, format_time, parse_time
from ._base import EventLog
from ._chain import GENESIS
from ._keys import note_key_id

__all__ = [
    "Checkpoint",
    "CheckpointFormatError",
    "CheckpointWriteError",
    "checkpoint_event",
    "default_origin",
    "format_checkpoint",
    "parse_checkpoint",
    "read_checkpoint",
    "sign_checkpoint",
    "signature_problem",
    "write_checkpoint",
]

_SIGNATURE_MARK = "\u2014 "  # em dash, space: starts every signed-note signature line
_SIZE = re.compile(r"0|[1-9][0-9]*")
_MAX_FILE = 64 * 1024  # a checkpoint is a few hundred bytes; refuse to read a huge file


class CheckpointFormatError(ConfigError):
    """A checkpoint's text is malformed: it says which line and what was expected."""


class CheckpointWriteError(MonitorError, OSError):
    """A checkpoint file could not be written (the previous file, if any, is unchanged)."""


def _check_origin(_: object, __: object, value: str) -> None:
    problem = _origin_problem(value)
    if problem:
        raise ValueError(problem)


def _origin_problem(value: str) -> str | None:
    if not value:
        return "the origin is empty"
    if any(ch.isspace() or ch == "+" or ord(ch) < 0x20 for ch in value):
        return f"the origin {value!r} contains a space, '+' or a control character"
    return None


@attrs.frozen(kw_only=True)
class Checkpoint:
    """A signed head of the log: `position` (the record count) and that record's `head` hash.

    `origin` names the log and is also the signing key's name; `key_id` is the signed-note key
    id of the key that made `signature` over `note_text()`. Build one with `sign_checkpoint`,
    read one with `parse_checkpoint` / `read_checkpoint`.
    """

    origin: str = attrs.field(validator=_check_origin)
    position: int = attrs.field(validator=attrs.validators.ge(0))
    head: bytes = attrs.field(validator=attrs.validators.min_len(32))
    time: datetime
    key_id: bytes = attrs.field(validator=attrs.validators.min_len(4))
    signature: bytes

    def note_text(self) -> str:
        """Return the signed body: origin, size, base64 head hash and time, each ending in
        a newline (the bytes the signature covers, UTF-8 encoded)."""
        return (
            f"{self.origin}\n{self.position}\n{base64.b64encode(self.head).decode()}\n"
            f"time {format_time(self.time)}\n"
        )


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """Return the checkpoint as signed-note text: body, blank line, one signature line."""
    signature = base64.b64encode(checkpoint.key_id + checkpoint.signature).decode()
    return f"{checkpoint.note_text()}\n{_SIGNATURE_MARK}{checkpoint.origin} {signature}\n"


def parse_checkpoint(text: str | bytes, *, source: str | None = None) -> Checkpoint:
    """Parse signed-note checkpoint text; the signature is not checked here.

    Signature lines by other key names (a witness's cosignature, say) are ignored, as
    signed-note says; the first one named after the origin is kept.

    Raises:
        CheckpointFormatError: the text is not a checkpoint; the message names the line
            (relative to `source`, a file name, when given) and what was expected there.
    """
    where = source or "<checkpoint>"

    def fail(message: str, line: int | None = None) -> CheckpointFormatError:
        return CheckpointFormatError(message, source=SourceLocation(where, line))

    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise fail("not UTF-8 text; is this a checkpoint file?") from exc
    if not text:
        raise fail("empty file: expected a signed checkpoint")
    if "\r" in text:
        raise fail("contains carriage returns; checkpoint lines end in \\n only")
    for number, line in enumerate(text.split("\n"), start=1):
        if any(ord(ch) < 0x20 for ch in line):
            raise fail("contains a control character", number)
    if not text.endswith("\n"):
        raise fail("does not end with a newline (was it cut short?)")
    lines = text[:-1].split("\n")
    blanks = [i for i, line in enumerate(lines) if line == ""]
    if not blanks:
        raise fail("no blank line between the checkpoint and its signature: not a signed note")
    sep = blanks[-1]
    body, signatures = lines[:sep], lines[sep + 1 :]
    if len(body) < 4:
        raise fail(
            f"the checkpoint has {len(body)} line(s) before the blank line; expected 4: "
            "origin, size, base64 head hash, `time <UTC time>`",
            len(body) + 1,
        )
    if len(body) > 4:
        raise fail("unexpected line after the time line (this program writes exactly 4)", 5)
    for number, line in enumerate(body, start=1):
        if not line:
            raise fail("empty line inside the checkpoint", number)
    origin, size, head_text, time_line = body
    if problem := _origin_problem(origin):
        raise fail(problem, 1)
    if not _SIZE.fullmatch(size):
        raise fail(f"the size must be a decimal number without leading zeros, not {size!r}", 2)
    head = _b64(head_text)
    if head is None or len(head) != 32:
        raise fail("the head hash must be the base64 of 32 bytes", 3)
    if not time_line.startswith("time "):
        raise fail(f"expected `time <UTC time>`, not {time_line!r}", 4)
    try:
        signed_at = parse_time(time_line[5:])
    except EventError as exc:
        raise fail(str(exc), 4) from exc
    if signed_at is None:
        raise fail("the time is empty", 4)
    if not signatures:
        raise fail("no signature line after the blank line", sep + 2)
    for offset, line in enumerate(signatures):
        number = sep + 2 + offset
        if not line.startswith(_SIGNATURE_MARK):
            raise fail("a signature line must start with '\u2014 ' (em dash, space)", number)
        name, _, encoded = line[len(_SIGNATURE_MARK) :].partition(" ")
        if not name or not encoded or " " in encoded:
            raise fail("a signature line is '\u2014 <key name> <base64 signature>'", number)
        if name != origin:
            continue
        raw = _b64(encoded)
        if raw is None or len(raw) != 4 + 64:
            raise fail("the signature must be the base64 of a 4-byte key id + 64 bytes", number)
        return Checkpoint(
            origin=origin,
            position=int(size),
            head=head,
            time=signed_at,
            key_id=raw[:4],
            signature=raw[4:],
        )
    raise fail(f"no signature line by the log's own key name {origin!r}", sep + 2)


def _b64(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode() == text else None  # canonical form only


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and parse the checkpoint file at `path` (see `parse_checkpoint`)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_FILE + 1)
    except OSError as exc:
        raise CheckpointFormatError(
            f"cannot read checkpoint file: {exc.strerror}", source=SourceLocation(str(path))
        ) from exc
    if len(data) > _MAX_FILE:
        raise CheckpointFormatError(
            f"larger than {_MAX_FILE} bytes: not a checkpoint", source=SourceLocation(str(path))
        )
    return parse_checkpoint(data, source=str(path))


def write_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike[str]) -> None:
    """Write `checkpoint` to `path` atomically: a reader sees the old file or the new one,
    never half of one (a temporary file in the same folder, fsynced, then renamed over)."""
    target = Path(path)
    text = format_checkpoint(checkpoint)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise CheckpointWriteError(f"cannot write {target}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # public data: anyone may verify with it
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointWriteError(f"cannot write {target}: {exc.strerror}") from exc
    if os.name == "posix":
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)


def default_origin(log: EventLog) -> str:
    """A name for `log` to use as the checkpoint origin: ``<host>/news-monitor/<db name>``.

    Any stable name without spaces or '+' works; pass your own when one host keeps logs of the
    same file name, or when the log moves between hosts.
    """
    parts = urlsplit(log.url)
    stem = Path(parts.path).stem or parts.scheme or "log"
    host = socket.gethostname() or "localhost"
    return "/".join(re.sub(r"[^A-Za-z0-9._-]+", "-", p) for p in (host, "news-monitor", stem))


def sign_checkpoint(
    log: EventLog,
    private_key: Ed25519PrivateKey,
    *,
    origin: str,
    clock: Callable[[], datetime] | None = None,
) -> Checkpoint:
    """Sign the log's current head: its position and the head record's stored hash.

    An empty log gets a checkpoint of size 0 with the genesis hash. Safe while others append:
    the head position and the record read are the same record (positions are gap-free).
    """
    if problem := _origin_problem(origin):
        raise ValueError(problem)
    position = log.head()
    head = GENESIS
    if position:
        page = log.read_page(position - 1, 1)
        head = page[0].hash
    signed_at = (clock or (lambda: datetime.now(UTC)))().replace(microsecond=0)
    unsigned = Checkpoint(
        origin=origin,
        position=position,
        head=head,
        time=signed_at,
        key_id=note_key_id(origin, private_key.public_key()),
        signature=b"",
    )
    signature = private_key.sign(unsigned.note_text().encode("utf-8"))
    return attrs.evolve(unsigned, signature=signature)


def signature_problem(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> str | None:
    """Return why `checkpoint` is not validly signed by `public_key`, or None when it is."""
    expected = note_key_id(checkpoint.origin, public_key)
    if checkpoint.key_id != expected:
        return (
            f"the checkpoint was not signed by this public key (its key id is "
            f"{checkpoint.key_id.hex()}, this key's is {expected.hex()}): wrong key, or the "
            "origin line was edited"
        )
    try:
        public_key.verify(checkpoint.signature, checkpoint.note_text().encode("utf-8"))
    except InvalidSignature:
        return "the signature does not verify: the checkpoint was changed after it was signed"
    return None


def checkpoint_event(checkpoint: Checkpoint) -> CheckpointSigned:
    """The `CheckpointSigned` event that stores `checkpoint` in the log itself."""
    return CheckpointSigned(
        origin=checkpoint.origin,
        position=checkpoint.position,
        key_id=checkpoint.key_id.hex(),
        signed_at=checkpoint.time,
        note=format_checkpoint(checkpoint),
    )

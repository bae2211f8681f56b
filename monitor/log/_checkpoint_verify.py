"""Checking a log against signed checkpoints, and signing checkpoints on a schedule.

Two ways to check, with different strengths (README, "Tamper evidence: signed checkpoints"):

* `verify_against_checkpoint`: against a checkpoint kept *outside* the log (a file copied off
  the machine, say). It detects truncation below the signed position and any rewrite of a
  record up to it, even one that recomputes every later hash.
* `verify_log_checkpoints`: against the `CheckpointSigned` records *inside* the log. Without
  an outside copy nothing can prove records were removed from the end, so this cannot detect
  truncation (the checkpoints after the cut go with it), nor a rewrite that also drops or
  rewrites every checkpoint record after the edit. It detects a rewrite-and-recompute that
  leaves those checkpoint records in place, and it travels with every copy of the log.

Both also run the full `EventLog.verify` walk, so a record edited without recomputing the
chain is named too, and both report every problem found, not only the first.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import datetime

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ..errors import EventError
from ..events import CheckpointSigned
from ._base import EventLog, VerifyResult
from ._chain import GENESIS
from ._checkpoint import (
    Checkpoint,
    CheckpointFormatError,
    checkpoint_event,
    parse_checkpoint,
    sign_checkpoint,
    signature_problem,
    write_checkpoint,
)
from ._keys import note_key_id

__all__ = [
    "CheckpointVerifyResult",
    "CheckpointWriter",
    "verify_against_checkpoint",
    "verify_log_checkpoints",
]


@attrs.frozen(kw_only=True)
class CheckpointVerifyResult:
    """The outcome of checking a log against signed checkpoints.

    `ok` is true only when every checkpoint checked is validly signed, the log still holds
    each signed head, and the whole hash chain verifies (`chain`). `checkpoint` is the
    (latest) checkpoint checked, `head` the log's head when checked, `checked` how many
    checkpoints were checked, `problems` every failure found, in order.
    """

    ok: bool
    checkpoint: Checkpoint | None
    head: int
    checked: int
    chain: VerifyResult
    problems: tuple[str, ...] = ()

    @property
    def position(self) -> int:
        """The signed position checked (0 when no checkpoint was)."""
        return self.checkpoint.position if self.checkpoint else 0

    @property
    def reason(self) -> str | None:
        """The first problem, or None when the check passed."""
        return self.problems[0] if self.problems else None


def _head_problems(log: EventLog, checkpoint: Checkpoint, head: int) -> list[str]:
    """Does the log still hold the signed head: a record at its position with its hash?"""
    n = checkpoint.position
    if n == 0:
        return [] if checkpoint.head == GENESIS else ["a size-0 checkpoint must sign the genesis"]
    if head < n:
        missing = f"record {n} is" if head + 1 == n else f"records {head + 1}..{n} are"
        return [f"log ends at {head}, checkpoint signed {n}: {missing} missing (truncated)"]
    page = log.read_page(n - 1, 1)
    if not page or page[0].position != n:
        return [f"record {n}, the signed head, is missing"]
    if page[0].hash != checkpoint.head:
        return [
            f"record {n} hash differs from the signed head (stored {page[0].hash.hex()[:16]}, "
            f"signed {checkpoint.head.hex()[:16]}): records up to {n} were rewritten"
        ]
    return []


def _chain_problems(chain: VerifyResult, signed: int) -> list[str]:
    if chain.ok:
        return []
    where = (
        f"at or below the signed head {signed}"
        if chain.first_bad is not None and chain.first_bad <= signed
        else f"after the signed head {signed}"
    )
    return [f"hash chain broken at record {chain.first_bad} ({where}): {chain.reason}"]


def verify_against_checkpoint(
    log: EventLog,
    checkpoint: Checkpoint,
    public_key: Ed25519PublicKey,
    *,
    origin: str | None = None,
) -> CheckpointVerifyResult:
    """Check `log` against an outside `checkpoint` signed by `public_key`.

    Checks, in order: the signature (a wrong key or an edited checkpoint fails); `origin`,
    when given, equals the checkpoint's; the log still has a record at the signed position
    whose stored hash is the signed head (truncation: "log ends at N, checkpoint signed M";
    rewrite: "record M hash differs from the signed head"); and the whole chain recomputes
    from genesis (`EventLog.verify`), so an edit that did not recompute is named too.
    Records after the signed position are covered only by the chain walk.
    """
    problems: list[str] = []
    head = log.head()
    if bad := signature_problem(checkpoint, public_key):
        problems.append(bad)
    if origin is not None and checkpoint.origin != origin:
        problems.append(f"the checkpoint is of log {checkpoint.origin!r}, not {origin!r}")
    if not problems:  # positions and hashes of an unauthenticated checkpoint mean nothing
        problems += _head_problems(log, checkpoint, head)
    chain = log.verify()
    problems += _chain_problems(chain, checkpoint.position)
    return CheckpointVerifyResult(
        ok=not problems,
        checkpoint=checkpoint,
        head=head,
        checked=1,
        chain=chain,
        problems=tuple(problems),
    )


def verify_log_checkpoints(log: EventLog, public_key: Ed25519PublicKey) -> CheckpointVerifyResult:
    """Check every `CheckpointSigned` record in `log` made with `public_key`.

    Checkpoints by other keys are skipped (signed-note: ignore unknown keys). Each one of this
    key must verify and its signed head must still be in the log; the chain is walked in
    full. Finding no checkpoint of this key is a failure: there is nothing to check against,
    and removing them is what an attacker who rewrites the log would do.
    """
    problems: list[str] = []
    head = log.head()
    latest: Checkpoint | None = None
    checked = 0
    for record in log.read(types=[CheckpointSigned.type_name]):
        label = f"record {record.position}"
        try:
            evt = record.event()
            assert isinstance(evt, CheckpointSigned)
            checkpoint = parse_checkpoint(evt.note, source=label)
        except (EventError, CheckpointFormatError) as exc:
            problems.append(f"{label}: unreadable in-log checkpoint: {exc}")
            continue
        if checkpoint.key_id != note_key_id(checkpoint.origin, public_key):
            continue
        checked += 1
        if bad := signature_problem(checkpoint, public_key):
            problems.append(f"{label}: {bad}")
            continue
        if checkpoint.position >= record.position:
            problems.append(f"{label}: signs position {checkpoint.position}, not before itself")
            continue
        problems += [f"{label}: {p}" for p in _head_problems(log, checkpoint, head)]
        if latest is None or checkpoint.position >= latest.position:
            latest = checkpoint
    if checked == 0:
        problems.append(
            "no checkpoint in the log is signed by this key: nothing to check against "
            "(sign one with `monitor checkpoint --append`), or they were removed"
        )
    chain = log.verify()
    problems += _chain_problems(chain, latest.position if latest else 0)
    return CheckpointVerifyResult(
        ok=not problems,
        checkpoint=latest,
        head=head,
        checked=checked,
        chain=chain,
        problems=tuple(problems),
    )


class CheckpointWriter:
    """Sign the log's head on a schedule: to a file (atomically), into the log, or both.

    Call `write(log)` from a timer (the watcher, cron). It signs only when the head moved since
    this writer's last call, so an idle log is not re-signed every tick. With
    `append_to_log=True` the checkpoint is also stored as a `CheckpointSigned` record, except
    right after another such record (it would cover nothing new; an idle log does not grow).
    The file then holds the same checkpoint, which does not yet cover the record just
    appended; the next write after any append does. Thread-safe.
    """

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        path: str | os.PathLike[str] | None = None,
        *,
        origin: str,
        append_to_log: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if path is None and not append_to_log:
            raise ValueError("give a checkpoint file path, append_to_log=True, or both")
        self.path = path
        self.origin = origin
        self.append_to_log = append_to_log
        self._key = private_key
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Checkpoint | None = None
        self._seen_head = -1
        #: The position of the `CheckpointSigned` record the last `write` appended, if any.
        self.appended_at: int | None = None

    @property
    def last(self) -> Checkpoint | None:
        """The checkpoint most recently written, None before the first `write`."""
        return self._last

    def write(self, log: EventLog) -> Checkpoint:
        """Sign `log`'s head now (unless unchanged since the last call) and store it."""
        with self._lock:
            if self._last is not None and log.head() == self._seen_head:
                self.appended_at = None
                return self._last
            checkpoint = sign_checkpoint(log, self._key, origin=self.origin, clock=self._clock)
            seen = checkpoint.position
            self.appended_at = None
            if self.append_to_log and not _ends_with_checkpoint(log, checkpoint.position):
                stored = log.append_events([checkpoint_event(checkpoint)]).stored
                if stored:
                    self.appended_at = seen = stored[0]
            if self.path is not None:
                write_checkpoint(checkpoint, self.path)
            self._last, self._seen_head = checkpoint, seen
            return checkpoint


def _ends_with_checkpoint(log: EventLog, position: int) -> bool:
    if position == 0:
        return False
    page = log.read_page(position - 1, 1)
    return bool(page) and page[0].type == CheckpointSigned.type_name

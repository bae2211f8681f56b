"""The event log's interface: what every backend promises, and the helpers built on it.

A backend implements a handful of primitives (`append`, `read_page`, `head`, `wait`, the
checkpoint and projection-state calls, `close`); everything users call beyond those (`read`,
`follow`, `append_events`, `iter_events`, `verify`) is written once here over the primitives, so
the memory, SQLite and PostgreSQL logs behave alike by construction and one contract test suite
checks them all.

Guarantees every backend keeps:

* Positions start at 1 and are gap-free and strictly increasing; a batch is atomic.
* A record with a dedupe key that is already stored is not stored again; `append` reports it as a
  duplicate (position None). The first copy of a key within one batch wins.
* Each record stores ``hash = sha256(previous hash + canonical record bytes)``; `verify` walks it.
* Records are never updated or deleted.
* Projection state and its checkpoint commit in one transaction (`commit_projection`).
* Leases (`acquire_lease`) are taken atomically: at most one owner holds a lease at a time.
* No checkpoint is past the head. If one is (records were lost at the end: a deleted tail, a
  partial restore), new records would take the lost positions and whatever had folded those
  positions would skip them without a word; so `verify` reports every such checkpoint, the
  database backends refuse to append records until it is dealt with, and the projection
  runner refuses to run. `rewind_past_head` deals with it (`monitor replay` calls it).
"""

from __future__ import annotations

import abc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs

from ..errors import LogError, LogRecordsLostError
from ..events import Event, decode, encode

_T = TypeVar("_T")

__all__ = [
    "AppendResult",
    "CheckpointPastHead",
    "EventLog",
    "NewRecord",
    "ProjectionState",
    "Record",
    "VerifyResult",
]

DEFAULT_PAGE_SIZE = 1000


@attrs.frozen
class NewRecord:
    """A record to append: event type and schema version, its canonical bytes, a dedupe key."""

    type: str
    version: int
    data: bytes
    dedupe_key: str | None = None

    @classmethod
    def from_event(cls, evt: Event) -> NewRecord:
        """Encode `evt` canonically, with its natural dedupe key. The event is remembered
        under its bytes, so a reader in this process that reads the record back soon (the
        projections after the evaluator appended alerts) gets it without decoding."""
        data = encode(evt)
        _DECODED.put((evt.type_name, evt.schema_version, data), evt)
        return cls(evt.type_name, evt.schema_version, data, evt.dedupe_key())


class _SharedEvents:
    """Recently encoded or decoded events by (type, version, bytes): a bounded LRU.

    The evaluator, the projections and delivery each read the same new records one after the
    other, and decoding is most of what reading costs; events are frozen, so sharing one is
    safe. Written by hand (not `functools.lru_cache`) because appends put entries in too."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._events: OrderedDict[tuple[str, int, bytes | str], Event] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: tuple[str, int, bytes | str], evt: Event) -> None:
        with self._lock:
            self._events[key] = evt
            self._events.move_to_end(key)
            if len(self._events) > self.size:
                self._events.popitem(last=False)

    def get(self, type_name: str, version: int, data: bytes | str) -> Event:
        key = (type_name, version, data)
        with self._lock:
            evt = self._events.get(key)
            if evt is not None:
                self._events.move_to_end(key)
                return evt
        evt = decode(type_name, version, data)
        self.put(key, evt)
        return evt


#: About two pages of each reader: ~8 MB of 2 KB items at most.
_DECODED = _SharedEvents(4096)


@attrs.frozen
class Record:
    """A stored record. `recorded_at` is microseconds since the Unix epoch, UTC."""

    position: int
    type: str
    version: int
    data: bytes
    dedupe_key: str | None
    recorded_at: int
    hash: bytes

    def event(self) -> Event:
        """Decode the stored bytes into their event class (upcasting old versions).

        Recently decoded records are shared: the evaluator, the projections and delivery each
        read the same new records one after the other, and decoding is most of what reading
        costs. Events are frozen, so sharing one is safe."""
        if isinstance(self.data, bytes | str):
            return _DECODED.get(self.type, self.version, self.data)
        return decode(self.type, self.version, self.data)

    @property
    def recorded_time(self) -> datetime:
        """`recorded_at` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.recorded_at / 1_000_000, tz=UTC)


@attrs.frozen
class AppendResult:
    """What an append did, in input order: the new position of each record, or None for a
    duplicate of a dedupe key already stored (or repeated earlier in the same batch)."""

    positions: tuple[int | None, ...]

    @property
    def stored(self) -> tuple[int, ...]:
        """Positions of the records actually stored."""
        return tuple(p for p in self.positions if p is not None)

    @property
    def duplicates(self) -> int:
        """How many records were not stored because their dedupe key already existed."""
        return sum(1 for p in self.positions if p is None)


@attrs.frozen
class CheckpointPastHead:
    """A checkpoint that names a position the log does not hold: records were lost.

    `kind` is ``"projection"`` (a fold's stored state) or ``"subscriber"`` (a checkpoint
    set with `set_checkpoint` or ``append(checkpoint=...)``: the rule evaluator, sinks)."""

    kind: str
    name: str
    position: int
    head: int

    def __str__(self) -> str:
        done = "has folded" if self.kind == "projection" else "has processed records"
        return (
            f"{self.kind} {self.name!r} {done} up to {self.position} "
            f"but the log ends at {self.head}"
        )


#: What to do about a checkpoint past the head, said by every error that finds one.
REPAIR_ADVICE = (
    "restore the log from a backup, or run `monitor replay` to rebuild the projections "
    "and move the other checkpoints back to the end of the log"
)
PAST_HEAD_ADVICE = (
    f"the log lost records; run `monitor verify` to see what is missing, then {REPAIR_ADVICE}"
)


def past_head_error(past: Sequence[CheckpointPastHead]) -> LogRecordsLostError:
    """The error that refuses to go on while `past` (not empty) point beyond the head."""
    shown = "; ".join(str(p) for p in past[:3]) + (
        f" (and {len(past) - 3} more)" if len(past) > 3 else ""
    )
    err = LogRecordsLostError(f"{shown}: {PAST_HEAD_ADVICE}")
    err.past_head = tuple(past)  # type: ignore[attr-defined]
    return err


@attrs.frozen
class VerifyResult:
    """The outcome of walking the hash chain: `first_bad` is the first record that fails.

    `past_head` lists every checkpoint beyond the last record (records lost at the end of
    the log, which the chain alone cannot show); any makes `ok` False, and when the chain
    itself is intact `first_bad` is then the first missing position."""

    ok: bool
    checked: int
    first_bad: int | None = None
    reason: str | None = None
    past_head: tuple[CheckpointPastHead, ...] = ()


@attrs.frozen
class ProjectionState:
    """A projection's stored version and checkpoint (last position folded)."""

    version: int
    position: int


class EventLog(abc.ABC):
    """An append-only log of records. Thread-safe: one instance may be shared by threads."""

    #: A URL that reopens this log (``sqlite:///path``, ``memory:``, ``postgresql://...``).
    url: str

    # --- primitives every backend implements -------------------------------------------------

    @abc.abstractmethod
    def append(
        self, records: Sequence[NewRecord], *, checkpoint: tuple[str, int] | None = None
    ) -> AppendResult:
        """Append `records` atomically; duplicates by dedupe key are skipped and reported.

        With `checkpoint=(name, position)` the subscriber checkpoint `name` is set to
        `position` in the same transaction, so a subscriber that appends what it derives from
        records up to `position` has exactly-once effect after any crash.
        """

    @abc.abstractmethod
    def read_page(
        self, after: int, limit: int, types: Collection[str] | None = None
    ) -> list[Record]:
        """Return up to `limit` records with position > `after`, in order, optionally of
        the given types only."""

    def read_key_prefix(
        self, prefix: str, types: Collection[str], *, until: int | None = None
    ) -> list[Record]:
        """Return the records of `types` whose dedupe key starts with `prefix` (up to position
        `until`), in log order: every revision (``revision:``), every raised alert
        (``alert:``). Records stored without their natural dedupe key (possible only through
        the low-level `append`) are not found. Backends with a dedupe index answer from it,
        without reading the other records; this default reads the records of `types`."""
        return [
            r
            for r in self.read(0, types=types, until=until)
            if (r.dedupe_key or "").startswith(prefix)
        ]

    def read_positions(self, positions: Sequence[int]) -> list[Record]:
        """Return the records at `positions` (ascending), skipping any the log does not hold:
        for a reader that knows which records it wants (a backtest given them by the search
        index). Backends answer in a few queries; this default reads them one by one."""
        found = []
        for position in positions:
            found.extend(r for r in self.read_page(position - 1, 1) if r.position == position)
        return found

    @abc.abstractmethod
    def head(self) -> int:
        """Return the position of the last record, 0 when the log is empty."""

    @abc.abstractmethod
    def get_checkpoint(self, name: str) -> int:
        """Return subscriber `name`'s checkpoint: the last position it finished, 0 if none."""

    @abc.abstractmethod
    def set_checkpoint(self, name: str, position: int) -> None:
        """Store subscriber `name`'s checkpoint."""

    @abc.abstractmethod
    def projection_state(self, name: str) -> ProjectionState | None:
        """Return the stored version and checkpoint of projection `name`, None if never run."""

    @abc.abstractmethod
    def projection_get(self, name: str, key: str) -> Any | None:
        """Return the JSON value stored under `key` by projection `name`, None if absent."""

    @abc.abstractmethod
    def projection_scan(
        self,
        name: str,
        prefix: str = "",
        *,
        reverse: bool = False,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[tuple[str, Any]]:
        """Return (key, value) pairs of projection `name` whose key starts with `prefix`, in key
        order (or reverse), starting after key `after` (exclusive) when given: a page."""

    @abc.abstractmethod
    def commit_projection(
        self, name: str, version: int, position: int, changes: Mapping[str, Any | None]
    ) -> None:
        """Write `changes` (None deletes a key) and the checkpoint in one transaction."""

    @abc.abstractmethod
    def drop_projection(self, name: str) -> None:
        """Delete every key and the checkpoint of projection `name`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the backend's resources. The log must not be used afterwards."""

    def checkpoint_positions(self) -> list[tuple[str, str, int]]:
        """Return every stored checkpoint as (kind, name, position), kind ``"projection"`` or
        ``"subscriber"``. Every shipped backend implements this."""
        raise LogError(f"{type(self).__name__} cannot list its checkpoints")

    def with_connection(self, operation: Callable[[Any], _T], *, write: bool = False) -> _T:
        """Run `operation(connection)` on the backend's own DB-API connection and return its
        result: the hook for extensions that keep tables in the log's database (the search
        index). With `write`, inside one write transaction, committed when `operation`
        returns and rolled back if it raises; the backend's errors are translated as usual.
        Backends without a database (memory) raise `LogError`."""
        raise LogError(
            f"{type(self).__name__} keeps no database to extend; use an SQLite or PostgreSQL log"
        )

    def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        """Try to hold lease `name` for `owner` for the next `ttl` seconds; return whether
        `owner` now holds it. Succeeds when the lease is free, expired, or already held by
        `owner` (then it is renewed). Watchers sharing one log use ``feed:<id>`` leases so each
        feed is polled by one of them at a time; a watcher that dies stops renewing and its
        leases pass to another after `ttl`. Every shipped backend implements this atomically."""
        raise LogError(f"{type(self).__name__} does not support leases")

    def release_lease(self, name: str, owner: str) -> None:
        """Give up lease `name` if `owner` holds it (otherwise do nothing)."""
        raise LogError(f"{type(self).__name__} does not support leases")

    def wait(self, after: int, timeout: float) -> bool:
        """Block until a record with position > `after` exists or `timeout` seconds pass;
        return whether one exists. Backends override this with something better than polling."""
        deadline = time.monotonic() + timeout
        while True:
            if self.head() > after:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(0.05, remaining))

    # --- helpers written once over the primitives --------------------------------------------

    def read(
        self,
        after: int = 0,
        *,
        types: Collection[str] | None = None,
        until: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Record]:
        """Stream records with `after` < position <= `until` (default: the head when called),
        reading `page_size` at a time so memory stays bounded however long the log is."""
        stop = self.head() if until is None else until
        position = after
        while position < stop:
            page = self.read_page(position, page_size, types)
            if not page:
                return
            for record in page:
                if record.position > stop:
                    return
                yield record
            position = page[-1].position

    def follow(
        self,
        after: int = 0,
        *,
        types: Collection[str] | None = None,
        stop: threading.Event | None = None,
        poll_interval: float = 0.5,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Record]:
        """Catch up from `after`, then keep yielding new records as they are appended, until
        `stop` is set. Never skips a record, even one committed after a later one was read."""
        position = after
        while stop is None or not stop.is_set():
            head = self.head()  # taken before the read, so the read has seen all up to it
            page = self.read_page(position, page_size, types)
            if page:
                yield from page
                position = page[-1].position
                continue
            if head > position:
                # Nothing of the wanted types up to `head`: skip ahead without re-scanning.
                position = head
                continue
            self.wait(position, poll_interval)

    def append_events(
        self, events: Sequence[Event], *, checkpoint: tuple[str, int] | None = None
    ) -> AppendResult:
        """Encode `events` canonically and append them with their natural dedupe keys."""
        return self.append([NewRecord.from_event(e) for e in events], checkpoint=checkpoint)

    def iter_events(
        self, after: int = 0, *, types: Collection[str] | None = None, until: int | None = None
    ) -> Iterator[tuple[Record, Event]]:
        """Stream (record, decoded event) pairs; see `read`."""
        for record in self.read(after, types=types, until=until):
            yield record, record.event()

    def verify(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> VerifyResult:
        """Recompute the hash chain from the first record; report the first record that breaks
        it (a changed byte, a missing or reordered record)."""
        from ._chain import GENESIS, record_hash

        previous = GENESIS
        expected_position = 1
        checked = 0
        for record in self.read(0, page_size=page_size):
            if record.position != expected_position:
                return self._with_past_head(
                    VerifyResult(
                        False,
                        checked,
                        expected_position,
                        f"record {expected_position} is missing (next stored is {record.position})",
                    )
                )
            computed = record_hash(previous, record)
            if computed != record.hash:
                return self._with_past_head(
                    VerifyResult(
                        False, checked, record.position, "stored hash does not match its content"
                    )
                )
            previous = record.hash
            expected_position += 1
            checked += 1
        return self._with_past_head(VerifyResult(True, checked))

    def _with_past_head(self, result: VerifyResult) -> VerifyResult:
        """Add the checkpoints past the head to a chain walk's `result`."""
        past = self.checkpoints_past_head()
        if not past:
            return result
        head = past[0].head
        last = max(p.position for p in past)
        named = "; ".join(str(p) for p in past)
        reason = (
            f"records {head + 1} to {last} are missing from the end of the log ({named}); "
            f"{REPAIR_ADVICE}"
        )
        if result.ok:
            return VerifyResult(False, result.checked, head + 1, reason, past)
        return attrs.evolve(result, reason=f"{result.reason}; and {reason}", past_head=past)

    def checkpoints_past_head(self) -> tuple[CheckpointPastHead, ...]:
        """Return every projection and subscriber checkpoint beyond the last record, in
        (kind, name) order: each means records that were folded or processed are gone."""
        head = self.head()
        return tuple(
            CheckpointPastHead(kind, name, position, head)
            for kind, name, position in sorted(self.checkpoint_positions())
            if position > head
        )

    def check_past_head(self) -> None:
        """Raise `LogRecordsLostError` naming every checkpoint past the head, if any. Call it
        once when a reader starts or catches up, not per record."""
        past = self.checkpoints_past_head()
        if past:
            raise past_head_error(past)

    def rewind_past_head(self) -> tuple[CheckpointPastHead, ...]:
        """Deal with checkpoints past the head after records were lost; return them.

        A projection past the head is dropped, so its next run rebuilds it from the records
        that remain. A subscriber's checkpoint is moved back to the head: what it derived
        from the lost records is lost with them (alerts are appended after their items), and
        it carries on with the records appended from now on. Nothing in the log changes."""
        past = self.checkpoints_past_head()
        for item in past:
            if item.kind == "projection":
                self.drop_projection(item.name)
            else:
                self.set_checkpoint(item.name, item.head)
        return past

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

"""The projection contract: `Projection` (a named, versioned fold) and `StateView` (its state).

A projection folds events into JSON values stored under string keys in the log's own database
(`EventLog.projection_get` / `projection_scan` / `commit_projection`). It never keeps state in
Python memory between events: everything goes through the `StateView` it is handed, which buffers
the writes of one page of records and lets the runner commit them together with the checkpoint in
one transaction. That is what makes a projection exactly-once after any crash and keeps memory
bounded however long the log is.

Keys are compared as strings, so the helpers here build keys that sort the way queries need:
`key` escapes the separator inside each part, `sortable_time` gives fixed-width UTC times.
"""

from __future__ import annotations

import abc
import heapq
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from ..events import Event
from ..log import EventLog, Record

__all__ = [
    "Projection",
    "StateView",
    "iter_from",
    "iter_scan",
    "key",
    "sortable_time",
    "unkey",
    "utc_day",
]

#: How many keys a query or a `StateView.scan` reads from the database at a time.
SCAN_PAGE = 500


class Projection(abc.ABC):
    """A named, versioned fold over events.

    Subclasses set three class attributes and implement `apply`:

    * ``name``: stable identifier; the state and checkpoint are stored under it.
    * ``version``: bump it whenever `apply` changes meaning; the runner then drops the stored
      state and rebuilds it from position 0 on its next run.
    * ``types``: the event type names `apply` wants (the runner reads only those), or None for
      every record.
    * ``decode`` (default True): set it False for a fold that needs only the record (position,
      type, raw bytes), such as a counter; the runner then skips decoding for it and passes
      ``event=None``. Decoding is most of the cost of a replay.

    `apply` must be deterministic: a function of the event, the record and the state only (no
    clock, no randomness, no I/O besides `state`), so that a rebuild from 0 gives exactly the
    state built incrementally.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    types: ClassVar[frozenset[str] | None] = None
    decode: ClassVar[bool] = True

    @abc.abstractmethod
    def apply(self, event: Event, record: Record, state: StateView) -> None:
        """Fold one event (stored as `record`) into `state`."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} v{self.version}>"


_MISSING = object()


def _copy_json(value: Any) -> Any:
    """Copy a JSON value deeply enough that mutating the copy cannot touch the original."""
    # Called on every `get` of a buffered value, so scalars are passed over without a call.
    kind = type(value)
    if kind is dict:
        return {k: _copy_json(v) if type(v) in _CONTAINERS else v for k, v in value.items()}
    if kind is list:
        return [_copy_json(v) if type(v) in _CONTAINERS else v for v in value]
    return value


_CONTAINERS = (dict, list)


class StateView:
    """A projection's key/value state as seen during one page: the stored values overlaid with
    the writes not yet committed.

    Values are JSON (dict, list, str, int, float, bool); None is not a value (`delete` removes a
    key). `get` returns a private copy, so mutating it changes nothing until you `put` it back;
    after `put` the view owns the value, so do not mutate it further. Not thread-safe: each
    projection gets its own view from the runner.
    """

    __slots__ = ("_changes", "_log", "_name")

    def __init__(self, log: EventLog, name: str) -> None:
        self._log = log
        self._name = name
        self._changes: dict[str, Any | None] = {}

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value under `key` (a copy), or `default` when there is none."""
        value = self._changes.get(key, _MISSING)
        if value is _MISSING:
            value = self._log.projection_get(self._name, key)
        else:
            value = _copy_json(value)
        return default if value is None else value

    def put(self, key: str, value: Any) -> None:
        """Set `key` to the JSON `value` (committed with the page's checkpoint)."""
        if value is None:
            raise ValueError(f"cannot store None under {key!r}: use delete()")
        self._changes[key] = value

    def delete(self, key: str) -> None:
        """Remove `key` (a no-op when it does not exist)."""
        self._changes[key] = None

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int | None = None
    ) -> list[tuple[str, Any]]:
        """Return (key, value) pairs whose key starts with `prefix`, in key order, after key
        `after` (exclusive), at most `limit` of them; pending writes included."""
        pending = sorted(
            (k, v)
            for k, v in self._changes.items()
            if k.startswith(prefix) and (after is None or k > after)
        )
        stored = (
            (k, v)
            for k, v in iter_scan(self._log, self._name, prefix, after=after)
            if k not in self._changes
        )
        out: list[tuple[str, Any]] = []
        for k, v in heapq.merge(pending, stored, key=lambda kv: kv[0]):
            if v is None:
                continue
            out.append((k, _copy_json(v)))
            if limit is not None and len(out) >= limit:
                break
        return out

    @property
    def changes(self) -> dict[str, Any | None]:
        """The writes buffered since the last commit (key -> value, None = delete)."""
        return self._changes

    def clear(self) -> None:
        """Forget the buffered writes (after they were committed, or to abandon a page)."""
        self._changes = {}


def iter_scan(
    log: EventLog,
    name: str,
    prefix: str = "",
    *,
    after: str | None = None,
    reverse: bool = False,
    page: int | None = None,
) -> Iterator[tuple[str, Any]]:
    """Stream projection `name`'s (key, value) pairs under `prefix`, `page` keys per query
    (default `SCAN_PAGE`), so a query over millions of keys holds only one page in memory."""
    page = page or SCAN_PAGE
    while True:
        rows = log.projection_scan(name, prefix, reverse=reverse, limit=page, after=after)
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1][0]


def iter_from(
    log: EventLog, name: str, prefix: str, start: str | None
) -> Iterator[tuple[str, Any]]:
    """Like `iter_scan` over `prefix`, but from key `start` inclusive (scans start *after* a
    key, so the start key itself is fetched first)."""
    if start is None or start <= prefix:
        yield from iter_scan(log, name, prefix)
        return
    first = log.projection_get(name, start) if start.startswith(prefix) else None
    if first is not None:
        yield start, first
    yield from iter_scan(log, name, prefix, after=start)


def key(*parts: str) -> str:
    """Join `parts` with ``:`` after escaping ``%`` and ``:`` inside each part.

    Escaping works character by character, so ``key(a) + key(b) == key(a + b)`` for a single
    part: a prefix of an escaped part is the escaped prefix, and prefix scans stay exact (feed
    ``a`` never matches feed ``a:b``).
    """
    # Called several times per folded event: most parts need no escaping, so test first.
    return ":".join(
        [p.replace("%", "%25").replace(":", "%3A") if ("%" in p or ":" in p) else p for p in parts]
    )


def unkey(part: str) -> str:
    """Undo the escaping `key` applies to one part."""
    return part.replace("%3A", ":").replace("%25", "%")


def sortable_time(value: datetime) -> str:
    """Format an aware time as fixed-width UTC ISO-8601 with microseconds and ``Z``, so that
    string order is time order (``format_time`` drops zero microseconds, which does not sort)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def utc_day(value: datetime) -> str:
    """The UTC calendar day of `value` as ``YYYY-MM-DD``."""
    return value.astimezone(UTC).date().isoformat()

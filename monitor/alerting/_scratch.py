"""`ScratchOutput`: where a backtest's evaluator puts its alerts, kept as objects.

A backtest appends nothing to the log; its evaluator writes alerts, repeats and its checkpoint
somewhere to throw away. A `MemoryLog` would do, but it encodes every event to canonical JSON
and chains its hash (which nobody reads here), and the backtest then decodes every one again
to count them: at one alert or repeat per four items that was a fifth of a backtest's time,
and all of it in the one process that folds the workers' matches. This keeps the events as
they are, with the only two guarantees the evaluator relies on: appends are idempotent by the
events' dedupe keys, and the checkpoint moves with the batch.

With `tally`, nothing is kept: each new event goes to `tally` as it is appended, and the
dedupe keys are kept on a temporary database (`SpillKeys`), so a backtest's memory does not
grow with the history (a MemoryLog held each alert and repeat as JSON bytes, hundreds of
megabytes over a million items; a set of their keys, tens).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence

import attrs

from ..events import Event
from ..log import AppendResult
from ._spill import SpillKeys

__all__ = ["ScratchOutput"]


@attrs.frozen
class _Kept:
    """A kept event with its scratch position (what `iter_events` readers look at)."""

    position: int
    type: str
    dedupe_key: str | None
    decoded: Event

    def event(self) -> Event:
        return self.decoded


class ScratchOutput:
    """The output of an evaluator whose results are counted, not stored: the subset of
    `EventLog` that `AlertEvaluator` writes to and restores from, held in memory as objects."""

    def __init__(self, *, tally: Callable[[Event], None] | None = None) -> None:
        self._kept: list[_Kept] = []
        self._keys = SpillKeys()
        self._checkpoints: dict[str, int] = {}
        self._tally = tally
        self._appended = 0

    def append_events(
        self, events: Sequence[Event], *, checkpoint: tuple[str, int] | None = None
    ) -> AppendResult:
        """Keep `events` (a dedupe key seen before is a duplicate: None in the result)."""
        positions: list[int | None] = []
        keys = [evt.dedupe_key() for evt in events]
        fresh = iter(self._keys.add_new([k for k in keys if k is not None]))
        for evt, key in zip(events, keys, strict=True):
            if key is not None and not next(fresh):
                positions.append(None)
                continue
            self._appended += 1
            positions.append(self._appended)
            if self._tally is not None:
                self._tally(evt)
            else:
                self._kept.append(_Kept(self._appended, evt.type_name, key, evt))
        if checkpoint is not None:
            self._checkpoints[checkpoint[0]] = checkpoint[1]
        return AppendResult(tuple(positions))

    def iter_events(
        self, after: int = 0, *, types: Collection[str] | None = None
    ) -> Iterator[tuple[_Kept, Event]]:
        """(kept, event) pairs after scratch position `after`, of the given types, in order
        (none with `tally`: an evaluator starting over this output finds it empty, which is
        right only at its start, the one time a backtest's evaluator restores)."""
        for kept in self._kept:
            if kept.position > after and (types is None or kept.type in types):
                yield kept, kept.decoded

    def get_checkpoint(self, name: str) -> int:
        return self._checkpoints.get(name, 0)

    def close(self) -> None:
        """Drop the dedupe keys' temporary database."""
        self._keys.close()

    def __len__(self) -> int:
        """How many events were appended (kept or tallied)."""
        return self._appended

"""`ProjectionRunner`: catch projections up with the log, page by page, exactly once.

The runner reads the log once for all the projections it runs (the union of their event types),
decodes each record once, hands it to every projection that wants it, and after each page commits
each projection's buffered writes together with its new checkpoint in one transaction
(`EventLog.commit_projection`). A crash at any moment therefore leaves every projection at the end
of a whole committed page, and the next run resumes there: no event is applied twice or skipped.

One runner per projection at a time: two runners folding the same projection concurrently would
each read the other's half-finished state. Runners therefore hold the log's lease
``projection:<name>`` while they change a projection (see `_lease`), and before each commit they
also check that the stored checkpoint is still where they left it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence

import attrs

from ..errors import ProjectionError
from ..events import registered_types
from ..log import CheckpointPastHead, EventLog, Record, past_head_error
from ._base import Projection, StateView
from ._lease import LeaseSet, new_owner

__all__ = ["DEFAULT_PAGE_SIZE", "ProgressCallback", "ProjectionRunner", "ProjectionStatus"]

#: Records per page: the unit of a commit, and the most records held in memory at once.
DEFAULT_PAGE_SIZE = 1000

#: Called as ``progress(done, total)`` in log positions, after each committed page.
ProgressCallback = Callable[[int, int], None]


@attrs.frozen
class ProjectionStatus:
    """Where one projection stands against the log.

    `stored_version` is None when it never ran; `stale` means its stored version differs from
    the code's, so the next run rebuilds it from 0; `lag` is how many positions it is behind.
    """

    name: str
    version: int
    stored_version: int | None
    checkpoint: int
    head: int

    @property
    def lag(self) -> int:
        """Positions between the checkpoint and the head of the log."""
        return max(self.head - self.checkpoint, 0)

    @property
    def stale(self) -> bool:
        """Whether the stored state was built by another version and will be rebuilt."""
        return self.stored_version is not None and self.stored_version != self.version


class _Cursor:
    """A projection being run: where it stands and its write buffer for the current page."""

    __slots__ = ("position", "projection", "state", "types")

    def __init__(self, projection: Projection, log: EventLog, position: int) -> None:
        self.projection = projection
        self.position = position
        self.types = None if projection.types is None else frozenset(projection.types)
        self.state = StateView(log, projection.name)


class ProjectionRunner:
    """Run `projections` (default: the built-in ones) against `log`.

    Runners in several threads or processes may share one log: each projection is folded under
    the log's lease ``projection:<name>``, so only one runner changes it at a time; the others
    wait for it (up to `lease_wait` seconds).

    Args:
        log: the event log; projection state lives in its database.
        projections: Projection instances with distinct names.
        page_size: records read, folded and committed per transaction.
        lease_ttl: seconds a projection lease lasts unless renewed (renewed while working).
        lease_wait: how long `run` waits for a projection another runner is updating before it
            leaves that one to it, and `rebuild` before it gives up.
        clock / sleep: injected monotonic clock and sleep for the lease waits.

    Raises:
        ProjectionError: two projections share a name, or one is malformed (no name, a bad
            version, unknown event types).
    """

    def __init__(
        self,
        log: EventLog,
        projections: Iterable[Projection] | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        lease_ttl: float = 10.0,
        lease_wait: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if projections is None:
            from ._builtins import builtin_projections

            projections = builtin_projections()
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.log = log
        self.page_size = page_size
        self.lease_ttl = lease_ttl
        self.lease_wait = lease_wait
        self.owner = new_owner()
        self._runs = itertools.count(1)
        self._clock = clock
        self._sleep = sleep
        self._projections: dict[str, Projection] = {}
        known = registered_types()
        for projection in projections:
            _check(projection, known)
            if projection.name in self._projections:
                raise ProjectionError(f"two projections are named {projection.name!r}")
            self._projections[projection.name] = projection

    @property
    def projections(self) -> tuple[Projection, ...]:
        """The projections this runner runs, in the order given."""
        return tuple(self._projections.values())

    def status(self) -> list[ProjectionStatus]:
        """Return each projection's version, stored version, checkpoint and the log's head."""
        head = self.log.head()
        out = []
        for p in self._projections.values():
            stored = self.log.projection_state(p.name)
            out.append(
                ProjectionStatus(
                    p.name,
                    p.version,
                    None if stored is None else stored.version,
                    0 if stored is None else stored.position,
                    head,
                )
            )
        return out

    def run(
        self, until: int | None = None, progress: ProgressCallback | None = None
    ) -> dict[str, int]:
        """Catch every projection up to position `until` (default: the head now).

        A projection whose stored version differs from its class's version is dropped and
        rebuilt from 0 first. A projection another runner is updating is left to that runner
        once `lease_wait` has passed. Returns each projection's checkpoint afterwards.

        Raises:
            ProjectionError: an `apply` failed (chained); nothing of the failing page was
                committed, so every checkpoint stays at the end of the last committed page.
            LogRecordsLostError: a projection's checkpoint is past the head of the log
                (records were lost); `rebuild` (``monitor replay``) is the way out.
        """
        return self._run(list(self._projections.values()), until, progress, rebuild=False)

    def rebuild(
        self, names: Sequence[str] | None = None, progress: ProgressCallback | None = None
    ) -> dict[str, int]:
        """Drop the named projections (default: all) and replay them from position 0.

        Raises:
            ProjectionError: a name is not one of this runner's projections, another runner
                kept one busy for longer than `lease_wait`, or an `apply` failed.
        """
        return self._run(self._select(names), None, progress, rebuild=True)

    # --- the loop ---------------------------------------------------------------------------

    def _select(self, names: Sequence[str] | None) -> list[Projection]:
        if names is None:
            return list(self._projections.values())
        unknown = [n for n in names if n not in self._projections]
        if unknown:
            raise ProjectionError(
                f"unknown projection {unknown[0]!r}; known: {', '.join(sorted(self._projections))}"
            )
        return [self._projections[n] for n in dict.fromkeys(names)]

    def _needs_work(self, projection: Projection, target: int) -> bool:
        stored = self.log.projection_state(projection.name)
        if stored is None:
            return target > 0
        return stored.version != projection.version or stored.position < target

    def _refuse_past_head(self, chosen: list[Projection], head: int) -> None:
        """Refuse to run while a projection has folded positions the log no longer holds.

        Records lost at the end of the log leave the checkpoint past the head; the records
        appended next would take those positions and this projection would skip them for
        good. Checked once per run, before any work (a projection of another version is
        rebuilt from 0 anyway, so it is not in the way)."""
        past = []
        for projection in chosen:
            stored = self.log.projection_state(projection.name)
            if stored is None or stored.version != projection.version:
                continue
            if stored.position > head:
                past.append(
                    CheckpointPastHead("projection", projection.name, stored.position, head)
                )
        if past:
            raise past_head_error(past)

    def _open(self, projection: Projection, rebuild: bool) -> _Cursor:
        stored = self.log.projection_state(projection.name)
        if rebuild or (stored is not None and stored.version != projection.version):
            self.log.drop_projection(projection.name)
            stored = None
        return _Cursor(projection, self.log, 0 if stored is None else stored.position)

    def _run(
        self,
        chosen: list[Projection],
        until: int | None,
        progress: ProgressCallback | None,
        *,
        rebuild: bool,
    ) -> dict[str, int]:
        head = self.log.head()
        if not rebuild:
            self._refuse_past_head(chosen, head)
        target = head if until is None else min(until, head)
        todo = chosen if rebuild else [p for p in chosen if self._needs_work(p, target)]
        # Each run is its own lease owner, so threads sharing this runner also take turns.
        owner = f"{self.owner}:{next(self._runs)}"
        leases = LeaseSet(self.log, owner, self.lease_ttl, clock=self._clock, sleep=self._sleep)
        try:
            held = set(leases.acquire([p.name for p in todo], self.lease_wait))
            if rebuild and len(held) < len(todo):
                busy = next(p.name for p in todo if p.name not in held)
                raise ProjectionError(
                    f"projection {busy!r} is being updated by another runner (its lease is "
                    f"held); not rebuilt. Try again when that runner has finished"
                )
            cursors = [self._open(p, rebuild) for p in todo if p.name in held]
            self._catch_up(cursors, target, progress, leases)
        finally:
            leases.release()
        out = {}
        for p in chosen:
            stored = self.log.projection_state(p.name)
            out[p.name] = 0 if stored is None else stored.position
        return out

    def _catch_up(
        self,
        cursors: list[_Cursor],
        target: int,
        progress: ProgressCallback | None,
        leases: LeaseSet,
    ) -> None:
        behind = [c for c in cursors if c.position < target]
        start = min((c.position for c in behind), default=target)
        total = target - start
        wanted = _union_types(behind)
        position = start
        while behind:
            read = self.log.read_page(position, self.page_size, wanted)
            page = [r for r in read if r.position <= target]
            if not page:
                break
            for record in page:
                self._fold(record, behind)
            position = page[-1].position
            leases.renew()
            for cursor in behind:
                self._commit(cursor, position)
            behind = [c for c in behind if c.position < target]
            if progress is not None:
                progress(position - start, total)
            if len(read) < self.page_size or len(page) < len(read):
                break  # the log holds no more wanted records up to `target`
        # Records past the last wanted one are of other types: move the checkpoints over them,
        # so `status` shows no lag and the next run does not read them again.
        for cursor in behind:
            self._commit(cursor, target)
        if progress is not None:
            progress(total, total)

    def _fold(self, record: Record, cursors: list[_Cursor]) -> None:
        event = None
        for cursor in cursors:
            if cursor.position >= record.position:
                continue
            if cursor.types is not None and record.type not in cursor.types:
                continue
            projection = cursor.projection
            try:
                if event is None and projection.decode:
                    event = record.event()
                projection.apply(
                    event if projection.decode else None,  # type: ignore[arg-type]
                    record,
                    cursor.state,
                )
            except Exception as exc:
                for c in cursors:
                    c.state.clear()
                err = ProjectionError(
                    f"projection {projection.name!r} failed at position {record.position} "
                    f"({record.type}): {type(exc).__name__}: {exc}; its checkpoint stays at "
                    f"{cursor.position}"
                )
                err.projection = projection.name  # type: ignore[attr-defined]
                err.position = record.position  # type: ignore[attr-defined]
                err.event_type = record.type  # type: ignore[attr-defined]
                raise err from exc

    def _commit(self, cursor: _Cursor, position: int) -> None:
        if position <= cursor.position:
            return
        name = cursor.projection.name
        stored = self.log.projection_state(name)
        if (0 if stored is None else stored.position) != cursor.position:
            raise ProjectionError(
                f"projection {name!r} was advanced by another runner while this one ran "
                f"(expected checkpoint {cursor.position}, found "
                f"{0 if stored is None else stored.position}); run one runner at a time"
            )
        try:
            self.log.commit_projection(
                name, cursor.projection.version, position, cursor.state.changes
            )
        except (TypeError, ValueError) as exc:
            cursor.state.clear()
            raise ProjectionError(
                f"projection {name!r} stored a value that is not JSON while folding up to "
                f"position {position}: {exc}"
            ) from exc
        cursor.state.clear()
        cursor.position = position


def _union_types(cursors: list[_Cursor]) -> frozenset[str] | None:
    wanted: set[str] = set()
    for cursor in cursors:
        if cursor.types is None:
            return None
        wanted |= cursor.types
    return frozenset(wanted)


def _check(projection: Projection, known: dict[str, object]) -> None:
    if not isinstance(projection, Projection):
        raise ProjectionError(f"{projection!r} is not a Projection instance")
    name = getattr(projection, "name", None)
    if not isinstance(name, str) or not name:
        raise ProjectionError(f"{type(projection).__name__} has no name: set `name = '...'`")
    version = getattr(projection, "version", None)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProjectionError(f"projection {name!r}: version must be an int >= 1, got {version!r}")
    if not isinstance(getattr(projection, "decode", True), bool):
        raise ProjectionError(f"projection {name!r}: decode must be True or False")
    types = projection.types
    if types is not None:
        if isinstance(types, str) or not isinstance(types, frozenset | set | tuple | list):
            raise ProjectionError(
                f"projection {name!r}: types must be a frozenset of event type names or None"
            )
        unknown = sorted(t for t in types if t not in known)
        if unknown:
            raise ProjectionError(
                f"projection {name!r} folds unknown event type {unknown[0]!r}; known: "
                f"{', '.join(sorted(known))}"
            )

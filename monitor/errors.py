"""The errors `monitor` raises, as one small tree.

Every error a user can meet derives from :class:`MonitorError`, and each branch also derives from
the builtin whose meaning it shares, so ``except ValueError`` around rule loading or
``except OSError`` around the log keep working::

    MonitorError
    ├── ConfigError(ValueError)            a config file (feeds, sinks) is wrong; has a location
    ├── EventError(ValueError)             an event cannot be encoded or decoded
    │   └── UnknownEventTypeError(LookupError)
    ├── LogError(OSError)                  the event log cannot do what was asked
    │   ├── LogLockedError                 another process holds the write lock too long
    │   ├── LogReadOnlyError               the file or its directory cannot be written
    │   ├── LogCorruptedError              not a log, a damaged file, or a broken hash chain
    │   │   └── LogRecordsLostError        a checkpoint is past the head: records were lost
    │   ├── LogFullError                   the disk (or the database's size limit) is full
    │   ├── LogSchemaError                 a log written by a newer or foreign program
    │   └── LogUnavailableError            a server backend cannot be reached
    ├── ProjectionError(RuntimeError)      a projection failed to fold an event
    ├── RuleError(ValueError)              a rule file is wrong; has a location
    │   └── RuleSetError                   several rule errors collected from a load
    ├── FeedError(OSError)                 a feed cannot be fetched or parsed (becomes an event)
    └── SinkError(OSError)                 an alert could not be delivered (retried)

Errors that point into a file carry a :class:`SourceLocation` and print it first, the way
compilers do, so editors can jump to the place: ``rules/x.yaml:12:5: unknown modifier 'nera'``.
Library errors (sqlite3, psycopg, yaml, httpx) are translated once, at the boundary where they
are caught, and chained with ``raise ... from``.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = [
    "ConfigError",
    "EventError",
    "FeedError",
    "LogCorruptedError",
    "LogError",
    "LogFullError",
    "LogLockedError",
    "LogReadOnlyError",
    "LogRecordsLostError",
    "LogSchemaError",
    "LogUnavailableError",
    "MonitorError",
    "ProjectionError",
    "RuleError",
    "RuleSetError",
    "SinkError",
    "SourceLocation",
    "UnknownEventTypeError",
]


@attrs.frozen
class SourceLocation:
    """Where in a file something was written: path, and 1-based line and column when known."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class MonitorError(Exception):
    """Root of every error raised by `monitor`."""


class _LocatedError(MonitorError):
    """An error that can say which file, line and column it comes from."""

    def __init__(self, message: str, *, source: SourceLocation | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and self.message == other.message  # type: ignore[attr-defined]
            and self.source == other.source  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((type(self), self.message, self.source))


class ConfigError(_LocatedError, ValueError):
    """A configuration file (feed list, sink settings) is invalid."""


class RuleError(_LocatedError, ValueError):
    """A rule file or one rule in it is invalid."""


class RuleSetError(RuleError):
    """A rule set failed to load; ``errors`` holds every fault found, in file order."""

    def __init__(self, errors: Sequence[RuleError]) -> None:
        self.errors = tuple(errors)
        first = self.errors[0] if self.errors else None
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(
            f"{first.message}{more}" if first else "rule set failed to load",
            source=first.source if first else None,
        )


class EventError(MonitorError, ValueError):
    """An event cannot be encoded, decoded or upcast."""


class UnknownEventTypeError(EventError, LookupError):
    """A record names an event type, or a version of one, that this program does not know."""


class LogError(MonitorError, OSError):
    """The event log cannot do what was asked. Nothing already stored has been changed."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class LogLockedError(LogError):
    """Another process held the log's write lock for longer than the configured timeout."""


class LogReadOnlyError(LogError):
    """The log file, or the directory it lives in, cannot be written."""


class LogCorruptedError(LogError):
    """The file is not a log, is damaged, or its hash chain does not verify."""


class LogRecordsLostError(LogCorruptedError):
    """A projection or subscriber checkpoint is past the last record: the log lost records at
    its end (a deleted tail, a partial restore). New records would take the lost positions
    and be skipped by whatever had already folded them, so the log refuses to go on."""


class LogFullError(LogError):
    """The disk holding the log, or the database's own size limit, is full. The failed write
    stored nothing; every record stored before it is intact."""


class LogSchemaError(LogError):
    """The database belongs to another application or to a newer version of `monitor`."""


class LogUnavailableError(LogError):
    """A server backend (PostgreSQL) could not be reached or dropped the connection."""


class ProjectionError(MonitorError, RuntimeError):
    """A projection failed while folding an event; its checkpoint was not advanced."""


class FeedError(MonitorError, OSError):
    """A feed could not be fetched or parsed. The watcher records it as a `FeedFailed` event."""

    def __init__(self, message: str, *, kind: str = "error", retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after

    def __str__(self) -> str:
        return str(self.args[0])


class SinkError(MonitorError, OSError):
    """An alert could not be delivered to a sink; delivery will be retried."""

    def __str__(self) -> str:
        return str(self.args[0])

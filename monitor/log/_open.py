"""`open_log`: one function that opens any backend from a URL or a path."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import LogError
from ._base import EventLog

__all__ = ["open_log"]


def open_log(target: str | Path, *, read_only: bool = False, **options: object) -> EventLog:
    """Open the event log named by `target`.

    Accepted forms: ``memory:``; ``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` or a
    bare path (the default backend, one file); ``postgresql://user@host/db`` (needs the
    ``postgres`` extra). Query parameters of a URL become backend options, e.g.
    ``sqlite:///x.db?timeout=5&synchronous=full``; keyword `options` override them.

    With `read_only` (or ``?read_only=1`` in the URL) the log is opened for reading only:
    nothing is created, upgraded or written, so a log on read-only media, in a backup or in a
    directory this user cannot write can still be read and verified; any write raises
    `LogReadOnlyError`. Commands that only read should open logs this way. A ``memory:`` log
    belongs to its process and ignores the option.
    """
    if read_only:
        options["read_only"] = True
    text = str(target)
    if text in ("memory:", "memory://", ":memory:"):
        from ._memory import MemoryLog

        return MemoryLog()
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        try:
            from ._postgres import PostgresLog
        except ImportError as exc:
            raise LogError(
                "the PostgreSQL backend needs psycopg: pip install 'news-monitor[postgres]'"
            ) from exc
        return PostgresLog(text, **options)  # type: ignore[arg-type]
    if scheme in ("", "sqlite", "file"):
        from ._sqlite import SQLiteLog

        if scheme:
            parts = urlsplit(text)
            path = parts.path[1:] if parts.path.startswith("/") else parts.path
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            return SQLiteLog(path, **{**query, **options})  # type: ignore[arg-type]
        return SQLiteLog(text, **options)  # type: ignore[arg-type]
    raise LogError(
        f"unknown log URL scheme {scheme!r} in {text!r}: use a file path, sqlite:///PATH, "
        "memory: or postgresql://..."
    )

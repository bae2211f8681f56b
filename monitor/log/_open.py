"""`open_log`: one function that opens any backend from a URL or a path."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import LogError
from ._base import EventLog

__all__ = ["open_log"]


def open_log(target: str | Path, **options: object) -> EventLog:
    """Open the event log named by `target`.

    Accepted forms: ``memory:``; ``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` or a
    bare path (the default backend, one file); ``postgresql://user@host/db`` (needs the
    ``postgres`` extra). Query parameters of a URL become backend options, e.g.
    ``sqlite:///x.db?timeout=5&synchronous=full``; keyword `options` override them.
    """
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

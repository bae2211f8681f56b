"""The one SQL query builder the database backends share: a page of projection keys."""

from __future__ import annotations

from typing import Any

__all__ = ["projection_scan_query"]


def projection_scan_query(
    base: str,
    name: str,
    prefix: str,
    *,
    reverse: bool,
    limit: int | None,
    after: str | None,
    mark: str,
) -> tuple[str, list[Any]]:
    """Extend `base` (``SELECT key, value ... WHERE name = <mark>``) to select one page of
    projection `name`'s keys: those starting with `prefix`, after key `after` (exclusive), in
    key order or `reverse`, at most `limit`. `mark` is the driver's placeholder (``?`` or
    ``%s``). Returns the query and its parameters."""
    query, params = base, [name]
    if prefix:
        # Keys starting with `prefix` sort between prefix and prefix + U+10FFFF (byte order).
        query += f" AND key >= {mark} AND key < {mark}"
        params += [prefix, prefix + "\U0010ffff"]
    if after is not None:
        query += f" AND key < {mark}" if reverse else f" AND key > {mark}"
        params.append(after)
    query += " ORDER BY key DESC" if reverse else " ORDER BY key"
    if limit is not None:
        query += f" LIMIT {mark}"
        params.append(limit)
    return query, params

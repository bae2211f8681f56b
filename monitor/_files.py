"""Bounded reads of the files users hand the project: rule files, lexicons, feed lists, sinks.

A configuration file is small; one that is not (a mistaken path to a log dump, a generated
file gone wrong, a hostile pack) must be refused before it is read into memory, and a file that
grows while it is read (``/proc`` entries, a file being appended to) must not be read past the
bound either, so the read itself stops at the limit instead of trusting `stat`.
"""

from __future__ import annotations

import os

__all__ = ["FileTooLarge", "MiB", "read_limited"]

MiB = 1024 * 1024


class FileTooLarge(OSError):
    """The file is larger than the bound its reader allows."""

    def __init__(self, path: str, limit: int) -> None:
        super().__init__(f"{path} is larger than {limit // MiB} MiB")
        self.path = path
        self.limit = limit


def read_limited(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of `path`, or `FileTooLarge` when it holds more than `limit` bytes.

    Reads at most `limit + 1` bytes whatever the file claims to be, so memory stays bounded.
    Raises OSError (FileNotFoundError, PermissionError, ...) as `open` does.
    """
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(os.fspath(path), limit)
    return data

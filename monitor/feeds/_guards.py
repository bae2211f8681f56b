"""The fetcher's guards: bounded decompression, the deadline watchdog, and `feed_error`.

Kept apart from `_fetch` so each module stays small; nothing here is public.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import zlib
from collections.abc import Mapping
from typing import Any

from ..errors import FeedError

__all__ = ["Inflater", "Watchdog", "feed_error"]


def feed_error(
    message: str, kind: str, *, status: int | None = None, retry_after: float | None = None
) -> FeedError:
    """Build a `FeedError` carrying `kind`, `retry_after` and the HTTP `status` (or None)."""
    err = FeedError(message, kind=kind, retry_after=retry_after)
    err.status = status  # type: ignore[attr-defined]
    return err


class Inflater:
    """Bounded decompression of one response body (identity, gzip or deflate)."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._obj: zlib._Decompress | None = None
        elif encoding in ("gzip", "x-gzip"):
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise feed_error(f"unsupported Content-Encoding {encoding!r}", "encoding")
        # "deflate" is sent both with and without the zlib header; the first chunk tells.
        self._probe = encoding == "deflate"

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decompress `data`, returning at most `limit` bytes more than were asked for; the
        caller treats an output longer than what it still allows as too large."""
        if self._obj is None:
            return data
        try:
            if self._probe:
                self._probe = False
                try:
                    probe = zlib.decompressobj(zlib.MAX_WBITS)
                    out = probe.decompress(data, limit)
                    self._obj = probe
                except zlib.error:  # "deflate" sent raw, without the zlib header
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    out = self._obj.decompress(data, limit)
            else:
                out = self._obj.decompress(data, limit)
            pieces = [out]
            produced = len(out)
            while self._obj.unconsumed_tail and produced <= limit:
                more = self._obj.decompress(self._obj.unconsumed_tail, limit - produced + 1)
                pieces.append(more)
                produced += len(more)
            return b"".join(pieces)
        except zlib.error as exc:
            raise feed_error(f"body does not decompress: {exc}", "encoding") from exc


class Watchdog:
    """Enforces the overall deadline on the socket itself.

    httpx's timeouts apply per read, so a server that sends its *headers* a byte at a time
    would never trip them, and our per-chunk check only starts with the body. The watchdog
    learns each connection's socket through httpcore's ``trace`` extension and shuts it down
    when the deadline passes, which wakes the blocked read at once.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, name: str, info: Mapping[str, Any]) -> None:
        if name not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            self._shutdown(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()

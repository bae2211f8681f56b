"""Feed-test fixtures: a local HTTP server on 127.0.0.1, raw misbehaving servers, feed builders.

Nothing here reaches the internet: pytest-httpserver listens on 127.0.0.1 and the raw socket
servers below play the hostile or broken hosts (silent, dripping) that a real library cannot.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from monitor.feeds import Fetcher
from monitor.log import MemoryLog

REPO = Path(__file__).resolve().parents[2]
REALFEEDS = Path(__file__).resolve().parents[3] / "shared" / "realfeeds"
SAMPLES = REPO / "feeds" / "samples"
#: The explicit allowance every test that serves feeds from 127.0.0.1 needs: loopback and other
#: internal addresses are refused by default.
LOCAL = ("127.0.0.1/32",)


@pytest.fixture
def log() -> Iterator[MemoryLog]:
    """An empty in-memory event log."""
    memory = MemoryLog()
    yield memory
    memory.close()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    """A fetcher with short timeouts and a 1 MB cap, so failure tests finish quickly; it may
    connect to 127.0.0.1, where the test servers listen."""
    with Fetcher(
        connect_timeout=2.0,
        read_timeout=2.0,
        deadline=5.0,
        max_bytes=1_000_000,
        trust_env=False,
        allow_networks=LOCAL,
    ) as f:
        yield f


def rss(items: list[dict[str, str]], *, title: str = "Test Wire", encoding: str = "utf-8") -> bytes:
    """Build an RSS 2.0 document; each item dict may have title, link, guid, description,
    pubDate (a datetime), author, category."""
    parts = [
        f'<?xml version="1.0" encoding="{encoding}"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://wire.example/</link>",
        "<description>test feed</description><language>en</language>",
    ]
    for item in items:
        parts.append("<item>")
        for key in ("title", "link", "guid", "description", "author", "category"):
            if key in item:
                parts.append(f"<{key}>{escape(item[key])}</{key}>")
        if "pubDate" in item:
            when = item["pubDate"]
            text = format_datetime(when) if isinstance(when, datetime) else when
            parts.append(f"<pubDate>{text}</pubDate>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode(encoding)


def wire_items(n: int, *, start: int = 0) -> list[dict[str, str]]:
    """`n` simple items with guids, links and dates."""
    return [
        {
            "title": f"Report {i}: convoy seen near Hasakah",
            "link": f"https://wire.example/news/{i}",
            "guid": f"wire-{i}",
            "description": f"<p>Residents saw report number {i}.</p>",
            "pubDate": datetime(2026, 2, 1, 8, 0, tzinfo=UTC).replace(minute=i % 60),
        }
        for i in range(start, start + n)
    ]


class RawServer:
    """A TCP server on 127.0.0.1 whose per-connection behaviour is a function of the socket.

    `stop()` sets `self.stopping`, which behaviours check so their threads end promptly.
    """

    def __init__(self, behaviour) -> None:
        self.behaviour = behaviour
        self.stopping = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/feed.xml"
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.behaviour(self, conn)

    def stop(self) -> None:
        self.stopping.set()
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.close()
        self.sock.close()
        self.thread.join(2)


@pytest.fixture
def raw_server():
    """Factory for `RawServer`s; every server made is stopped after the test."""
    servers: list[RawServer] = []

    def make(behaviour) -> RawServer:
        server = RawServer(behaviour)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def silent(server: RawServer, conn: socket.socket) -> None:
    """Accept the connection, read the request, never answer."""
    conn.recv(65536)
    server.stopping.wait(30)


def dripping(server: RawServer, conn: socket.socket) -> None:
    """Answer 200 with a body sent one byte at a time, a byte every 0.3 s."""
    conn.recv(65536)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 10000\r\n\r\n"
    )
    body = rss(wire_items(30))
    for i in range(len(body)):
        if server.stopping.wait(0.3):
            return
        conn.sendall(body[i : i + 1])


def dripping_headers(server: RawServer, conn: socket.socket) -> None:
    """Send the status line and headers one byte every 0.3 s (never reaching the body)."""
    conn.recv(65536)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n" + b"X-Pad: a\r\n" * 200
    for i in range(len(head)):
        if server.stopping.wait(0.3):
            return
        conn.sendall(head[i : i + 1])


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())

"""`MetricsServer`: ``/metrics`` (Prometheus text format) and ``/healthz`` over HTTP.

A small WSGI app served by wsgiref's server, one thread per request, from a daemon thread,
bound to exactly the address given. prometheus_client's own `start_http_server` serves any path
as metrics and has no place for a health check, so its `make_wsgi_app` answers every path but
``/healthz`` here. Nothing is authenticated: keep it on loopback or behind a proxy.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from ._health import Health

__all__ = ["MetricsServer", "parse_address"]


def parse_address(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``127.0.0.1:9464``, ``[::1]:9464``, ``localhost:9464``) as (host, port).

    Raises ValueError saying what is expected.
    """
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:9464, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood the log; say nothing."""


_App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def health_app(health: Health | None, metrics: _App) -> _App:
    """The WSGI app: ``/healthz`` from `health`, anything else from the metrics app."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/healthz":
            return metrics(environ, start_response)
        if health is None:
            ok, body = True, {"status": "ok"}
        else:
            ok, body = health.check()
        data = json.dumps(body, sort_keys=True).encode() + b"\n"
        status = "200 OK" if ok else "503 Service Unavailable"
        start_response(
            status,
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [data]

    return app


class MetricsServer:
    """Serve `registry` at ``/metrics`` and `health` at ``/healthz`` on (host, port).

    `start` binds (raising OSError when the address is taken or not local to this machine) and
    serves from a daemon thread; `stop` closes the socket. Port 0 picks a free port: read
    `address` after `start`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        health: Health | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.app = health_app(health, make_wsgi_app(registry))
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The address actually bound (the real port when 0 was asked for)."""
        if self._server is None:
            return self.host, self.port
        return self._server.server_address[0], self._server.server_address[1]  # type: ignore[return-value]

    def start(self) -> None:
        """Bind and serve in a daemon thread."""
        family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]

        class Server(_Server):
            address_family = family

        self._server = make_server(self.host, self.port, self.app, Server, _QuietHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

"""`Fetcher`: our own careful HTTP client for feeds (httpx, synchronous).

feedparser can fetch URLs itself, but with no size cap, no overall deadline and no say over
redirects, so we fetch and hand it bytes. What this client guarantees:

* connect and read timeouts, plus an overall deadline checked as every chunk arrives, so a server
  that drips a byte a second is cut off;
* a size cap on the body, applied to the bytes on the wire *and* after decompression: we
  decompress gzip/deflate ourselves with a bounded `max_length`, so a gzip bomb never inflates
  more than the cap in memory (httpx's own decoder inflates a whole chunk at once);
* redirects followed by hand, so a permanent one (301/308) is reported and the feed's URL can be
  updated through an event, and so a redirect to a non-http(s) scheme is refused;
* conditional GET (If-None-Match / If-Modified-Since) and 304;
* connections only to public addresses, checked after DNS resolution for the first request and
  every redirect hop, unless a network is allowed (`_netguard`; kind ``blocked_address``);
* credentials (`FeedAuth`) sent as an Authorization header only to their own origin, so a
  redirect to another host never carries them;
* HTTP failures raised as `FeedError` with a `kind` (``gone`` for 410, ``rate_limited`` /
  ``unavailable`` for 429 / 503 with the server's Retry-After in seconds, ``http_status`` for the
  rest, ``timeout``, ``too_large``, ``connection`` ...) and a `status` attribute.
"""

from __future__ import annotations

import contextlib
import email.utils
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import urljoin

import attrs
import httpx

from ..errors import FeedError
from ._auth import FeedAuth
from ._config import check_feed_url
from ._guards import Inflater, Watchdog, feed_error
from ._netguard import AddressPolicy, IPNetwork, Resolver, guarded_transport, parse_networks

__all__ = ["DEFAULT_USER_AGENT", "FetchResult", "Fetcher", "parse_retry_after"]

DEFAULT_USER_AGENT = "news-monitor/0.1 (+https://github.com/news-monitor; feed watcher)"
_PERMANENT = frozenset({301, 308})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = {
    "User-Agent": DEFAULT_USER_AGENT,
    "Accept": "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
    "Accept-Encoding": "gzip, deflate",
}
# No keep-alive: polls are minutes apart, a fresh connection per request lets the watchdog see
# (and cut) every socket, and no connection vetted for one feed's allowance serves another.
_LIMITS = httpx.Limits(max_keepalive_connections=0)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return a Retry-After header as seconds from `now`: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@attrs.frozen(kw_only=True)
class FetchResult:
    """A successful fetch (200) or a 304 (`not_modified`, empty body).

    `moved_to` is the new URL when every redirect on the way was permanent (301/308), so later
    polls should use it; `final_url` is where the body actually came from.
    """

    url: str
    final_url: str
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None

    @property
    def not_modified(self) -> bool:
        """True for a 304 answer to a conditional GET."""
        return self.status == 304


class Fetcher:
    """Fetches feed URLs politely and safely. Thread-safe; reuse one for connection pooling.

    Args:
        transport: an httpx transport (tests pass `httpx.MockTransport`); default: real network.
        connect_timeout / read_timeout: seconds for connecting and between bytes received.
        deadline: seconds for the whole fetch, redirects included.
        max_bytes: the most body bytes accepted, before and after decompression.
        max_redirects: redirects followed before giving up.
        user_agent: sent with every request.
        clock: "now" for Retry-After dates when the server sends no Date header.
        trust_env: read SSL_CERT_FILE / SSL_CERT_DIR from the environment. Proxy variables
            (HTTP(S)_PROXY) are never used: through a proxy the address guard could not see
            where a request really goes.
        allow_networks: non-public networks every fetch may connect to (e.g. ``["127.0.0.1"]``
            for a local test server); `fetch` can add a feed's own. Default: none, so loopback,
            private, link-local, multicast, reserved and unspecified addresses are refused.
        resolver: stands in for ``socket.getaddrinfo`` (tests); each host is resolved once per
            connection and the connection goes to the vetted address.

    A `transport` given here is used as is, for every fetch: the address guard lives in the
    default network transport (a mock transport opens no connections to guard).
    """

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        deadline: float = 60.0,
        max_bytes: int = 10 * 1024 * 1024,
        max_redirects: int = 5,
        user_agent: str = DEFAULT_USER_AGENT,
        clock: Callable[[], datetime] | None = None,
        trust_env: bool = True,
        allow_networks: Iterable[str | IPNetwork] = (),
        resolver: Resolver | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self._clock = clock or (lambda: datetime.now(UTC))
        self.allow_networks = parse_networks(allow_networks)
        self._transport = transport
        self._trust_env = trust_env
        self._resolver = resolver
        self._headers = {**_HEADERS, "User-Agent": user_agent}
        self._clients: dict[tuple[IPNetwork, ...], httpx.Client] = {}
        self._lock = threading.Lock()

    def _client_for(self, extra: tuple[IPNetwork, ...]) -> httpx.Client:
        """The client for one allowance: one pool per policy, so none is shared across them."""
        allow = tuple(sorted(set(self.allow_networks) | set(extra), key=_network_key))
        key = () if self._transport is not None else allow
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                transport = self._transport or guarded_transport(
                    AddressPolicy(allow),
                    trust_env=self._trust_env,
                    limits=_LIMITS,
                    resolver=self._resolver,
                )
                client = httpx.Client(
                    transport=transport,
                    follow_redirects=False,
                    trust_env=False,
                    limits=_LIMITS,
                    headers=self._headers,
                )
                self._clients[key] = client
            return client

    def close(self) -> None:
        """Close pooled connections."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        auth: FeedAuth | None = None,
        allow_networks: Iterable[str | IPNetwork] = (),
    ) -> FetchResult:
        """GET `url` (conditionally when validators are given) and return the body.

        `auth` is sent (as an Authorization header) on every hop whose origin is the one it was
        made for, and on no other. `allow_networks` adds to the fetcher's own allowance for this
        fetch (a feed's `allow_networks`).

        Raises:
            FeedError: with `kind` timeout, too_large, connection, protocol, redirect, encoding,
                url, blocked_address, gone (410), rate_limited (429), unavailable (503) or
                http_status, and the server's `retry_after` where it sent one.
        """
        try:
            check_feed_url(url)
        except ValueError as exc:
            raise feed_error(str(exc), "url") from None
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        client = self._client_for(parse_networks(allow_networks))
        stop = time.monotonic() + self.deadline
        watchdog = Watchdog(self.deadline)
        try:
            return self._fetch(client, url, headers, auth, stop, watchdog)
        finally:
            watchdog.cancel()

    def _fetch(
        self,
        client: httpx.Client,
        url: str,
        headers: dict[str, str],
        auth: FeedAuth | None,
        stop: float,
        watchdog: Watchdog,
    ) -> FetchResult:
        current, moved_to, permanent_so_far = url, None, True
        for _hop in range(self.max_redirects + 1):
            remaining = stop - time.monotonic()
            if remaining <= 0:
                raise feed_error(f"no answer within the {self.deadline:g}s deadline", "timeout")
            timeout = httpx.Timeout(
                connect=min(self.connect_timeout, remaining),
                read=min(self.read_timeout, remaining),
                write=min(self.read_timeout, remaining),
                pool=min(self.connect_timeout, remaining),
            )
            hop_headers = dict(headers)
            if auth is not None and auth.applies_to(current):
                hop_headers["Authorization"] = auth.header()
            try:
                with client.stream(
                    "GET",
                    current,
                    headers=hop_headers,
                    timeout=timeout,
                    extensions={"trace": watchdog.trace},
                ) as resp:
                    status = resp.status_code
                    if status in _REDIRECTS:
                        target = self._redirect_target(resp, current)
                        permanent_so_far = permanent_so_far and status in _PERMANENT
                        if permanent_so_far:
                            moved_to = target
                        current = target
                        continue
                    if status == 304:
                        return self._result(url, current, resp, b"", moved_to)
                    if status >= 400 or status < 200:
                        raise self._status_error(resp)
                    body = self._read_body(resp, stop)
                    if watchdog.fired:  # the cut may look like a clean end of a chunked body
                        raise feed_error(
                            f"body not complete within the {self.deadline:g}s deadline", "timeout"
                        )
                    return self._result(url, current, resp, body, moved_to)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                if watchdog.fired or time.monotonic() > stop:
                    raise feed_error(
                        f"not complete within the {self.deadline:g}s deadline", "timeout"
                    ) from exc
                raise self._translate(exc, current) from exc
        raise feed_error(f"more than {self.max_redirects} redirects", "redirect")

    @staticmethod
    def _translate(exc: httpx.HTTPError | httpx.InvalidURL, current: str) -> FeedError:
        """Map an httpx error to a `FeedError` kind (the one place library errors are named)."""
        if isinstance(exc, httpx.TimeoutException):
            return feed_error(f"timed out: {_describe(exc)}", "timeout")
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return feed_error(f"invalid URL or redirect target from {current!r}: {exc}", "url")
        if isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
            return feed_error(f"HTTP protocol error: {_describe(exc)}", "protocol")
        return feed_error(f"cannot connect: {_describe(exc)}", "connection")

    def _redirect_target(self, resp: httpx.Response, current: str) -> str:
        location = resp.headers.get("location")
        if not location:
            raise feed_error(
                f"HTTP {resp.status_code} redirect without a Location",
                "redirect",
                status=resp.status_code,
            )
        target = urljoin(current, location.strip())
        try:
            return check_feed_url(target)
        except ValueError as exc:
            raise feed_error(
                f"refusing redirect: {exc}", "redirect", status=resp.status_code
            ) from None

    def _status_error(self, resp: httpx.Response) -> FeedError:
        status = resp.status_code
        reason = resp.reason_phrase or ""
        text = f"HTTP {status} {reason}".strip()
        if status == 410:
            return feed_error(f"{text}: the feed is gone for good", "gone", status=status)
        if status in (429, 503):
            now = self._clock()
            date = resp.headers.get("date")
            if date:
                with contextlib.suppress(TypeError, ValueError, IndexError):
                    now = email.utils.parsedate_to_datetime(date)
                if now.tzinfo is None:
                    now = now.replace(tzinfo=UTC)
            retry = parse_retry_after(resp.headers.get("retry-after"), now)
            kind = "rate_limited" if status == 429 else "unavailable"
            return feed_error(text, kind, status=status, retry_after=retry)
        return feed_error(text, "http_status", status=status)

    def _read_body(self, resp: httpx.Response, stop: float) -> bytes:
        cap = self.max_bytes
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise feed_error(
                f"response is {int(declared)} bytes, over the {cap}-byte limit",
                "too_large",
                status=resp.status_code,
            )
        if resp.is_stream_consumed:
            # An in-memory response (a mock transport): httpx has already decoded it.
            inflater, chunks = Inflater(""), iter((resp.content,))
        else:
            inflater = Inflater(resp.headers.get("content-encoding", ""))
            chunks = resp.iter_raw()  # no chunk size: httpx would buffer until it is reached
        pieces: list[bytes] = []
        wire = size = 0
        for raw in chunks:
            if time.monotonic() > stop:
                raise feed_error(
                    f"body not complete within the {self.deadline:g}s deadline "
                    f"({wire} bytes received)",
                    "timeout",
                    status=resp.status_code,
                )
            wire += len(raw)
            data = inflater.feed(raw, cap - size)
            size += len(data)
            if wire > cap or size > cap:
                raise feed_error(
                    f"response is over the {cap}-byte limit", "too_large", status=resp.status_code
                )
            pieces.append(data)
        return b"".join(pieces)

    @staticmethod
    def _result(
        url: str, final: str, resp: httpx.Response, body: bytes, moved_to: str | None
    ) -> FetchResult:
        headers = {k.lower(): v for k, v in resp.headers.items()}
        # The body is already decoded; a stale Content-Encoding would mislead feedparser.
        headers.pop("content-encoding", None)
        return FetchResult(
            url=url,
            final_url=final,
            status=resp.status_code,
            body=body,
            headers=headers,
            etag=resp.headers.get("etag"),
            last_modified=resp.headers.get("last-modified"),
            moved_to=moved_to,
        )


def _network_key(network: IPNetwork) -> tuple[int, int, int]:
    return (network.version, int(network.network_address), network.prefixlen)


def _describe(exc: Exception) -> str:
    text = str(exc)
    return text or type(exc).__name__

"""The HTTP fetcher against a local server: statuses, redirects, validators, hostile hosts."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from datetime import UTC, datetime

import httpx
import pytest
from werkzeug import Response

from monitor.errors import FeedError
from monitor.feeds import Fetcher, parse_retry_after

from .conftest import LOCAL, dripping, dripping_headers, rss, silent, wire_items

FEED = rss(wire_items(3))


def test_200_returns_body_and_validators(httpserver, fetcher):
    """A 200 returns the body, the final URL and the ETag / Last-Modified to keep."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED,
        content_type="application/rss+xml",
        headers={"ETag": '"v1"', "Last-Modified": "Sun, 01 Mar 2026 10:00:00 GMT"},
    )
    result = fetcher.fetch(httpserver.url_for("/feed.xml"))
    assert result.status == 200
    assert result.body == FEED
    assert result.etag == '"v1"'
    assert result.last_modified == "Sun, 01 Mar 2026 10:00:00 GMT"
    assert result.moved_to is None and not result.not_modified


def test_304_with_etag(httpserver, fetcher):
    """The ETag is sent as If-None-Match and a 304 comes back as `not_modified`, no body."""
    httpserver.expect_request("/feed.xml", headers={"If-None-Match": '"v1"'}).respond_with_data(
        b"", status=304
    )
    result = fetcher.fetch(httpserver.url_for("/feed.xml"), etag='"v1"')
    assert result.not_modified and result.body == b""


def test_304_with_last_modified(httpserver, fetcher):
    """Last-Modified is sent back as If-Modified-Since and honoured with a 304."""
    stamp = "Sun, 01 Mar 2026 10:00:00 GMT"
    httpserver.expect_request("/feed.xml", headers={"If-Modified-Since": stamp}).respond_with_data(
        b"", status=304
    )
    result = fetcher.fetch(httpserver.url_for("/feed.xml"), last_modified=stamp)
    assert result.status == 304


def test_301_is_reported_as_a_move(httpserver, fetcher):
    """A 301 is followed and reported in `moved_to` so the feed's URL can be updated."""
    new = httpserver.url_for("/new.xml")
    httpserver.expect_request("/old.xml").respond_with_data(
        b"", status=301, headers={"Location": "/new.xml"}
    )
    httpserver.expect_request("/new.xml").respond_with_data(FEED)
    result = fetcher.fetch(httpserver.url_for("/old.xml"))
    assert result.status == 200 and result.body == FEED
    assert result.moved_to == new and result.final_url == new


def test_308_then_302_keeps_only_the_permanent_part(httpserver, fetcher):
    """A chain 308 -> 302 moves the feed to the 308's target only, not to the temporary one."""
    httpserver.expect_request("/a").respond_with_data(b"", status=308, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data(b"", status=302, headers={"Location": "/c"})
    httpserver.expect_request("/c").respond_with_data(FEED)
    result = fetcher.fetch(httpserver.url_for("/a"))
    assert result.moved_to == httpserver.url_for("/b")
    assert result.final_url == httpserver.url_for("/c")


def test_302_is_followed_but_not_a_move(httpserver, fetcher):
    """A temporary redirect is followed, and the feed keeps its URL."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        b"", status=302, headers={"Location": httpserver.url_for("/today.xml")}
    )
    httpserver.expect_request("/today.xml").respond_with_data(FEED)
    result = fetcher.fetch(httpserver.url_for("/feed.xml"))
    assert result.body == FEED and result.moved_to is None


def test_redirect_loop_is_cut(httpserver, fetcher):
    """A redirect loop ends after `max_redirects` with kind ``redirect``."""
    httpserver.expect_request("/loop").respond_with_data(
        b"", status=302, headers={"Location": "/loop"}
    )
    with pytest.raises(FeedError) as info:
        fetcher.fetch(httpserver.url_for("/loop"))
    assert info.value.kind == "redirect"


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.org/feed", "javascript:x"])
def test_redirect_to_non_http_is_refused(httpserver, fetcher, target):
    """A server cannot redirect the fetcher to a local file or another scheme."""
    httpserver.expect_request("/evil").respond_with_data(
        b"", status=301, headers={"Location": target}
    )
    with pytest.raises(FeedError) as info:
        fetcher.fetch(httpserver.url_for("/evil"))
    # httpx itself rejects some targets while reading the Location header (kind "url").
    assert info.value.kind in ("redirect", "url")
    assert len(httpserver.log) == 1  # nothing else was requested


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "javascript:1"])
def test_non_http_urls_are_not_fetched(fetcher, url):
    """The fetcher itself refuses non-http(s) URLs (kind ``url``)."""
    with pytest.raises(FeedError) as info:
        fetcher.fetch(url)
    assert info.value.kind == "url"


def test_404_is_an_http_status_error(httpserver, fetcher):
    """A 404 raises kind ``http_status`` with the status attached."""
    httpserver.expect_request("/feed.xml").respond_with_data(b"nope", status=404)
    with pytest.raises(FeedError) as info:
        fetcher.fetch(httpserver.url_for("/feed.xml"))
    assert info.value.kind == "http_status" and info.value.status == 404
    assert "404" in str(info.value)


def test_410_is_gone(httpserver, fetcher):
    """A 410 raises kind ``gone``: the feed must be disabled."""
    httpserver.expect_request("/feed.xml").respond_with_data(b"", status=410)
    with pytest.raises(FeedError) as info:
        fetcher.fetch(httpserver.url_for("/feed.xml"))
    assert info.value.kind == "gone" and info.value.status == 410


def test_429_with_retry_after_seconds(httpserver, fetcher):
    """A 429 carries the server's Retry-After (delta-seconds) as `retry_after`."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        b"", status=429, headers={"Retry-After": "120"}
    )
    with pytest.raises(FeedError) as info:
        fetcher.fetch(httpserver.url_for("/feed.xml"))
    assert info.value.kind == "rate_limited" and info.value.retry_after == 120.0


def test_503_with_retry_after_date():
    """A 503 with an HTTP-date Retry-After is measured against the server's Date header."""
    headers = {
        "Date": "Sun, 01 Mar 2026 12:00:00 GMT",
        "Retry-After": "Sun, 01 Mar 2026 12:10:00 GMT",
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(503, headers=headers))
    with Fetcher(transport=transport) as fetcher, pytest.raises(FeedError) as info:
        fetcher.fetch("https://wire.example/feed.xml")
    assert info.value.kind == "unavailable" and info.value.retry_after == 600.0


def test_503_without_date_uses_the_injected_clock():
    """Without a Date header, an HTTP-date Retry-After is measured against the fetcher's clock."""
    headers = {"Retry-After": "Sun, 01 Mar 2026 12:05:00 GMT"}
    transport = httpx.MockTransport(lambda request: httpx.Response(503, headers=headers))
    clock = lambda: datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # noqa: E731
    with Fetcher(transport=transport, clock=clock) as fetcher, pytest.raises(FeedError) as info:
        fetcher.fetch("https://wire.example/feed.xml")
    assert info.value.retry_after == 300.0


def test_parse_retry_after_forms():
    """Retry-After parses seconds and HTTP dates; garbage and past dates give None / 0."""
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after("Sun, 01 Mar 2026 12:01:00 GMT", now) == 60.0
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_500_is_an_http_status_error(httpserver, fetcher):
    """A 500 raises kind ``http_status``."""
    httpserver.expect_request("/feed.xml").respond_with_data(b"oops", status=500)
    with pytest.raises(FeedError) as info:
        fetcher.fetch(httpserver.url_for("/feed.xml"))
    assert info.value.kind == "http_status" and info.value.status == 500


def test_server_that_never_answers_times_out(raw_server):
    """A server that accepts the connection and never answers is cut by the read timeout."""
    server = raw_server(silent)
    with (
        Fetcher(read_timeout=0.5, deadline=5, allow_networks=LOCAL) as fetcher,
        pytest.raises(FeedError) as info,
    ):
        fetcher.fetch(server.url)
    assert info.value.kind == "timeout"


def test_dripping_server_is_cut_by_the_deadline(raw_server):
    """A body dripped a byte at a time never trips the read timeout but hits the deadline."""
    server = raw_server(dripping)
    with (
        Fetcher(read_timeout=5, deadline=1.0, allow_networks=LOCAL) as fetcher,
        pytest.raises(FeedError) as info,
    ):
        fetcher.fetch(server.url)
    assert info.value.kind == "timeout" and "deadline" in str(info.value)


def test_server_dripping_its_headers_is_cut_by_the_deadline(raw_server):
    """Headers sent a byte at a time (no read timeout ever trips) are cut at the deadline."""
    server = raw_server(dripping_headers)
    with (
        Fetcher(read_timeout=5, deadline=1.0, allow_networks=LOCAL) as fetcher,
        pytest.raises(FeedError) as info,
    ):
        fetcher.fetch(server.url)
    assert info.value.kind == "timeout" and "deadline" in str(info.value)


def test_refused_connection_is_a_connection_error():
    """Nothing listening on the port gives kind ``connection``."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        Fetcher(connect_timeout=1, allow_networks=LOCAL) as fetcher,
        pytest.raises(FeedError) as info,
    ):
        fetcher.fetch(f"http://127.0.0.1:{port}/feed.xml")
    assert info.value.kind == "connection"


def test_body_over_the_cap_by_content_length(httpserver):
    """A declared Content-Length over the cap is refused before reading the body."""
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    with Fetcher(max_bytes=1000, allow_networks=LOCAL) as fetcher, pytest.raises(FeedError) as info:
        fetcher.fetch(httpserver.url_for("/big"))
    assert info.value.kind == "too_large"


def test_body_over_the_cap_when_streamed(httpserver):
    """A chunked body with no Content-Length is cut as soon as it passes the cap."""

    def handler(_request):
        return Response((b"x" * 1000 for _ in range(50)), content_type="application/xml")

    httpserver.expect_request("/stream").respond_with_handler(handler)
    with (
        Fetcher(max_bytes=10_000, allow_networks=LOCAL) as fetcher,
        pytest.raises(FeedError) as info,
    ):
        fetcher.fetch(httpserver.url_for("/stream"))
    assert info.value.kind == "too_large"


def test_gzip_body_is_decompressed(httpserver, fetcher):
    """A gzip-encoded feed arrives decompressed and without its Content-Encoding header."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        gzip.compress(FEED), headers={"Content-Encoding": "gzip"}
    )
    result = fetcher.fetch(httpserver.url_for("/feed.xml"))
    assert result.body == FEED and "content-encoding" not in result.headers


def test_deflate_body_is_decompressed_with_or_without_zlib_header(httpserver, fetcher):
    """ "deflate" is accepted both as zlib data and as raw deflate."""
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_body = raw.compress(FEED) + raw.flush()
    httpserver.expect_request("/z").respond_with_data(
        zlib.compress(FEED), headers={"Content-Encoding": "deflate"}
    )
    httpserver.expect_request("/raw").respond_with_data(
        raw_body, headers={"Content-Encoding": "deflate"}
    )
    assert fetcher.fetch(httpserver.url_for("/z")).body == FEED
    assert fetcher.fetch(httpserver.url_for("/raw")).body == FEED


def test_gzip_bomb_is_cut_without_inflating_it(httpserver):
    """A 100 MB gzip bomb (100 kB on the wire) is refused and never inflated past the cap."""
    bomb = gzip.compress(b"\0" * 100_000_000, compresslevel=9)
    httpserver.expect_request("/bomb").respond_with_data(
        bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}
    )
    tracemalloc.start()
    try:
        with (
            Fetcher(max_bytes=1_000_000, allow_networks=LOCAL) as fetcher,
            pytest.raises(FeedError) as info,
        ):
            fetcher.fetch(httpserver.url_for("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.kind == "too_large"
    assert peak < 20_000_000, f"peak {peak} bytes: the bomb was inflated"


def test_mock_transport_is_accepted():
    """Any httpx transport can stand in for the network (what `Monitor(transport=...)` uses)."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=FEED))
    with Fetcher(transport=transport) as fetcher:
        assert fetcher.fetch("https://wire.example/feed.xml").body == FEED


def test_user_agent_is_sent(httpserver, fetcher):
    """Requests identify the watcher with its User-Agent and accept feed media types."""
    httpserver.expect_request("/feed.xml").respond_with_data(FEED)
    fetcher.fetch(httpserver.url_for("/feed.xml"))
    request, _ = httpserver.log[0]
    assert request.headers["User-Agent"].startswith("news-monitor/")
    assert "application/rss+xml" in request.headers["Accept"]

"""Properties over generated input: hostile bytes never crash parsing, HTML flattening is tidy."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import FeedError
from monitor.feeds import html_to_text, normalize_entries, parse_feed, strip_dtd

from .conftest import rss

_TAGS = st.sampled_from([
    "<p>", "</p>", "<br>", "<b>", "</b>", "<script>", "</script>", "&amp;",
    "&nbsp;", "&#8211;", "<li>", "<!-- c -->", "<", ">", "&", "\n", "  ",
])  # fmt: skip
_HTML = st.lists(st.one_of(st.text(max_size=12), _TAGS), max_size=30).map("".join)


@settings(max_examples=150, deadline=None)
@given(_HTML)
def test_html_to_text_is_tidy(html):
    """Whatever the HTML, the text has no markup tags we know, no blank or padded lines."""
    text = html_to_text(html)
    for line in text.split("\n") if text else []:
        assert line and line == line.strip() and "  " not in line
    assert "<script>" not in text and "<p>" not in text
    assert "\n" not in html_to_text(html, single_line=True)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_strip_dtd_never_fails_on_bytes(data):
    """strip_dtd accepts any bytes and only ever removes a prefix-region DOCTYPE."""
    out, changed = strip_dtd(data)
    assert isinstance(out, bytes)
    if not changed and not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        assert out == data


_FRAGMENTS = st.sampled_from([
    b"<?xml version='1.0'?>", b"<!DOCTYPE rss [<!ENTITY a 'x'>]>", b"<rss version='2.0'>",
    b"<channel>", b"<title>T &a;</title>", b"<item>", b"<title>x</title>", b"<guid>g</guid>",
    b"</item>", b"</channel>", b"</rss>", b"<feed xmlns='http://www.w3.org/2005/Atom'>",
    b"<entry><title>e</title><id>i</id></entry>", b"</feed>", b"&", b"<", b"\xff\xfe", b"\x00",
    b"<![CDATA[", b"]]>", b"<description>&lt;p&gt;d</description>",
])  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_FRAGMENTS, st.binary(max_size=8)), max_size=25).map(b"".join))
def test_parse_feed_only_ever_raises_feed_errors(body):
    """Any byte soup either parses (and normalizes) or is FeedError(kind="parse")."""
    try:
        parsed = parse_feed(body)
    except FeedError as exc:
        assert exc.kind == "parse"
        return
    items = normalize_entries(parsed, feed_id="f", received=datetime(2026, 3, 1, tzinfo=UTC))
    assert len(items) <= len(parsed.entries)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=8))
def test_reserving_a_feed_gives_the_same_ids(titles):
    """The same feed parsed twice yields the same item ids in the same order."""
    body = rss([{"title": t, "description": t * 2} for t in titles])
    received = datetime(2026, 3, 1, tzinfo=UTC)
    first = [i.item_id for i in normalize_entries(parse_feed(body), feed_id="f", received=received)]
    again = [i.item_id for i in normalize_entries(parse_feed(body), feed_id="f", received=received)]
    assert first == again

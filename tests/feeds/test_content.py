"""Feeds as they are served: content-only entries, relative bases, media, tracking links,
enclosure-only entries, oversized fields and broken encodings, and every real feed we keep."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.events import Media, item_id
from monitor.feeds import FeedConfig, Fetcher, poll_feed
from monitor.feeds._normalize import MAX_FIELD_CHARS, normalize_entries
from monitor.feeds._parse import parse_feed
from monitor.projections import FeedStatus, ProjectionRunner
from tests.rules.builders import matched, rule, rules

from .conftest import LOCAL, REALFEEDS

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NS = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"'
)


def rss_doc(items: str, *, encoding: str = "utf-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0" {NS}><channel>'
        "<title>Harbour Desk</title><link>https://harbour.example/</link>"
        f"<language>en</language>{items}</channel></rss>"
    ).encode(encoding if encoding != "utf-8" else "utf-8")


def atom_doc(entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Ridge Notes</title><id>urn:ridge</id><updated>2026-02-01T00:00:00Z</updated>"
        f'<link href="https://ridge.example/"/>{entries}</feed>'
    ).encode()


def items_of(body: bytes, **kw):
    return normalize_entries(parse_feed(body, **kw), feed_id="desk", received=NOW)


BODY_HTML = (
    "<p>A <b>tanker</b> left the northern quay at dawn.</p>"
    "<script>track('x')</script><style>p{color:red}</style>"
    "<p>Dock workers counted two tugboats beside it.</p>"
)


class TestContentOnly:
    def test_rss_content_encoded_only(self):
        """An RSS item with only content:encoded keeps plain content and no copied summary."""
        (item,) = items_of(
            rss_doc(
                "<item><title>Tanker leaves</title><guid>d-1</guid>"
                f"<content:encoded><![CDATA[{BODY_HTML}]]></content:encoded></item>"
            )
        )
        assert item.summary == ""
        assert "tanker left the northern quay" in item.content
        assert "<" not in item.content and "track(" not in item.content
        assert "color:red" not in item.content

    def test_atom_content_only(self):
        """An Atom entry with only HTML content gets the same treatment."""
        (item,) = items_of(
            atom_doc(
                "<entry><id>urn:r-1</id><title>Tanker leaves</title>"
                "<updated>2026-02-03T04:05:06Z</updated>"
                f'<content type="html"><![CDATA[{BODY_HTML}]]></content></entry>'
            )
        )
        assert item.summary == ""
        assert item.content.startswith("A tanker left")
        assert "<" not in item.content

    def test_own_summary_is_flattened(self):
        """A real description beside the content stays, as plain text."""
        (item,) = items_of(
            rss_doc(
                "<item><title>T</title><guid>d-2</guid>"
                "<description><![CDATA[<p>Short <i>note</i> on the quay.</p>]]></description>"
                f"<content:encoded><![CDATA[{BODY_HTML}]]></content:encoded></item>"
            )
        )
        assert item.summary == "Short note on the quay."
        assert "tanker" in item.content

    def test_one_mention_is_counted_once(self, tmp_path):
        """`min=2` does not fire on a word the entry says once (content is not searched twice)."""
        ruleset = rules(tmp_path, rule("sel: {text|min=2: tanker}\ncondition: sel", "twice"))
        (item,) = items_of(
            rss_doc(
                "<item><title>Quay report</title><guid>d-3</guid>"
                f"<content:encoded><![CDATA[{BODY_HTML}]]></content:encoded></item>"
            )
        )
        assert [m.rule_id for m in ruleset.match(item)] == []
        assert matched(ruleset, content="A tanker, and later a second tanker.") == ["twice"]


class TestRelativeBase:
    def test_relative_content_location(self, httpserver, log):
        """A relative Content-Location is resolved against the request URL: absolute item
        links, a source, and ids from the absolute link."""
        body = rss_doc(
            "<item><title>Pier closed</title><link>item-1.html</link></item>"
            "<item><title>Pier open</title><link>/elsewhere/item-2.html</link></item>"
        ).replace(b"<link>https://harbour.example/</link>", b"")
        httpserver.expect_request("/feed.xml").respond_with_data(
            body,
            content_type="application/rss+xml",
            headers={"Content-Location": "/feed/"},
        )
        feed = FeedConfig(
            id="pier", url=httpserver.url_for("/feed.xml"), interval=600, allow_networks=LOCAL
        )
        with Fetcher(trust_env=False) as fetcher:
            report = poll_feed(log, feed, None, fetcher=fetcher, clock=lambda: NOW)
        assert report.ok and report.new_items == 2
        items = [e for _, e in log.iter_events(types=["ItemReceived"])]
        root = httpserver.url_for("/")
        assert [i.url for i in items] == [f"{root}feed/item-1.html", f"{root}elsewhere/item-2.html"]
        assert all(i.source == "127.0.0.1" for i in items)
        first = item_id("pier", url=f"{root}feed/item-1.html", title="Pier closed")
        assert items[0].item_id == first

    def test_parse_base(self):
        """parse_feed resolves Content-Location against `url`, and drops a base still relative."""
        body = rss_doc("<item><title>x</title></item>")
        headers = {"Content-Location": "sub/feed.xml"}
        parsed = parse_feed(body, headers=headers, url="https://h.example/a/b.xml")
        assert parsed.base_url == "https://h.example/a/sub/feed.xml"
        assert parse_feed(body, headers=headers).base_url is None


class TestItemFields:
    def test_enclosure_and_media(self):
        """Enclosures and media:content are kept with type, length, credit and thumbnail."""
        (item,) = items_of(
            rss_doc(
                "<item><title>Quay photos</title><guid>d-4</guid>"
                '<enclosure url="/audio/quay.mp3" type="audio/mpeg" length="48213"/>'
                '<media:content url="https://img.example/quay.jpg" type="image/jpeg" '
                'fileSize="9001" medium="image"><media:credit>R. Osei</media:credit>'
                '<media:thumbnail url="https://img.example/quay-s.jpg"/></media:content>'
                "</item>"
            ),
            url="https://harbour.example/rss.xml",
        )
        assert item.media == (
            Media(url="https://harbour.example/audio/quay.mp3", type="audio/mpeg", length=48213),
            Media(
                url="https://img.example/quay.jpg",
                type="image/jpeg",
                length=9001,
                credit="R. Osei",
                thumbnail="https://img.example/quay-s.jpg",
            ),
        )

    def test_thumbnail_alone(self):
        """A media:thumbnail outside media:content is the item's picture."""
        (item,) = items_of(
            rss_doc(
                "<item><title>t</title><guid>d-5</guid>"
                '<media:thumbnail url="https://img.example/t.jpg" width="240"/></item>'
            )
        )
        assert [m.url for m in item.media] == ["https://img.example/t.jpg"]

    def test_origlink_comments_updated(self):
        """origLink becomes original_url, comments comments_url, updated its own time; the
        tracking link stays `url`, and the id does not change."""
        plain = (
            "<item><title>Crane fails</title><link>https://trk.example/c/991</link>"
            "<pubDate>Mon, 02 Feb 2026 08:00:00 GMT</pubDate>{extra}</item>"
        )
        extra = (
            "<feedburner:origLink>https://harbour.example/crane</feedburner:origLink>"
            "<comments>https://harbour.example/crane#talk</comments>"
        )
        (before,) = items_of(rss_doc(plain.format(extra="")))
        (item,) = items_of(rss_doc(plain.format(extra=extra)))
        assert item.url == "https://trk.example/c/991"
        assert item.original_url == "https://harbour.example/crane"
        assert item.comments_url == "https://harbour.example/crane#talk"
        assert item.item_id == before.item_id
        assert item.updated is None  # no updated element: not the published time
        (entry,) = items_of(
            atom_doc(
                "<entry><id>urn:r-2</id><title>t</title>"
                "<published>2026-02-01T10:00:00Z</published>"
                "<updated>2026-02-02T11:30:00Z</updated></entry>"
            )
        )
        assert entry.published == datetime(2026, 2, 1, 10, tzinfo=UTC)
        assert entry.updated == datetime(2026, 2, 2, 11, 30, tzinfo=UTC)

    def test_enclosure_only_atom_entry_is_kept(self):
        """An Atom entry whose only payload is an enclosure is an item, with a stable id."""
        body = atom_doc(
            "<entry><updated>2026-02-02T00:00:00Z</updated>"
            '<link rel="enclosure" href="https://ridge.example/ep7.ogg" type="audio/ogg" '
            'length="7777"/></entry>'
        )
        (item,) = items_of(body)
        assert item.media == (
            Media(url="https://ridge.example/ep7.ogg", type="audio/ogg", length=7777),
        )
        assert item.item_id == items_of(body)[0].item_id


class TestDegraded:
    def test_huge_field_is_cut_and_reported(self, log, tmp_path):
        """A 10 MB field is cut to MAX_FIELD_CHARS and the poll says so, visibly in feed status."""
        words = "quay " * (10 * 1024 * 1024 // 5)
        path = tmp_path / "big.xml"
        path.write_bytes(
            rss_doc(
                f"<item><title>Long</title><guid>d-6</guid><description>{words}</description>"
                "</item>"
            )
        )
        feed = FeedConfig(id="big", path=path, interval=600)
        with Fetcher(max_bytes=20 * 1024 * 1024) as fetcher:
            report = poll_feed(log, feed, None, fetcher=fetcher, clock=lambda: NOW)
        assert report.ok and report.degraded
        assert "1 field(s) cut to 100,000 characters" in report.error
        (item,) = [e for _, e in log.iter_events(types=["ItemReceived"])]
        assert len(item.summary) == MAX_FIELD_CHARS
        ProjectionRunner(log, [FeedStatus()]).run()
        status = FeedStatus.get(log, "big")
        assert status["degraded"] and "cut to 100,000" in status["problem"]

    def test_invalid_utf8_is_replaced_and_reported(self, httpserver, log):
        """A stray byte in a UTF-8 feed is replaced (the rest stays intact) and the poll is
        degraded with the byte offset, in feed status too."""
        good = rss_doc("<item><title>رصيف الميناء café</title><guid>d-7</guid></item>")
        body = good.replace("café".encode(), b"caf\xe9")
        httpserver.expect_request("/feed.xml").respond_with_data(
            body, content_type="application/rss+xml; charset=utf-8"
        )
        feed = FeedConfig(
            id="bytes", url=httpserver.url_for("/feed.xml"), interval=600, allow_networks=LOCAL
        )
        with Fetcher(trust_env=False) as fetcher:
            report = poll_feed(log, feed, None, fetcher=fetcher, clock=lambda: NOW)
        at = body.index(b"\xe9")
        assert report.ok and report.degraded
        assert f"invalid UTF-8 at byte {at}" in report.error
        (item,) = [e for _, e in log.iter_events(types=["ItemReceived"])]
        assert item.title == "رصيف الميناء caf\ufffd"
        ProjectionRunner(log, [FeedStatus()]).run()
        assert "invalid UTF-8" in FeedStatus.get(log, "bytes")["problem"]

    def test_undeclared_single_byte_encoding(self):
        """A document with no valid UTF-8 beyond ASCII is decoded as cp1252, and says so."""
        body = rss_doc("<item><title>cafe</title><guid>d-8</guid></item>").replace(
            b"cafe", b"caf\xe9"
        )
        body = body.replace(b' encoding="utf-8"', b"")
        parsed = parse_feed(body)
        assert parsed.degraded
        assert parsed.problem.startswith("invalid UTF-8 at byte")
        assert "decoded as" in parsed.problem
        assert normalize_entries(parsed, feed_id="x", received=NOW)[0].title == "café"

    def test_clean_feed_is_not_degraded(self):
        """Valid UTF-8 and a declared other encoding are not flagged."""
        assert not parse_feed(rss_doc("<item><title>café</title></item>")).degraded
        latin = rss_doc("<item><title>café</title></item>", encoding="iso-8859-1")
        parsed = parse_feed(latin)
        assert not parsed.degraded and parsed.entries[0].title == "café"


def _real_feeds() -> list[Path]:
    if not os.path.isdir(REALFEEDS):
        return []
    return sorted(p for p in Path(REALFEEDS).rglob("*") if p.is_file() and p.suffix == ".xml")


@pytest.mark.parametrize("path", _real_feeds() or [None], ids=lambda p: p.name if p else "none")
def test_real_feeds_parse_to_plain_text(path):
    """Every real feed kept in shared/realfeeds parses (or is refused as a FeedError, never a
    crash), and no stored summary or content holds HTML tags."""
    if path is None:
        pytest.skip(f"{REALFEEDS} is absent (it lives outside the repository)")
    from monitor.errors import FeedError

    try:
        parsed = parse_feed(path.read_bytes())
    except FeedError:
        return  # an ill-formed sample with nothing usable: refused cleanly
    for item in normalize_entries(parsed, feed_id="real", received=NOW):
        for text in (item.summary, item.content):
            assert "<p" not in text and "<a " not in text and "<img" not in text
            assert "<div" not in text and "<br" not in text and "<script" not in text

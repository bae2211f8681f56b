"""Parsing and normalizing: hostile XML, encodings, malformed feeds, HTML to text, real feeds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.errors import FeedError
from monitor.events import item_id
from monitor.feeds import html_to_text, normalize_entries, parse_feed, strip_dtd

from .conftest import REALFEEDS, SAMPLES, rss, wire_items

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>Laughs</title><link>https://x.example/</link>
<item><title>Boom &lol9;</title><guid>1</guid><description>&lol9;</description></item>
</channel></rss>
"""


def _items(body: bytes, **kw):
    parsed = parse_feed(body, **kw)
    return parsed, normalize_entries(parsed, feed_id="wire", received=RECEIVED)


def test_billion_laughs_is_defused():
    """Entity declarations are removed before parsing: the item survives, nothing expands."""
    parsed, items = _items(BILLION_LAUGHS)
    assert len(items) == 1
    assert "lollol" not in items[0].title + items[0].summary
    assert len(items[0].title) < 100 and len(items[0].summary) < 100
    assert "DOCTYPE" in (parsed.problem or "")


def test_quadratic_blowup_is_defused():
    """One large entity referenced thousands of times is not expanded either."""
    big = "A" * 50_000
    refs = "&big;" * 5_000
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{big}">]>'
        f'<rss version="2.0"><channel><title>q</title><item><title>t</title><guid>1</guid>'
        f"<description>{refs}</description></item></channel></rss>"
    ).encode()
    _, items = _items(body)
    assert len(items) == 1 and len(items[0].summary) < 100_000


def test_strip_dtd_keeps_doctype_without_subset_and_cdata():
    """A DOCTYPE with no internal subset stays, and markup inside the body is untouched."""
    netscape = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS '
        b'0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss/>'
    )
    assert strip_dtd(netscape) == (netscape, False)
    body = b"<rss><![CDATA[<!DOCTYPE x [<!ENTITY a 'b'>]>]]></rss>"
    assert strip_dtd(body) == (body, False)
    stripped, changed = strip_dtd(b"<!-- c --><!DOCTYPE r [<!ENTITY a ']>'>]><r/>")
    assert changed and stripped == b"<!-- c --><r/>"


def test_utf16_feed_with_dtd_is_reencoded_and_stripped():
    """A UTF-16 document is scanned after re-encoding, so its DTD is found and removed."""
    text = (
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r [<!ENTITY a "b">]>'
        + rss(wire_items(1)).decode().split("?>", 1)[1]
    )
    _, items = _items(text.encode("utf-16"))
    assert len(items) == 1 and items[0].guid == "wire-0"


def test_missing_charset_falls_back_to_the_xml_declaration():
    """With no charset in Content-Type, the XML declaration decides (here ISO-8859-1)."""
    body = rss([{"title": "Café in Hasakah reopens", "guid": "1"}], encoding="iso-8859-1")
    parsed, items = _items(body, headers={"Content-Type": "application/rss+xml"})
    assert items[0].title == "Café in Hasakah reopens"
    assert not parsed.degraded


def test_wrong_charset_header_is_survived():
    """A header claiming us-ascii for a UTF-8 body still yields the right text."""
    body = rss([{"title": "Qamishli – Hasakah road reopens", "guid": "1"}])
    parsed, items = _items(body, headers={"Content-Type": "text/xml; charset=us-ascii"})
    assert items[0].title == "Qamishli – Hasakah road reopens"
    assert not parsed.degraded


def test_undeclared_charset_bytes_do_not_crash():
    """Latin-1 bytes in a document declared UTF-8 are parsed (replacement text), not fatal."""
    body = rss([{"title": "Deir ez-Zor", "guid": "1"}]).replace(b"Deir", b"D\xe9ir")
    _, items = _items(body)
    assert len(items) == 1 and items[0].title.endswith("ir ez-Zor")


def test_bozo_feed_with_entries_is_degraded():
    """A malformed feed that still has entries is parsed, marked degraded, with the problem."""
    body = rss(wire_items(2)).replace(b"Report 1:", b"Report 1 & more:")
    parsed, items = _items(body)
    assert parsed.degraded and "not well-formed" in parsed.problem
    assert len(items) == 2


@pytest.mark.parametrize(
    "body",
    [b"", b"<html><body><p>Not a feed</p></body></html>", b"\x00\x01garbage", b"<rss><chan"],
)
def test_nothing_usable_is_a_parse_error(body):
    """Empty, HTML or garbage input raises FeedError(kind="parse")."""
    with pytest.raises(FeedError) as info:
        parse_feed(body)
    assert info.value.kind == "parse"


def test_valid_feed_without_items_is_not_an_error():
    """A well-formed feed with no items parses to zero entries."""
    parsed, items = _items(rss([]))
    assert items == [] and not parsed.degraded


def test_html_to_text():
    """Tags go, entities are decoded, scripts vanish, blocks become lines, spaces collapse."""
    html = (
        "<p>Troops <b>moved</b>&nbsp;to &quot;Tanf&quot; &amp; beyond.</p>"
        "<script>alert(1)</script><ul><li>one</li><li>two</li></ul>caf&eacute; &#8211; done"
    )
    assert html_to_text(html) == 'Troops moved to "Tanf" & beyond.\none\ntwo\ncafé – done'
    assert html_to_text("a <br/> b\n\n c", single_line=True) == "a b c"
    assert html_to_text("plain   text") == "plain text"
    assert html_to_text("5 < 6 and 7 > 3") == "5 < 6 and 7 > 3"


def test_normalize_fields():
    """Dates become UTC, authors/tags/lang/link/source are filled, HTML becomes plain text."""
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>W</title><link>https://www.wire.example/</link><language>en-GB</language>
<item><title>Convoy &amp; escort</title><link>https://www.wire.example/a?utm_source=x</link>
<guid>g-1</guid><description>&lt;p&gt;Seen &lt;i&gt;near&lt;/i&gt; Hasakah&lt;/p&gt;</description>
<dc:creator>Lina Sabbagh</dc:creator><category>security</category><category>syria</category>
<pubDate>Tue, 03 Feb 2026 09:40:00 +0300</pubDate></item></channel></rss>"""
    _, [item] = _items(body)
    assert item.title == "Convoy & escort"
    assert item.summary == "Seen near Hasakah"
    assert item.published == datetime(2026, 2, 3, 6, 40, tzinfo=UTC)
    assert item.authors == ("Lina Sabbagh",)
    assert item.tags == ("security", "syria")
    assert item.lang == "en"
    assert item.source == "wire.example"
    assert item.url == "https://www.wire.example/a?utm_source=x"
    assert item.item_id == item_id("wire", guid="g-1")
    assert item.received == RECEIVED


def test_items_without_guid_get_ids_from_link_then_text():
    """No guid: the id comes from the link; no link either: from the text. Both are stable."""
    items = [
        {"title": "With link", "link": "https://wire.example/x"},
        {"title": "No link at all", "description": "Just text."},
    ]
    _, first = _items(rss(items))
    _, second = _items(rss(items))
    assert [i.item_id for i in first] == [i.item_id for i in second]
    assert first[0].guid is None and first[0].item_id == item_id(
        "wire", url="https://wire.example/x"
    )
    assert first[1].item_id == item_id("wire", title="No link at all", summary="Just text.")


def test_atom_content_and_summary():
    """Atom content and summary are both kept, as plain text; identical text is kept once."""
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
<title>A</title><id>urn:a</id><updated>2026-03-01T00:00:00Z</updated>
<entry><title type="html">Renforts &lt;b&gt;arriv\xc3\xa9s&lt;/b&gt;</title><id>urn:1</id>
<updated>2026-03-01T10:00:00+01:00</updated><author><name>Dana</name></author>
<summary>Short.</summary>
<content type="html">&lt;p&gt;Long &lt;b&gt;text&lt;/b&gt;.&lt;/p&gt;</content>
</entry></feed>"""
    _, [item] = _items(body)
    assert item.title == "Renforts arrivés"
    assert (item.summary, item.content) == ("Short.", "Long text.")
    assert item.published == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert item.lang == "fr" and item.authors == ("Dana",)


def test_samples_parse_as_intended():
    """The bundled samples: three well-formed feeds and one malformed, 60 items in all."""
    counts = {}
    for path in sorted(SAMPLES.iterdir()):
        parsed = parse_feed(path.read_bytes())
        items = normalize_entries(parsed, feed_id=path.stem, received=RECEIVED)
        counts[path.name] = (len(items), parsed.degraded)
        assert all(i.published and i.published.year == 2026 for i in items)
    assert counts["tigris_evening_post.xml"][1] is True
    assert sum(n for n, _ in counts.values()) == 60
    assert [d for name, (_, d) in counts.items() if name != "tigris_evening_post.xml"] == [
        False
    ] * 3


def _realfeeds():
    if not REALFEEDS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{REALFEEDS} is absent"))]
    files = sorted(p for p in REALFEEDS.rglob("*.xml") if "illformed" not in p.parent.name)
    return [pytest.param(p, id=str(p.relative_to(REALFEEDS))) for p in files]


@pytest.mark.parametrize("path", _realfeeds())
def test_real_world_feed_ingests(path):
    """Every real-world feed parses into items with titles, links and UTC dates; only the one
    known to be malformed is degraded."""
    parsed, items = _items(path.read_bytes(), url="https://feeds.example/x.xml")
    assert items, "no items"
    assert all(i.title or i.summary for i in items)
    assert all(i.published is None or i.published.tzinfo is UTC for i in items)
    assert all("<" not in i.title and "&amp;" not in i.title for i in items)
    assert len({i.item_id for i in items}) == len(items)
    assert parsed.degraded is (path.name == "afmil_RSS822e.ashx.xml")


def test_feedparser_illformed_samples_never_crash():
    """feedparser's own ill-formed cases end as items or as FeedError(kind="parse")."""
    folder = REALFEEDS / "feedparser_illformed_samples"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    outcomes = []
    for path in sorted(folder.glob("*.xml")):
        try:
            parsed = parse_feed(path.read_bytes())
            outcomes.append(("ok", parsed.degraded))
        except FeedError as exc:
            outcomes.append((exc.kind, None))
    assert outcomes and {kind for kind, _ in outcomes} <= {"ok", "parse"}


def test_relative_guid_is_not_resolved_but_relative_link_is():
    """A guid like "wire-1" stays as written whatever the feed URL (so ids survive a move),
    while a relative link is resolved against the feed's URL."""
    body = rss([{"title": "t", "guid": "wire-1", "link": "/news/1"}])
    first = normalize_entries(
        parse_feed(body, url="https://old.example/rss"), feed_id="w", received=RECEIVED
    )[0]
    second = normalize_entries(
        parse_feed(body, url="https://new.example/feed.xml"), feed_id="w", received=RECEIVED
    )[0]
    assert first.guid == second.guid == "wire-1" and first.item_id == second.item_id
    assert first.url == "https://old.example/news/1"
    assert second.url == "https://new.example/news/1"


def test_scripts_styles_and_comments_never_reach_the_text():
    """feedparser's sanitizer is off (we flatten HTML ourselves): scripts, styles, comments and
    iframes in a description are still dropped from the item's text."""
    html = (
        "<script>alert('x')</script><style>p {color: red}</style><!-- hidden -->"
        "<p onclick='evil()'>Real <b>text</b></p><iframe src='https://x.example/'>frame</iframe>"
    )
    _, [item] = _items(rss([{"title": "t", "guid": "1", "description": html}]))
    assert item.summary == "Real text"

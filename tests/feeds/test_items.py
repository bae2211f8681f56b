"""`read_items_file`: feed documents and JSON-lines files for `monitor ingest`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from monitor.errors import ConfigError
from monitor.events import item_id
from monitor.feeds import read_items_file

from .conftest import SAMPLES, rss, wire_items

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def test_feed_file_by_extension(tmp_path):
    """A .rss file is parsed as a feed; the feed id defaults to the file stem."""
    path = tmp_path / "wire.rss"
    path.write_bytes(rss(wire_items(3)))
    items = list(read_items_file(path, clock=clock))
    assert [i.guid for i in items] == ["wire-0", "wire-1", "wire-2"]
    assert {i.feed_id for i in items} == {"wire"} and items[0].received == NOW


def test_feed_file_is_sniffed_without_extension(tmp_path):
    """A feed saved without an extension is recognised by its leading '<'."""
    path = tmp_path / "download"
    path.write_bytes(b"\n  " + rss(wire_items(1)))
    [item] = read_items_file(path, feed_id="manual", clock=clock)
    assert item.feed_id == "manual"


def test_sample_feeds_read_as_items():
    """Every bundled sample reads as items (the malformed one included)."""
    counts = [len(list(read_items_file(p, clock=clock))) for p in sorted(SAMPLES.iterdir())]
    assert sum(counts) == 60 and all(counts)


def test_jsonl_items(tmp_path):
    """JSON lines map to items: text, link, dates (ISO and RFC 2822), authors, tags, lang."""
    lines = [
        {"title": "Convoy near <b>Rmelan</b>", "url": "https://x.example/1", "id": "x-1",
         "published": "2026-02-03T09:40:00+03:00", "author": "Lina", "tags": ["security"],
         "lang": "EN", "feed": "desk"},
        {"summary": "Only a summary.", "published": "Tue, 03 Feb 2026 06:40:00 GMT"},
        {"content": "Body only", "authors": ["A", "B"], "source": "agency.example"},
    ]  # fmt: skip
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    first, second, third = read_items_file(path, clock=clock)
    assert first.title == "Convoy near Rmelan" and first.feed_id == "desk"
    assert first.item_id == item_id("desk", guid="x-1")
    assert first.published == second.published == datetime(2026, 2, 3, 6, 40, tzinfo=UTC)
    assert (first.authors, first.tags, first.lang, first.source) == (
        ("Lina",),
        ("security",),
        "en",
        "x.example",
    )
    assert second.feed_id == "items" and second.summary == "Only a summary."
    assert third.authors == ("A", "B") and third.source == "agency.example"


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"title": "x",}', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"url": "https://x.example/"}', "at least one of"),
        ('{"title": "x", "titel": "y"}', "unknown field(s) 'titel'"),
        ('{"title": 5}', "`title` must be a string"),
        ('{"title": "x", "published": "yesterday"}', "`published` is not a date"),
        ('{"title": "x", "tags": [1]}', "`tags` must be"),
    ],
)
def test_bad_jsonl_line_names_file_and_line(tmp_path, line, words):
    """A bad line is a ConfigError at file:line saying what is wrong."""
    path = tmp_path / "items.jsonl"
    path.write_text('{"title": "fine"}\n' + line + "\n")
    with pytest.raises(ConfigError) as info:
        list(read_items_file(path, clock=clock))
    assert info.value.source.line == 2 and words in info.value.message
    assert str(info.value).startswith(f"{path}:2")


def test_unreadable_and_broken_files(tmp_path):
    """A missing file and a feed with nothing usable are ConfigErrors naming the file."""
    with pytest.raises(ConfigError, match="cannot read"):
        list(read_items_file(tmp_path / "none.jsonl", clock=clock))
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<html><body>not a feed</body></html>")
    with pytest.raises(ConfigError, match="no usable feed") as info:
        list(read_items_file(broken, clock=clock))
    assert info.value.source.path == str(broken)

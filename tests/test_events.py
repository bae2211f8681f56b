"""The event model: canonical bytes, registry, upcasting and deterministic item ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor import events
from monitor.errors import EventError, UnknownEventTypeError
from monitor.events import (
    AlertRaised,
    EntitiesExtracted,
    Evidence,
    FoldedMatch,
    ItemEntities,
    ItemReceived,
    RepeatsFolded,
    RulesetLoaded,
    _codec,
    decode,
    encode,
    format_time,
    item_id,
    normalize_url,
)
from tests.conftest import make_item


class TestCanonicalJson:
    def test_keys_are_sorted_and_compact(self):
        """The encoding has sorted keys and no insignificant whitespace."""
        data = encode(make_item(1))
        body = json.loads(data)
        assert list(body) == sorted(body)
        assert b", " not in data and b": " not in data

    def test_times_are_utc_with_z(self):
        """Aware times in any zone are stored as UTC ISO-8601 ending in Z."""
        beirut = timezone(timedelta(hours=3))
        item = make_item(1, published=datetime(2026, 3, 1, 9, 30, tzinfo=beirut))
        assert json.loads(encode(item))["published"] == "2026-03-01T06:30:00Z"

    def test_naive_times_are_taken_as_utc(self):
        """A naive datetime is read as UTC, not local time."""
        item = make_item(1, published=datetime(2026, 3, 1, 9, 30))
        assert item.published == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

    def test_same_event_same_bytes(self):
        """Two equal events, built from Python values or from JSON, encode identically."""
        item = make_item(3, tags=["a", "b"], authors="One Author")
        rebuilt = ItemReceived(**json.loads(encode(item)))
        assert rebuilt == item and encode(rebuilt) == encode(item)

    def test_nested_values_round_trip(self):
        """Evidence and rule references survive encode/decode as attrs objects."""
        alert = AlertRaised(
            alert_id="a1",
            rule_id="troop-movement",
            event_time="2026-03-01T00:00:00Z",
            evidence=[{"field": "title", "start": 0, "end": 6, "text": "Convoy"}],
            labels={"topic": "movement"},
        )
        back = decode("AlertRaised", 1, encode(alert))
        assert back == alert
        assert back.evidence == (Evidence(field="title", start=0, end=6, text="Convoy"),)
        loaded = RulesetLoaded(
            ruleset_hash="h", rules=[{"id": "r", "version": 2}], loaded_at=datetime.now(UTC)
        )
        assert decode("RulesetLoaded", 1, encode(loaded)) == loaded

    def test_microseconds_only_when_set(self):
        """format_time drops a zero fraction and keeps a non-zero one."""
        assert format_time(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
        assert format_time(datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC)).endswith(".000005Z")


class TestRegistry:
    def test_unknown_type(self):
        """Decoding an unregistered type names it."""
        with pytest.raises(UnknownEventTypeError, match="'Nope'"):
            decode("Nope", 1, b"{}")

    def test_newer_version_is_refused(self):
        """A record from a newer schema than this program knows asks for an upgrade."""
        with pytest.raises(UnknownEventTypeError, match="upgrade"):
            decode("ItemReceived", 99, encode(make_item(1)))

    def test_bad_stored_json(self):
        """Stored bytes that are not JSON, or do not fit the class, give EventError."""
        with pytest.raises(EventError, match="not valid JSON"):
            decode("ItemReceived", 1, b"{not json")
        with pytest.raises(EventError, match="does not fit"):
            decode("ItemReceived", 1, b'{"unexpected": 1}')

    def test_upcaster_rewrites_old_versions(self, monkeypatch):
        """An old version is passed through its upcasters, in order, before construction."""

        @attrs.frozen(kw_only=True)
        class Probe(events.Event):
            name: str
            count: int

        monkeypatch.setitem(_codec._TYPES, "Probe", Probe)
        Probe.type_name, Probe.schema_version = "Probe", 3
        monkeypatch.setitem(_codec._UPCASTERS, ("Probe", 1), lambda d: {"name": d["title"], "n": 1})
        monkeypatch.setitem(
            _codec._UPCASTERS, ("Probe", 2), lambda d: {"name": d["name"], "count": d["n"]}
        )
        assert decode("Probe", 1, b'{"title": "old"}') == Probe(name="old", count=1)

    def test_missing_upcaster_is_an_error(self, monkeypatch):
        """A version gap with no upcaster registered is reported, not guessed."""

        @attrs.frozen(kw_only=True)
        class Gap(events.Event):
            x: int

        Gap.type_name, Gap.schema_version = "Gap", 2
        monkeypatch.setitem(_codec._TYPES, "Gap", Gap)
        with pytest.raises(EventError, match="no upcaster registered for Gap version 1"):
            decode("Gap", 1, b'{"x": 1}')

    def test_item_received_v1_is_upcast(self):
        """A version-1 ItemReceived record (before media, links and the detected language)
        decodes, with the new fields empty."""
        old = {
            "item_id": "0f" * 16,
            "feed_id": "wire",
            "received": "2026-03-01T12:00:00Z",
            "guid": "wire-1",
            "url": "https://wire.example/1",
            "title": "An old item",
            "summary": "",
            "content": "",
            "authors": [],
            "tags": [],
            "published": None,
            "lang": "en",
            "source": "wire.example",
        }
        item = decode("ItemReceived", 1, json.dumps(old))
        assert item.title == "An old item" and item.lang == "en"
        assert (item.media, item.text_lang, item.updated) == ((), None, None)
        assert (item.original_url, item.comments_url) == (None, None)
        assert ItemReceived.schema_version == 2

    def test_entities_extracted_v1_is_upcast_to_a_list_of_one(self):
        """A version-1 EntitiesExtracted record (one item per record) decodes as version 2
        listing that one item, so logs written before the per-page records read as before."""
        old = {
            "item_id": "0f" * 16,
            "feed_id": "wire",
            "entities": ["place:al_tanf", "actor:un"],
            "event_time": "2026-03-01T12:00:00Z",
            "ruleset_hash": "h1",
        }
        found = decode("EntitiesExtracted", 1, json.dumps(old))
        assert found == EntitiesExtracted.for_item(**old)
        assert [(e.item_id, e.entities) for e in found.items] == [
            ("0f" * 16, ("place:al_tanf", "actor:un"))
        ]
        assert found.items[0].event_time == datetime(2026, 3, 1, 12, tzinfo=UTC)
        assert EntitiesExtracted.schema_version == 2

    def test_repeats_folded_v1_reads_without_matches_and_v2_round_trips_them(self):
        """A version-1 fold (no listed matches) decodes as before; a version-2 fold lists its
        matches and writes nothing for them when there are none (same bytes as version 1)."""
        old = {
            "folded_into": "a1",
            "rule_id": "shelling",
            "rule_version": 1,
            "item_ids": ["i4", "i5"],
            "item_positions": [4, 5],
            "first_time": "2026-03-01T12:00:00Z",
            "last_time": "2026-03-01T12:05:00Z",
            "outlets": ["wire"],
        }
        found = decode("RepeatsFolded", 1, json.dumps(old))
        assert isinstance(found, RepeatsFolded) and found.matches == ()
        assert json.loads(encode(found)) == old
        listed = attrs.evolve(
            found,
            matches=[
                {"item_id": "i4", "event_time": "2026-03-01T12:00:00Z", "facets": {"source": "w"}}
            ],
        )
        assert listed.matches == (
            FoldedMatch(
                item_id="i4",
                event_time=datetime(2026, 3, 1, 12, tzinfo=UTC),
                facets={"source": "w"},
            ),
        )
        assert decode("RepeatsFolded", 2, encode(listed)) == listed
        assert RepeatsFolded.schema_version == 2

    def test_entities_extracted_round_trips_and_keys_its_span(self):
        """A page's record survives encode/decode; its dedupe key names the rule set, the
        first and last item and how many it lists, so the same page is stored once."""
        t = datetime(2026, 3, 1, tzinfo=UTC)
        page = EntitiesExtracted(
            items=[
                ItemEntities(item_id="a", feed_id="f", entities=["place:x"], event_time=t),
                {"item_id": "b", "feed_id": "f", "entities": ["actor:y"], "event_time": t},
            ],
            ruleset_hash="h",
        )
        assert all(isinstance(e, ItemEntities) for e in page.items)
        assert decode("EntitiesExtracted", 2, encode(page)) == page
        assert page.dedupe_key() == "entities:h:a:b:2"

    def test_media_round_trip(self):
        """Media survive encode/decode as attrs objects."""
        item = make_item(
            1,
            media=[{"url": "https://img.example/a.jpg", "length": 10, "credit": "A. B."}],
            text_lang="ar",
        )
        back = decode("ItemReceived", 2, encode(item))
        assert back == item and back.media == (
            events.Media(url="https://img.example/a.jpg", length=10, credit="A. B."),
        )

    def test_every_event_type_is_registered(self):
        """The event types the design names are all in the registry."""
        names = set(events.registered_types())
        assert {"ItemReceived", "FeedPolled", "FeedFailed", "RulesetLoaded", "AlertRaised"} <= names


class TestItemIds:
    def test_guid_wins(self):
        """With a guid, the id ignores link and text."""
        a = item_id("wire", guid="g1", url="https://a.example/x", title="One")
        b = item_id("wire", guid="g1", url="https://b.example/y", title="Two")
        assert a == b and len(a) == 32

    def test_feed_is_part_of_identity(self):
        """The same guid in two feeds is two items."""
        assert item_id("a", guid="g") != item_id("b", guid="g")

    def test_link_is_normalized(self):
        """Without a guid, links differing only by tracking, case, port or fragment agree."""
        a = item_id("wire", url="HTTPS://Example.org:443/news/1/?utm_source=x&b=2&a=1#top")
        b = item_id("wire", url="https://example.org/news/1?a=1&b=2")
        assert a == b

    def test_text_hash_folds_whitespace_and_case(self):
        """Without guid or link, the text decides, ignoring whitespace and case."""
        a = item_id("wire", title="Convoy  seen", summary="Near the crossing")
        b = item_id("wire", title="convoy seen", summary=" near the\ncrossing ")
        assert a == b
        assert a != item_id("wire", title="Convoy seen", summary="Far from it")

    def test_normalize_url_keeps_meaningful_parts(self):
        """Path, non-tracking query and non-default port stay in the normalized URL."""
        assert normalize_url("http://EX.org:8080/a/b/?q=1") == "http://ex.org:8080/a/b?q=1"

    @given(st.text(max_size=40), st.text(max_size=40))
    def test_ids_are_deterministic(self, title, summary):
        """Property: the same inputs always give the same id."""
        assert item_id("f", title=title, summary=summary) == item_id(
            "f", title=title, summary=summary
        )


def test_event_time_prefers_published():
    """event_time is the published time when known, else the received time."""
    received = datetime(2026, 3, 2, tzinfo=UTC)
    assert events.event_time(make_item(1, received=received)) == received
    published = datetime(2026, 3, 1, tzinfo=UTC)
    assert events.event_time(make_item(1, received=received, published=published)) == published


def test_item_v2_optional_fields_are_left_out_while_empty():
    """An item without media, update time, original or comments link or detected language is
    stored without those keys (no bytes spent on them), and decodes back to the same event;
    once set, they are stored."""
    bare = make_item(1)
    stored = json.loads(encode(bare))
    assert not {"updated", "original_url", "comments_url", "media", "text_lang"} & set(stored)
    assert decode("ItemReceived", 2, encode(bare)) == bare
    with_lang = attrs.evolve(bare, text_lang="ar")
    assert json.loads(encode(with_lang))["text_lang"] == "ar"
    assert decode("ItemReceived", 2, encode(with_lang)) == with_lang

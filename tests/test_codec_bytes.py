"""`encode` writes exactly the bytes of the plain-value encoding it replaced (the hash chain and
every stored record depend on them), for every event type and the awkward values they hold."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import EventError
from monitor.events import (
    AlertRaised,
    AlertSuppressed,
    Evidence,
    FeedPolled,
    FoldedMatch,
    ItemEntities,
    ItemReceived,
    Matcher,
    Media,
    RepeatsFolded,
    RuleRef,
    RulesetLoaded,
    _codec,
    decode,
    encode,
    item_id,
    registered_types,
    to_plain,
)

T = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def reference(evt) -> bytes:
    """The encoding before the one-pass encoder: plain values first, then json.dumps."""
    body = to_plain(evt)
    for name in type(evt).omit_when_empty:
        if body.get(name) in (None, []):
            del body[name]
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


EVENTS = [
    ItemReceived(
        item_id=item_id("f", guid="g"),
        feed_id="f",
        guid="g",
        received=T,
        published=T - timedelta(hours=3),
        title='Convoy "near" al-Tanf \u202e تقدم القوات \U0001f600',
        summary="line one\nline two\ttab \\ backslash",
        authors=("Desk", "وكالة"),
        tags=("syria",),
        lang="ar",
        media=(Media(url="https://x.example/a.jpg", type="image/jpeg", length=12, credit="AP"),),
    ),
    ItemReceived(item_id="0" * 32, feed_id="f", received=T),  # every optional field empty
    AlertRaised(
        alert_id="a" * 32,
        rule_id="r",
        rule_version=2,
        level="high",
        title="T",
        item_ids=("i1", "i2"),
        entities=("place:al-tanf",),
        evidence=(Evidence(field="title", start=0, end=6, text="Convoy"),),
        event_time=datetime(2026, 3, 1, 15, 0, tzinfo=timezone(timedelta(hours=3))),
        labels={"topic": "attack", "b": "2"},
        annotations={"summary": "ü"},
        facets={"source": "wire"},
    ),
    AlertSuppressed(alert_id="s", folded_into="a", rule_id="r", event_time=T),
    RepeatsFolded(
        folded_into="a",
        rule_id="r",
        item_ids=["x", "y"],
        item_positions=[3, 9],
        first_time=T,
        last_time=T,
        outlets=["o"],
    ),
    FeedPolled(feed_id="f", url="https://x.example/feed", polled_at=T, status=200),
    RulesetLoaded(ruleset_hash="h", rules=[RuleRef(id="r", version=1)], loaded_at=T, source="s"),
]


@pytest.mark.parametrize("evt", EVENTS, ids=lambda e: type(e).__name__)
def test_encode_gives_the_reference_bytes(evt) -> None:
    assert encode(evt) == reference(evt)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    title=_TEXT,
    summary=_TEXT,
    authors=st.lists(_TEXT, max_size=3),
    labels=st.dictionaries(_TEXT, _TEXT, max_size=4),
    facets=st.dictionaries(_TEXT, _TEXT, max_size=4),
    micro=st.integers(0, 999_999),
)
def test_encode_gives_the_reference_bytes_on_any_text(
    title, summary, authors, labels, facets, micro
) -> None:
    """Any text (every Unicode category but lone surrogates: controls, bidi marks, astral
    characters, keys that sort differently by code point and by UTF-8 bytes) encodes to the
    reference bytes, for an item and for an alert with mappings and nested values."""
    when = T.replace(microsecond=micro)
    item = ItemReceived(
        item_id="0" * 32, feed_id="f", received=when, title=title, summary=summary,
        authors=authors,
    )  # fmt: skip
    alert = AlertRaised(
        alert_id="a", rule_id="r", level="low", title=title, item_ids=(title,),
        evidence=(Evidence(field="title", start=0, end=len(title), text=title),),
        event_time=when, labels=labels, annotations=facets, facets=facets,
    )  # fmt: skip
    assert encode(item) == reference(item)
    assert encode(alert) == reference(alert)


def test_float_fields_keep_the_standard_float_form() -> None:
    """A float below 1e-4 is written as `json` writes it (``1e-05``), not as orjson would
    (``1e-5``): event types with float fields keep the standard encoder."""
    polled = FeedPolled(
        feed_id="f", url="https://x.example/feed", polled_at=T, status=200, duration_ms=1e-05
    )
    assert b'"duration_ms":1e-05' in encode(polled)
    assert encode(polled) == reference(polled)


def test_values_orjson_refuses_encode_or_fail_as_before() -> None:
    """An integer beyond 64 bits is written by the standard encoder; a lone surrogate fails
    as it always did (it cannot be UTF-8)."""
    big = AlertSuppressed(alert_id="s", folded_into="a", rule_id="r", event_time=T)
    object.__setattr__(big, "facets", {"n": 2**70})
    assert encode(big) == reference(big)
    lone = ItemReceived(item_id="0" * 32, feed_id="f", received=T, title="a\ud800b")
    with pytest.raises(UnicodeEncodeError):
        encode(lone)


def test_value_classes_declare_no_floats() -> None:
    """What `encode` relies on to use orjson: no value class an event holds has a float
    field (a new one would need the standard encoder for its events)."""
    for cls in (Media, Evidence, ItemEntities, FoldedMatch, RuleRef, Matcher):
        assert not any("float" in str(f.type) or "Any" in str(f.type) for f in attrs.fields(cls))


def test_every_time_an_event_holds_is_converted_to_utc() -> None:
    """What lets orjson write times itself: every datetime field of every event and value
    class converts what it is given to UTC (a time in another zone would otherwise be
    written with its offset)."""
    classes = [
        *registered_types().values(),
        Media,
        Evidence,
        ItemEntities,
        FoldedMatch,
        RuleRef,
        Matcher,
    ]
    fields = [(c, f) for c in classes for f in attrs.fields(c) if "datetime" in str(f.type)]
    assert len(fields) > 20
    for cls, field in fields:
        assert field.converter in (_codec.parse_time, _codec._required_time), (cls, field.name)


def test_encoded_bytes_hold_no_more_memory_than_their_length() -> None:
    """orjson's own output keeps its buffer's capacity (about 4 KB per small event); what
    `encode` returns is an exact-size copy, so a page of records in memory costs its bytes."""
    items = [
        ItemReceived(item_id=f"{n:032d}", feed_id="f", received=T, title="Convoy " * 20)
        for n in range(500)
    ]
    tracemalloc.start()
    try:
        encoded = [encode(i) for i in items]
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 1.5 * sum(len(e) for e in encoded) + 500 * 100


def test_decode_reads_what_orjson_refuses() -> None:
    """Records with NaN or a lone surrogate escape (valid for `json`) still decode."""
    found = decode(
        "EntitiesExtracted",
        2,
        b'{"items":[{"item_id":"\\ud800","feed_id":"f","entities":[],'
        b'"event_time":"2026-03-01T00:00:00Z"}],"ruleset_hash":null}',
    )
    assert found.items[0].item_id == "\ud800"
    polled = decode(
        "FeedPolled",
        2,
        b'{"feed_id":"f","url":"u","polled_at":"2026-03-01T00:00:00Z","status":200,'
        b'"duration_ms":NaN}',
    )
    assert polled.duration_ms != polled.duration_ms


def test_an_unencodable_value_is_an_event_error() -> None:
    bad = AlertSuppressed(alert_id="s", folded_into="a", rule_id="r", event_time=T)
    object.__setattr__(bad, "facets", {"k": object()})
    with pytest.raises(EventError, match="cannot encode a object"):
        encode(bad)

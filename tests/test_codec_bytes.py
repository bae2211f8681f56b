"""`encode` writes exactly the bytes of the plain-value encoding it replaced (the hash chain and
every stored record depend on them), for every event type and the awkward values they hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.errors import EventError
from monitor.events import (
    AlertRaised,
    AlertSuppressed,
    Evidence,
    FeedPolled,
    ItemReceived,
    Media,
    RepeatsFolded,
    RuleRef,
    RulesetLoaded,
    encode,
    item_id,
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


def test_an_unencodable_value_is_an_event_error() -> None:
    bad = AlertSuppressed(alert_id="s", folded_into="a", rule_id="r", event_time=T)
    object.__setattr__(bad, "facets", {"k": object()})
    with pytest.raises(EventError, match="cannot encode a object"):
        encode(bad)

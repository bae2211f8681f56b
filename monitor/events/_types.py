"""The events of the log: frozen attrs classes, each registered under a stable name and version.

Their converters accept both Python values and their JSON forms, so ``cls(**json)`` rebuilds
an event from its stored body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import attrs

from ._codec import (
    Event,
    _mapping,
    _required_time,
    _str_tuple,
    _text,
    event,
    parse_time,
    upcaster,
)

__all__ = [
    "AlertRaised",
    "AlertSuperseded",
    "AlertSuppressed",
    "CheckpointSigned",
    "EntitiesExtracted",
    "Evidence",
    "FeedDisabled",
    "FeedFailed",
    "FeedMoved",
    "FeedPolled",
    "ItemEntities",
    "ItemReceived",
    "ItemRevised",
    "ItemSighted",
    "Media",
    "RepeatsFolded",
    "RuleRef",
    "RulesetLoaded",
    "event_time",
]


@attrs.frozen(kw_only=True)
class Media:
    """A file attached to an item: an RSS enclosure, an Atom ``rel="enclosure"`` link or a Media
    RSS ``media:content``. `length` is in bytes as the feed states it; `credit` names who made
    it; `thumbnail` is the address of a preview image."""

    url: str
    type: str | None = None
    length: int | None = None
    credit: str | None = None
    thumbnail: str | None = None


def _media(values: Iterable[Media | Mapping[str, Any]] | None) -> tuple[Media, ...]:
    return tuple(v if isinstance(v, Media) else Media(**v) for v in values or ())


#: The optional fields ItemReceived's version 2 added; left out of the stored JSON while empty.
_V2_OPTIONAL = frozenset({"updated", "original_url", "comments_url", "media", "text_lang"})


@attrs.frozen(kw_only=True)
class _ItemFields(Event):
    """The fields an item's version has, shared by `ItemReceived` and `ItemRevised` (not an
    event type of its own)."""

    item_id: str
    feed_id: str
    received: datetime = attrs.field(converter=_required_time)
    guid: str | None = None
    url: str | None = None
    title: str = attrs.field(default="", converter=_text)
    summary: str = attrs.field(default="", converter=_text)
    content: str = attrs.field(default="", converter=_text)
    authors: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    published: datetime | None = attrs.field(default=None, converter=parse_time)
    lang: str | None = None
    source: str | None = None
    updated: datetime | None = attrs.field(default=None, converter=parse_time)
    original_url: str | None = None
    comments_url: str | None = None
    media: tuple[Media, ...] = attrs.field(default=(), converter=_media)
    text_lang: str | None = None

    omit_when_empty: ClassVar[frozenset[str]] = _V2_OPTIONAL


@event("ItemReceived", 2)
@attrs.frozen(kw_only=True)
class ItemReceived(_ItemFields):
    """A news item arrived from a feed (or a file). Stored once per `item_id`.

    `lang` is the language the feed declares; `text_lang` the one detected from the text (see
    `monitor.feeds.detect_language`). `url` is the link as served (it makes the item id when
    there is no guid); `original_url` is the article behind a tracking link (FeedBurner's
    ``origLink``). Version 2 added `updated`, `original_url`, `comments_url`, `media` and
    `text_lang`.
    """

    def dedupe_key(self) -> str:
        return f"item:{self.item_id}"


@upcaster("ItemReceived", 1)
def _item_received_v1(body: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no update time, original or comments link, media or detected language."""
    return {
        **body,
        "updated": None,
        "original_url": None,
        "comments_url": None,
        "media": [],
        "text_lang": None,
    }


@event("FeedPolled", 2)
@attrs.frozen(kw_only=True)
class FeedPolled(Event):
    """A feed was fetched and parsed. `degraded` marks a malformed feed ingested in part.

    Polls that change nothing are not written one by one (see `monitor.feeds.RecordPolicy`):
    the next record folds them in. `unchanged_polls` counts the unrecorded polls before this
    one, the first of them at `unchanged_since`, so a record stands for ``1 + unchanged_polls``
    polls. A heartbeat is such a record for an unchanged poll. Version 2 added both fields.
    """

    feed_id: str
    url: str
    polled_at: datetime = attrs.field(converter=_required_time)
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    new_items: int = 0
    seen_items: int = 0
    duration_ms: float = 0.0
    degraded: bool = False
    problem: str | None = None
    unchanged_polls: int = 0
    unchanged_since: datetime | None = attrs.field(default=None, converter=parse_time)


@upcaster("FeedPolled", 1)
def _feed_polled_v1(body: dict[str, Any]) -> dict[str, Any]:
    """Version 1 recorded every poll: nothing folded in."""
    return {**body, "unchanged_polls": 0, "unchanged_since": None}


@event("FeedFailed", 1)
@attrs.frozen(kw_only=True)
class FeedFailed(Event):
    """A poll failed. `attempt` counts consecutive failures; `retry_after` is the server's ask."""

    feed_id: str
    url: str
    failed_at: datetime = attrs.field(converter=_required_time)
    error_kind: str
    message: str
    attempt: int = 1
    status: int | None = None
    retry_after: float | None = None


@event("FeedMoved", 1)
@attrs.frozen(kw_only=True)
class FeedMoved(Event):
    """A feed answered with a permanent redirect: later polls use `new_url`."""

    feed_id: str
    old_url: str
    new_url: str
    moved_at: datetime = attrs.field(converter=_required_time)


@event("FeedDisabled", 1)
@attrs.frozen(kw_only=True)
class FeedDisabled(Event):
    """A feed is gone for good (HTTP 410) or was disabled; the watcher stops polling it."""

    feed_id: str
    url: str
    reason: str
    disabled_at: datetime = attrs.field(converter=_required_time)


@attrs.frozen(kw_only=True)
class RuleRef:
    """A rule id with the version it was loaded at."""

    id: str
    version: int = 1


def _rule_refs(values: Iterable[RuleRef | Mapping[str, Any]]) -> tuple[RuleRef, ...]:
    return tuple(v if isinstance(v, RuleRef) else RuleRef(**v) for v in values)


@event("RulesetLoaded", 1)
@attrs.frozen(kw_only=True)
class RulesetLoaded(Event):
    """A rule set was loaded and became active; alerts name its hash as their provenance."""

    ruleset_hash: str
    rules: tuple[RuleRef, ...] = attrs.field(converter=_rule_refs)
    loaded_at: datetime = attrs.field(converter=_required_time)
    source: str = ""

    def dedupe_key(self) -> str | None:
        return None


@attrs.frozen(kw_only=True)
class Evidence:
    """One matched term: the field it was found in and its character span in that field."""

    field: str
    start: int
    end: int
    text: str
    selection: str = ""


def _evidence(values: Iterable[Evidence | Mapping[str, Any]]) -> tuple[Evidence, ...]:
    return tuple(v if isinstance(v, Evidence) else Evidence(**v) for v in values)


@event("AlertRaised", 1)
@attrs.frozen(kw_only=True)
class AlertRaised(Event):
    """A rule matched (or a correlation fired). Stored once per `alert_id`."""

    alert_id: str
    rule_id: str
    rule_version: int = 1
    level: str = "medium"
    title: str = ""
    item_ids: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    entities: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    evidence: tuple[Evidence, ...] = attrs.field(default=(), converter=_evidence)
    group_key: str | None = None
    event_time: datetime = attrs.field(converter=_required_time)
    window_start: datetime | None = attrs.field(default=None, converter=parse_time)
    window_end: datetime | None = attrs.field(default=None, converter=parse_time)
    labels: dict[str, str] = attrs.field(factory=dict, converter=_mapping, hash=False)
    annotations: dict[str, str] = attrs.field(factory=dict, converter=_mapping, hash=False)
    ruleset_hash: str | None = None
    #: The item's keyword fields (source, feed, lang, author) that correlations group by and
    #: count distinct values of, kept so correlation state can be rebuilt from the log alone.
    facets: dict[str, str] = attrs.field(factory=dict, converter=_mapping, hash=False)

    def dedupe_key(self) -> str:
        return f"alert:{self.alert_id}"


@event("AlertSuppressed", 1)
@attrs.frozen(kw_only=True)
class AlertSuppressed(Event):
    """A rule fired again for a group inside its throttle window: recorded, folded into the
    earlier alert `folded_into`, and not delivered again."""

    alert_id: str
    folded_into: str
    rule_id: str
    group_key: str | None = None
    item_ids: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    event_time: datetime = attrs.field(converter=_required_time)
    #: Entities and facets of the repeat, so correlation state rebuilt from the log counts it.
    entities: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    facets: dict[str, str] = attrs.field(factory=dict, converter=_mapping, hash=False)

    def dedupe_key(self) -> str:
        return f"suppressed:{self.alert_id}"


@attrs.frozen(kw_only=True)
class FoldedMatch:
    """One folded repeat of a rule that a correlation or aggregation counts: what its own
    `AlertSuppressed` would have held for that rule to count it again after a restart."""

    item_id: str
    event_time: datetime = attrs.field(converter=_required_time)
    entities: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    facets: dict[str, str] = attrs.field(factory=dict, converter=_mapping, hash=False)


_V = TypeVar("_V")


def _tuple_of(cls: type[_V]) -> Callable[[Iterable[_V | Mapping[str, Any]]], tuple[_V, ...]]:
    """A converter to a tuple of `cls` values from values or their decoded mappings."""

    def convert(values: Iterable[_V | Mapping[str, Any]]) -> tuple[_V, ...]:
        return tuple(v if isinstance(v, cls) else cls(**v) for v in values)

    return convert


@event("RepeatsFolded", 2)
@attrs.frozen(kw_only=True)
class RepeatsFolded(Event):
    """Throttled repeats of one alert, counted in one record instead of one `AlertSuppressed`
    each (a wire story reprinted by forty outlets is forty repeats, not forty records).

    The evaluator keeps the first few repeats of an alert as `AlertSuppressed` (the sample that
    carries their entities and facets) and folds the rest of each page into one of these.
    `item_ids` and `item_positions` are the repeats' items and those items' positions in the
    log, in log order: a reader that counts only positions above the highest it has counted for
    `folded_into` counts every repeat once, even when two evaluators fold overlapping pages.
    `outlets` are the distinct sources (publisher, else feed) among these repeats.

    `matches` (version 2) lists each repeat's event time, entities and facets when a
    correlation or aggregation counts this rule's alerts: a restart feeds them back to it, as
    it feeds back stored `AlertSuppressed` records. It is empty otherwise, and in version 1
    records, which are read as version 2 records without it.
    """

    omit_when_empty: ClassVar[frozenset[str]] = frozenset({"matches"})

    folded_into: str
    rule_id: str
    rule_version: int = 1
    item_ids: tuple[str, ...] = attrs.field(converter=_str_tuple)
    item_positions: tuple[int, ...] = attrs.field(converter=tuple)
    first_time: datetime = attrs.field(converter=_required_time)
    last_time: datetime = attrs.field(converter=_required_time)
    outlets: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    matches: tuple[FoldedMatch, ...] = attrs.field(default=(), converter=_tuple_of(FoldedMatch))

    def dedupe_key(self) -> str:
        span = f"{self.item_positions[0]}-{self.item_positions[-1]}" if self.item_positions else ""
        return f"folded:{self.folded_into}:{span}"

    def count_new(self, counted: MutableMapping[str, int]) -> int:
        """How many of these repeats a reader has not counted yet, given `counted` (alert id ->
        the highest item position it counted for that alert), which this updates. Evaluators
        fold pages in log order, so overlapping records (two evaluators, other page splits)
        repeat only positions at or below the highest already counted."""
        highest = counted.get(self.folded_into, 0)
        new = sum(1 for p in self.item_positions if p > highest)
        if self.item_positions:
            counted[self.folded_into] = max(highest, max(self.item_positions))
        return new


@attrs.frozen(kw_only=True)
class ItemEntities:
    """The places and actors (lexicon canonical ids) found in one item."""

    item_id: str
    feed_id: str
    entities: tuple[str, ...] = attrs.field(converter=_str_tuple)
    event_time: datetime = attrs.field(converter=_required_time)


@event("EntitiesExtracted", 2)
@attrs.frozen(kw_only=True)
class EntitiesExtracted(Event):
    """The places and actors (lexicon canonical ids) a rule set found in items, one entry per
    item that names any, in log order.

    The evaluator writes one of these per page of items it evaluates, not one per item: the
    entities of 500 items are one record, so a log of news items is not half entity records,
    and appending them costs one row, one hash and one dedupe-index entry instead of 500.
    Readers treat an item's entities as a set (the projections fold them per item), so an
    item listed again (a second evaluator, another page split) changes nothing. Version 1
    records (one item each) are read as a version 2 record of one entry.
    """

    items: tuple[ItemEntities, ...] = attrs.field(converter=_tuple_of(ItemEntities))
    ruleset_hash: str | None = None

    @classmethod
    def for_item(
        cls,
        *,
        item_id: str,
        feed_id: str,
        entities: Iterable[str],
        event_time: datetime | str,
        ruleset_hash: str | None = None,
    ) -> EntitiesExtracted:
        """The entities of a single item (what version 1 held)."""
        entry = ItemEntities(
            item_id=item_id, feed_id=feed_id, entities=entities, event_time=event_time
        )
        return cls(items=(entry,), ruleset_hash=ruleset_hash)

    def dedupe_key(self) -> str:
        first, last = (self.items[0].item_id, self.items[-1].item_id) if self.items else ("", "")
        return f"entities:{self.ruleset_hash or ''}:{first}:{last}:{len(self.items)}"


@upcaster("EntitiesExtracted", 1)
def _entities_extracted_v1(body: dict[str, Any]) -> dict[str, Any]:
    """Version 1 held one item's entities."""
    entry = {k: body[k] for k in ("item_id", "feed_id", "entities", "event_time")}
    return {"items": [entry], "ruleset_hash": body.get("ruleset_hash")}


@upcaster("RepeatsFolded", 1)
def _repeats_folded_v1(body: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no `matches` (its rules' repeats were stored one by one)."""
    return body


@event("CheckpointSigned", 1)
@attrs.frozen(kw_only=True)
class CheckpointSigned(Event):
    """A signed checkpoint of the log's head, stored in the log itself.

    `note` is the whole signed checkpoint text (c2sp.org/tlog-checkpoint form; see
    `monitor.log.Checkpoint`) and is what counts; `origin`, `position`, `key_id` (hex) and
    `signed_at` repeat its fields for queries. Stored once per origin, position and key.
    """

    origin: str
    position: int
    key_id: str
    signed_at: datetime = attrs.field(converter=_required_time)
    note: str

    def dedupe_key(self) -> str:
        return f"checkpoint:{self.origin}:{self.position}:{self.key_id}"


@event("ItemRevised", 1)
@attrs.frozen(kw_only=True)
class ItemRevised(_ItemFields):
    """A known item came back with changed content: the whole new version.

    The content (title, summary, content, link, authors, tags) is compared by `content_hash`
    (see `monitor.events.content_hash`: over normalized fields, so whitespace-only edits are no
    revision). Stored once per item and content: two watchers seeing the same version store it
    once, and a version the item had before is not stored again. `revision` is the number the
    appender knew (1 for the first change); the `item_versions` projection numbers versions by
    log order, which agrees unless two watchers appended different new versions at once.
    `previous_hash` is the version it replaced, as the appender knew it. The other fields are
    those of `ItemReceived`, as the new version has them (`monitor.events.revised_item` reads
    them back as an item).
    """

    revision: int = 1
    content_hash: str
    previous_hash: str | None = None

    def dedupe_key(self) -> str:
        return f"revision:{self.item_id}:{self.content_hash}"


@event("AlertSuperseded", 1)
@attrs.frozen(kw_only=True)
class AlertSuperseded(Event):
    """An item was revised and its new version no longer matches the rule of an alert raised
    (or suppressed) for an earlier version. Nothing is withdrawn: the alert stays, marked."""

    alert_id: str
    rule_id: str
    item_id: str
    revision: int
    content_hash: str
    event_time: datetime = attrs.field(converter=_required_time)

    def dedupe_key(self) -> str:
        return f"superseded:{self.alert_id}:{self.content_hash}"


@event("ItemSighted", 1)
@attrs.frozen(kw_only=True)
class ItemSighted(Event):
    """A stored item was seen in another feed: the same article (same canonical URL, see
    `monitor.events.canonical_url`) under that feed's own entry.

    Nothing of the item changes: its text stays the one first stored (by `ItemReceived`, from
    the feed that stored it first), and rules do not evaluate a sighting. `item_id` is the
    stored item; `feed_id` the feed it was sighted in; `entry_id` the id the entry would have
    had as an item of its own (its feed plus its guid), `guid`, `url` and `title` what that
    feed calls it, `canonical_url` the address both share. Stored once per item and feed,
    however many watchers or polls see it.
    """

    item_id: str
    feed_id: str
    seen: datetime = attrs.field(converter=_required_time)
    entry_id: str
    canonical_url: str
    guid: str | None = None
    url: str | None = None
    title: str = attrs.field(default="", converter=_text)

    def dedupe_key(self) -> str:
        return f"sighting:{self.item_id}:{self.feed_id}"


def event_time(evt: ItemReceived) -> datetime:
    """The time an item happened for windows and throttles: published, else received."""
    return evt.published or evt.received

"""The events that make up the log, and how they become bytes and back.

Every fact the system knows is one of these immutable events. Each type has a stable name and a
schema version; `encode` turns an event into canonical JSON (sorted keys, no insignificant
whitespace, UTC ISO-8601 times ending in ``Z``) so the same event always yields the same bytes,
which is what the log's hash chain is computed over. `decode` reverses it, upcasting records
written by older schema versions and refusing versions newer than this program knows.

Adding an event type: define an ``@event(name, version)`` frozen class with keyword-only fields
whose converters accept both Python values and their JSON forms (so ``cls(**json)`` works).
Changing one: bump its version and register an ``@upcaster(name, from_version)`` that rewrites the
old JSON mapping into the next version's shape.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from .errors import EventError, UnknownEventTypeError

__all__ = [
    "AlertRaised",
    "AlertSuppressed",
    "EntitiesExtracted",
    "Event",
    "Evidence",
    "FeedDisabled",
    "FeedFailed",
    "FeedMoved",
    "FeedPolled",
    "ItemReceived",
    "RuleRef",
    "RulesetLoaded",
    "decode",
    "encode",
    "event",
    "event_class",
    "event_time",
    "format_time",
    "item_id",
    "normalize_url",
    "parse_time",
    "registered_types",
    "to_plain",
    "upcaster",
]


# --- time ------------------------------------------------------------------------------------


def parse_time(value: datetime | str | None) -> datetime | None:
    """Return `value` as an aware UTC datetime; naive datetimes and strings are taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise EventError(f"not an ISO-8601 time: {value!r}") from exc
    if not isinstance(value, datetime):
        raise EventError(f"expected a datetime or ISO-8601 string, got {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _required_time(value: datetime | str) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise EventError("a time is required here")
    return parsed


def format_time(value: datetime) -> str:
    """Format an aware datetime canonically: UTC, ISO-8601, ``Z`` suffix, µs only when set."""
    value = value.astimezone(UTC)
    spec = "microseconds" if value.microsecond else "seconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _str_tuple(values: Iterable[str] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(str(v) for v in values)


def _text(value: str | None) -> str:
    return "" if value is None else str(value)


def _mapping(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


# --- registry --------------------------------------------------------------------------------

_E = TypeVar("_E", bound="Event")
_TYPES: dict[str, type[Event]] = {}
_UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


class Event:
    """Base of every event class. Subclasses are made with the `event` decorator."""

    __slots__ = ()
    type_name: ClassVar[str]
    schema_version: ClassVar[int]

    def dedupe_key(self) -> str | None:
        """The key that makes appending this event idempotent, or None when every copy counts."""
        return None


def event(name: str, version: int = 1) -> Callable[[type[_E]], type[_E]]:
    """Register a frozen attrs event class under a stable `name` and schema `version`."""

    def register(cls: type[_E]) -> type[_E]:
        if name in _TYPES:
            raise EventError(f"event type {name!r} is registered twice")
        cls.type_name = name
        cls.schema_version = version
        _TYPES[name] = cls
        return cls

    return register


def upcaster(
    name: str, from_version: int
) -> Callable[
    [Callable[[dict[str, Any]], dict[str, Any]]], Callable[[dict[str, Any]], dict[str, Any]]
]:
    """Register a function that rewrites version `from_version` of event `name` into the next."""

    def register(
        fn: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Callable[[dict[str, Any]], dict[str, Any]]:
        _UPCASTERS[(name, from_version)] = fn
        return fn

    return register


def event_class(name: str) -> type[Event]:
    """Return the class registered under `name`, or raise `UnknownEventTypeError`."""
    try:
        return _TYPES[name]
    except KeyError:
        raise UnknownEventTypeError(f"unknown event type {name!r}") from None


def registered_types() -> dict[str, type[Event]]:
    """Return a copy of the registry: stable name -> event class."""
    return dict(_TYPES)


# --- canonical JSON ----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    raise EventError(f"cannot encode a {type(value).__name__} in an event")


def to_plain(evt: Event) -> dict[str, Any]:
    """Return the event's fields as JSON-ready values (the body of its canonical form)."""
    return _plain(evt)


def encode(evt: Event) -> bytes:
    """Return the canonical JSON bytes of `evt`: sorted keys, compact, UTF-8, UTC times."""
    return json.dumps(
        _plain(evt), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def decode(name: str, version: int, data: bytes | str) -> Event:
    """Rebuild an event from its stored form, upcasting older schema versions on the way."""
    cls = event_class(name)
    if version > cls.schema_version:
        raise UnknownEventTypeError(
            f"{name} version {version} is newer than this program knows "
            f"({cls.schema_version}); upgrade news-monitor to read this log"
        )
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventError(f"stored {name} is not valid JSON: {exc}") from exc
    while version < cls.schema_version:
        step = _UPCASTERS.get((name, version))
        if step is None:
            raise EventError(f"no upcaster registered for {name} version {version}")
        body = step(body)
        version += 1
    try:
        return cls(**body)
    except (TypeError, ValueError) as exc:
        raise EventError(f"stored {name} v{version} does not fit its schema: {exc}") from exc


# --- identities ------------------------------------------------------------------------------

_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid|ns_\w+)$", re.I)


def normalize_url(url: str) -> str:
    """Return a canonical form of `url` for identity: the same article linked two ways agrees.

    Lower-cases scheme and host, drops default ports, fragments and tracking parameters
    (utm_*, fbclid, ...), sorts the remaining query, and removes a trailing slash.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    query = urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING_PARAMS.match(k)
        )
    )
    path = parts.path.rstrip("/") or ""
    return urlunsplit((scheme, netloc, path, query, ""))


def _squash(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def item_id(
    feed_id: str,
    *,
    guid: str | None = None,
    url: str | None = None,
    title: str = "",
    summary: str = "",
    content: str = "",
) -> str:
    """Return the deterministic id of a news item: 32 hex digits.

    Identity is the feed plus the item's guid; without a guid, its normalized link; without
    either, a hash of its text with whitespace and case folded. The same item fetched twice, by
    two watchers or after a crash, gets the same id, which is what makes appends idempotent.
    """
    if guid and guid.strip():
        basis = f"guid\x00{guid.strip()}"
    elif url and url.strip():
        basis = f"url\x00{normalize_url(url)}"
    else:
        basis = f"text\x00{_squash(title)}\x00{_squash(summary)}\x00{_squash(content)}"
    return hashlib.sha256(f"{feed_id}\x00{basis}".encode()).hexdigest()[:32]


# --- the events ------------------------------------------------------------------------------


@event("ItemReceived", 1)
@attrs.frozen(kw_only=True)
class ItemReceived(Event):
    """A news item arrived from a feed (or a file). Stored once per `item_id`."""

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

    def dedupe_key(self) -> str:
        return f"item:{self.item_id}"


@event("FeedPolled", 1)
@attrs.frozen(kw_only=True)
class FeedPolled(Event):
    """A feed was fetched and parsed. `degraded` marks a malformed feed ingested in part."""

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


@event("EntitiesExtracted", 1)
@attrs.frozen(kw_only=True)
class EntitiesExtracted(Event):
    """The places and actors (lexicon canonical ids) a rule set found in an item."""

    item_id: str
    feed_id: str
    entities: tuple[str, ...] = attrs.field(converter=_str_tuple)
    event_time: datetime = attrs.field(converter=_required_time)
    ruleset_hash: str | None = None

    def dedupe_key(self) -> str:
        return f"entities:{self.item_id}:{self.ruleset_hash or ''}"


def event_time(evt: ItemReceived) -> datetime:
    """The time an item happened for windows and throttles: published, else received."""
    return evt.published or evt.received

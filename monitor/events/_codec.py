"""The registry of event types, times, and canonical JSON: how events become bytes and back.

`encode` gives the same bytes for the same event (sorted keys, compact, UTC times ending in
``Z``), which is what the log's hash chain covers. `decode` rebuilds events, upcasting records
of older schema versions and refusing versions newer than this program knows.
"""

from __future__ import annotations

import functools
import json
import json.encoder
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import attrs
import orjson

from ..errors import EventError, UnknownEventTypeError

__all__ = [
    "Event",
    "decode",
    "encode",
    "event",
    "event_class",
    "format_time",
    "parse_time",
    "registered_types",
    "to_plain",
    "upcaster",
]


# --- time ------------------------------------------------------------------------------------


def parse_time(value: datetime | str | None) -> datetime | None:
    """Return `value` as an aware UTC datetime; naive datetimes and strings are taken as UTC."""
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # the common case (every decoded or copied time): nothing to convert
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
    return _format_time(value)


# An item's times are written again and again (its record, its entities, each alert and
# repeat, their ids), and formatting one costs about 4.5 µs against 0.25 µs for a cache hit.
# Equal aware datetimes are the same instant, which formats to the same UTC string.
@functools.lru_cache(maxsize=8192)
def _format_time(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # A UTC time's isoformat() ends in "+00:00" and shows microseconds only when set: swap
    # the offset for "Z" (no naive copy of the datetime, as replace(tzinfo=None) makes).
    return value.isoformat()[:-6] + "Z"


def _str_tuple(values: Iterable[str] | str | None) -> tuple[str, ...]:
    if type(values) is tuple and all(type(v) is str for v in values):
        return values  # already what it must be (events built from events): no copy
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
    #: Fields left out of the stored JSON while they hold their empty default (None, or an
    #: empty list), so optional fields a schema version added cost nothing on items that do not
    #: have them. Decoding gives them back their defaults, so the round trip is exact.
    omit_when_empty: ClassVar[frozenset[str]] = frozenset()

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


def _json_default(value: Any) -> Any:
    """What the JSON encoders (orjson, or the standard C encoder) cannot write themselves:
    nested attrs values, mappings that are not dicts, and times (for the standard encoder).
    Lists, tuples, dicts, strings and numbers they write directly, which is what makes
    `encode` several times faster than converting the whole event to plain values first."""
    if isinstance(value, datetime):
        return format_time(value)
    if attrs.has(type(value)):
        return {name: getattr(value, name) for name in _field_names(type(value))}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    raise TypeError(f"cannot encode a {type(value).__name__} in an event")


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in attrs.fields(cls))


@functools.cache
def _field_getter(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """Every field of `cls` in one C call (`operator.attrgetter`), as a tuple."""
    names = _field_names(cls)
    getter = operator.attrgetter(*names)
    return getter if len(names) > 1 else lambda obj: (getter(obj),)


_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
)
# The C encoder `_ENCODER.encode` builds anew on every call (about 3 µs, as long as encoding
# a small event takes), made once with the same settings: the same bytes (a test holds them
# equal). No circular-reference check: an event's fields are values, never cycles. None where
# this Python has no C encoder (then `_ENCODER` encodes).
_C_ENCODE = (
    json.encoder.c_make_encoder(
        None, _json_default, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
    if json.encoder.c_make_encoder is not None
    else None
)


#: orjson writes what the standard encoder writes (sorted keys by code point, compact, UTF-8,
#: the same escapes: checked for every code point and on random events by the tests), except
#: floats: below 1e-4 it writes ``1e-5`` where ``json`` writes ``1e-05``. So event types that
#: declare a float field keep the standard encoder. It writes a UTC time exactly as
#: `format_time` does (with ``OPT_UTC_Z``; checked on 200,000 random times), and every time
#: an event holds is UTC: each datetime field converts to UTC (a test holds it).
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z


@functools.cache
def _declares_floats(cls: type) -> bool:
    """Whether `cls` declares a field that can hold a float (or anything: ``Any``). The value
    classes events hold (`Media`, `Evidence`, `ItemEntities`, `RuleRef`, `Matcher`) declare
    none (a test holds it)."""
    types = [str(f.type) for f in attrs.fields(cls)]
    return any(word in t for t in types for word in ("float", "Any", "object"))


def encode(evt: Event) -> bytes:
    """Return the canonical JSON bytes of `evt`: sorted keys, compact, UTF-8, UTC times.

    The same bytes as ``json.dumps(to_plain(evt), sort_keys=True, ...)`` (a test holds them
    equal), written in one pass by orjson, or by the standard C encoder for event types with
    float fields and for values orjson refuses (integers beyond 64 bits, lone surrogates,
    keys that are not strings), which then encode, or fail, exactly as they always did."""
    cls = type(evt)
    body = dict(zip(_field_names(cls), _field_getter(cls)(evt), strict=True))
    for name in cls.omit_when_empty:
        value = body.get(name)
        if value is None or value == () or value == []:
            body.pop(name, None)
    if not _declares_floats(cls):
        try:
            data = orjson.dumps(body, default=_json_default, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError included: let the standard encoder say
            pass
        else:
            # orjson's bytes keep the capacity of its write buffer (about 4 KB for a 500-byte
            # item); a record is held for a while (the batch, the shared decode cache), so
            # keep an exact-size copy.
            return memoryview(data).tobytes()
    try:
        if _C_ENCODE is None:
            return _ENCODER.encode(body).encode("utf-8")
        return "".join(_C_ENCODE(body, 0)).encode("utf-8")
    except TypeError as exc:
        raise EventError(str(exc)) from None


def decode(name: str, version: int, data: bytes | str) -> Event:
    """Rebuild an event from its stored form, upcasting older schema versions on the way."""
    cls = event_class(name)
    if version > cls.schema_version:
        raise UnknownEventTypeError(
            f"{name} version {version} is newer than this program knows "
            f"({cls.schema_version}); upgrade news-monitor to read this log"
        )
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        # orjson refuses some JSON that `json` reads (NaN, lone surrogate escapes, integers
        # beyond 64 bits): such a record reads as it always did, or fails as it did.
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

"""`read_items_file`: items from a file, for `monitor ingest` (feed XML or JSON lines).

A feed document (RSS, Atom, RDF; recognised by extension or by sniffing a leading ``<``) goes
through the same parse and normalize steps as a polled feed. A JSON-lines file has one object
per line with any of: title, summary, content, url (or link), published, feed, source, id (or
guid), author(s), tags, lang; at least one text field. A bad line stops the read with a
`ConfigError` naming file:line and what is wrong, before anything is yielded from later lines.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError, EventError, FeedError, SourceLocation
from ..events import ItemReceived, item_id, parse_time
from ._language import detect_language
from ._normalize import MAX_FIELD_CHARS, html_to_text, normalize_entries, publisher_domain
from ._parse import parse_feed
from ._poll import read_local_feed

__all__ = ["read_items_file"]

_XML_SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf"})
_KNOWN = frozenset(
    {"title", "summary", "content", "url", "link", "published", "feed", "feed_id", "source",
     "id", "guid", "author", "authors", "tags", "lang"}
)  # fmt: skip
_MAX_FILE = 200 * 1024 * 1024


def read_items_file(
    path: str | Path, *, feed_id: str | None = None, clock: Callable[[], datetime]
) -> Iterator[ItemReceived]:
    """Yield the items in the file at `path` as `ItemReceived` events (received = `clock()`).

    `feed_id` names the feed the items are filed under; by default a JSON line's ``feed`` field,
    else the file's stem.

    Raises:
        ConfigError: the file cannot be read, a feed document has nothing usable, or a JSON line
            is invalid (with file:line:column).
    """
    path = Path(path)
    name = str(path)
    received = clock()
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        raise ConfigError(
            f"cannot read items file: {exc.strerror or exc}", source=SourceLocation(name)
        ) from exc
    if path.suffix.lower() in _XML_SUFFIXES or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        yield from _feed_items(path, feed_id or path.stem, received)
    else:
        yield from _jsonl_items(path, feed_id, received)


def _feed_items(path: Path, feed_id: str, received: datetime) -> Iterator[ItemReceived]:
    try:
        body = read_local_feed(path, _MAX_FILE)
        parsed = parse_feed(body)
    except FeedError as exc:
        raise ConfigError(str(exc), source=SourceLocation(str(path))) from exc
    yield from normalize_entries(parsed, feed_id=feed_id, received=received)


def _jsonl_items(path: Path, feed_id: str | None, received: datetime) -> Iterator[ItemReceived]:
    name = str(path)
    default_feed = feed_id or path.stem
    try:
        handle = path.open(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(
            f"cannot read items file: {exc.strerror or exc}", source=SourceLocation(name)
        ) from exc
    with handle:
        line_no = 0
        try:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                yield _json_item(line, name, line_no, feed_id or None, default_feed, received)
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"not UTF-8 text: {exc.reason}", source=SourceLocation(name, line_no + 1)
            ) from exc


def _json_item(
    line: str,
    name: str,
    line_no: int,
    forced_feed: str | None,
    default_feed: str,
    received: datetime,
) -> ItemReceived:
    def fail(message: str, column: int | None = None) -> ConfigError:
        return ConfigError(message, source=SourceLocation(name, line_no, column))

    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise fail(f"not valid JSON: {exc.msg}", exc.colno) from None
    if not isinstance(obj, dict):
        raise fail(f"each line must be a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - _KNOWN)
    if unknown:
        raise fail(
            f"unknown field(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(_KNOWN))}"
        )
    text = {}
    for key in ("title", "summary", "content"):
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise fail(f"`{key}` must be a string")
        text[key] = _plain(value or "", single_line=key == "title")
    if not any(text.values()):
        raise fail("an item needs at least one of `title`, `summary` or `content`")
    url = _opt_str(obj, "url", fail) or _opt_str(obj, "link", fail)
    guid = _opt_str(obj, "id", fail) or _opt_str(obj, "guid", fail)
    feed = (
        forced_feed or _opt_str(obj, "feed", fail) or _opt_str(obj, "feed_id", fail) or default_feed
    )
    authors = _str_list(obj.get("authors", obj.get("author")), "authors", fail)
    tags = _str_list(obj.get("tags"), "tags", fail)
    published = _published(obj.get("published"), fail)
    lang = _opt_str(obj, "lang", fail)
    lang = lang.lower() if lang else None
    sample = "\n".join(text[key][:2000] for key in ("title", "summary", "content"))
    return ItemReceived(
        item_id=item_id(feed, guid=guid, url=url, **text),
        feed_id=feed,
        received=received,
        guid=guid,
        url=url,
        authors=authors,
        tags=tags,
        published=published,
        lang=lang,
        text_lang=detect_language(sample, lang.split("-")[0] if lang else None),
        source=_opt_str(obj, "source", fail) or publisher_domain(url),
        **text,
    )


def _plain(value: str, *, single_line: bool) -> str:
    return html_to_text(value, single_line=single_line)[:MAX_FIELD_CHARS]


def _opt_str(obj: Mapping[str, Any], key: str, fail: Callable[..., ConfigError]) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise fail(f"`{key}` must be a string")
    return str(value).strip() or None


def _str_list(value: Any, key: str, fail: Callable[..., ConfigError]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"`{key}` must be a string or a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def _published(value: Any, fail: Callable[..., ConfigError]) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise fail("`published` must be a date string (ISO-8601 or RFC 2822)")
    try:
        return parse_time(value.strip().replace("Z", "+00:00"))
    except EventError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise fail(
            f"`published` is not a date: {value!r} (use ISO-8601 like 2026-03-01T08:30:00Z "
            "or RFC 2822)"
        ) from None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)

"""Turning feedparser entries into `ItemReceived` events: plain text, UTC dates, stable ids.

Alerts and rules work on plain text, so HTML is flattened with the standard library's real HTML
parser (not a regex): tags dropped, scripts and styles skipped, entities decoded, block elements
turned into line breaks, whitespace collapsed. Text that contains no markup skips the parser.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..events import ItemReceived, Media, item_id
from ._language import detect_language
from ._parse import ParsedFeed

__all__ = ["MAX_FIELD_CHARS", "html_to_text", "normalize_entries", "publisher_domain"]

#: Longest text kept per field; the rest of an enormous article body is cut.
MAX_FIELD_CHARS = 100_000

_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip
_SKIP = frozenset({"script", "style", "noscript", "template", "iframe", "object", "svg"})
_MARKUP = re.compile(r"<[A-Za-z/!?]|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]{1,31});")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_RSS_AUTHOR = re.compile(r"^\s*[^\s@()]+@[^\s()]+\s*\(([^()]+)\)\s*$")
_PLAIN_TYPES = frozenset({"text/plain", ""})


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, with a line break per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _collapse(text: str, *, single_line: bool) -> str:
    if single_line:
        return " ".join(text.split())
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_text(value: str, *, single_line: bool = False) -> str:
    """Return the plain text of an HTML fragment: tags removed, entities decoded, block elements
    as line breaks (or everything on one line with `single_line`), whitespace collapsed."""
    if not value:
        return ""
    if _MARKUP.search(value) is None:
        return _collapse(value, single_line=single_line)
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    return _collapse("".join(parser.parts), single_line=single_line)


def _cut(text: str, cuts: list[int]) -> str:
    """`text` up to `MAX_FIELD_CHARS`, counting in `cuts` a field that was longer."""
    if len(text) > MAX_FIELD_CHARS:
        cuts.append(len(text))
        return text[:MAX_FIELD_CHARS]
    return text


def _is_content_copy(entry: Mapping[str, Any]) -> bool:
    """Whether the entry's `summary` is only feedparser's copy of its content: an entry with
    ``content:encoded`` or Atom ``content`` and no summary of its own gets one, with no type."""
    value = entry.get("summary")
    return (
        bool(value)
        and any(value == block.get("value") for block in entry.get("content") or ())
        and not (entry.get("summary_detail") or {}).get("type")
    )


def _detail_text(
    entry: Mapping[str, Any], key: str, cuts: list[int], *, single_line: bool = False
) -> str:
    value = entry.get(key)
    if not value:
        return ""
    detail = entry.get(f"{key}_detail") or {}
    kind = (detail.get("type") or "").lower()
    text = (
        _collapse(value, single_line=single_line)
        if kind in _PLAIN_TYPES
        else html_to_text(value, single_line=single_line)
    )
    return _cut(text, cuts)


def _content_text(entry: Mapping[str, Any], cuts: list[int]) -> str:
    parts = []
    for block in entry.get("content") or ():
        value = block.get("value") or ""
        kind = (block.get("type") or "").lower()
        parts.append(
            _collapse(value, single_line=False) if kind in _PLAIN_TYPES else html_to_text(value)
        )
    return _cut("\n".join(p for p in parts if p), cuts)


def _when(
    entry: Mapping[str, Any], keys: tuple[str, ...] = ("published", "updated", "created")
) -> datetime | None:
    for key in (f"{k}_parsed" for k in keys):
        # dict.get: feedparser's own get maps a missing updated_parsed to published_parsed.
        value = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        if isinstance(value, time.struct_time | tuple) and len(value) >= 6:
            try:
                return datetime(*value[:6], tzinfo=UTC)  # feedparser gives UTC
            except (TypeError, ValueError):
                continue
    return None


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    # RSS 2.0 writes "email (Name)"; feedparser splits that wrongly for some domains (it cut
    # "desk@x.example (Desk)" into email "desk@x.exam" and name "ple (Desk"), so we do it here.
    match = _RSS_AUTHOR.match(str(entry.get("author") or ""))
    if match:
        return (html_to_text(match.group(1), single_line=True),)
    names: list[str] = []
    for author in entry.get("authors") or ():
        name = (author.get("name") or author.get("email") or "").strip()
        if name:
            names.append(name)
    if not names and entry.get("author"):
        names.append(str(entry["author"]).strip())
    return tuple(dict.fromkeys(html_to_text(n, single_line=True) for n in names if n))


def _tags(entry: Mapping[str, Any]) -> tuple[str, ...]:
    terms = []
    for tag in entry.get("tags") or ():
        term = (tag.get("term") or tag.get("label") or "").strip()
        if term:
            terms.append(html_to_text(term, single_line=True))
    return tuple(dict.fromkeys(t for t in terms if t))


def _lang(entry: Mapping[str, Any], fallback: str | None) -> str | None:
    for key in ("title_detail", "summary_detail"):
        detail = entry.get(key) or {}
        if detail.get("language"):
            return _primary_lang(detail["language"])
    for block in entry.get("content") or ():
        if block.get("language"):
            return _primary_lang(block["language"])
    return fallback


def _primary_lang(tag: str | None) -> str | None:
    if not tag:
        return None
    primary = re.split(r"[-_]", str(tag).strip(), maxsplit=1)[0].lower()
    return primary or None


def publisher_domain(url: str | None) -> str | None:
    """Return the host of `url` without a leading ``www.``: the item's `source`."""
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def _absolute(link: str | None, base: str | None) -> str | None:
    """Resolve a relative `link` against the feed's URL (absolute links pass unchanged)."""
    if not link or not base:
        return link
    try:
        if urlsplit(link).scheme:
            return link
        return urljoin(base, link)
    except ValueError:
        return link


def normalize_entries(
    parsed: ParsedFeed,
    *,
    feed_id: str,
    received: datetime,
    feed_url: str | None = None,
    problems: list[str] | None = None,
) -> list[ItemReceived]:
    """Return one `ItemReceived` per usable entry of `parsed`, in document order.

    Entries with no text, no link and no media are skipped. The item id is deterministic (feed
    + guid, else link, else text), so the same entry served again dedupes in the log. Fields
    longer than `MAX_FIELD_CHARS` are cut; when `problems` is given, a line saying how many is
    appended to it (for the poll's `degraded` note).
    """
    lang = _primary_lang(parsed.lang)
    base = parsed.base_url or feed_url
    channel_link = _absolute(parsed.link, base)
    source = publisher_domain(channel_link) or publisher_domain(base)
    items: list[ItemReceived] = []
    cuts: list[int] = []
    for entry in parsed.entries:
        item = _entry_item(
            entry,
            feed_id=feed_id,
            received=received,
            lang=lang,
            source=source,
            base=base,
            cuts=cuts,
        )
        if item is not None:
            items.append(item)
    if cuts and problems is not None:
        problems.append(
            f"{len(cuts)} field(s) cut to {MAX_FIELD_CHARS:,} characters "
            f"(the longest had {max(cuts):,})"
        )
    return items


def _entry_item(
    entry: Mapping[str, Any],
    *,
    feed_id: str,
    received: datetime,
    lang: str | None,
    source: str | None,
    base: str | None,
    cuts: list[int],
) -> ItemReceived | None:
    title = _detail_text(entry, "title", cuts, single_line=True)
    # Never the content twice: feedparser's copy of it is no summary (rules search title,
    # summary and content, and would count every word of it twice).
    summary = "" if _is_content_copy(entry) else _detail_text(entry, "summary", cuts)
    content = _content_text(entry, cuts)
    if content == summary:
        content = ""
    link = _absolute((entry.get("link") or "").strip() or None, base)
    guid = (str(entry.get("id") or "")).strip() or None
    media = _media(entry, base)
    if not (title or summary or content or link or media):
        return None
    origin = entry.get("source") or {}
    item_source = publisher_domain(origin.get("href") or origin.get("link")) if origin else None
    item_lang = _lang(entry, lang)
    return ItemReceived(
        item_id=item_id(
            feed_id,
            guid=guid,
            url=link or (media[0].url if media else None),
            title=title,
            summary=summary,
            content=content,
        ),
        feed_id=feed_id,
        received=received,
        guid=guid,
        url=link,
        title=title,
        summary=summary,
        content=content,
        authors=_authors(entry),
        tags=_tags(entry),
        published=_when(entry),
        lang=item_lang,
        source=item_source or source or publisher_domain(link),
        updated=_when(entry, ("updated",)),
        original_url=_link(entry.get("feedburner_origlink"), base),
        comments_url=_link(entry.get("comments"), base),
        media=media,
        text_lang=detect_language(
            f"{title}\n{summary[:_LANG_SAMPLE]}\n{content[:_LANG_SAMPLE]}", item_lang
        ),
    )


#: Characters of summary and content handed to language detection (it reads 2,000 at most).
_LANG_SAMPLE = 2000


def _link(value: Any, base: str | None) -> str | None:
    return _absolute(str(value).strip() or None, base) if isinstance(value, str) else None


def _length(value: Any) -> int | None:
    try:
        length = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return length if length >= 0 else None


def _media(entry: Mapping[str, Any], base: str | None) -> tuple[Media, ...]:
    """The entry's enclosures and Media RSS files, once per address.

    feedparser lifts ``media:credit`` and ``media:thumbnail`` to the entry, whichever
    ``media:content`` held them, so they go with every Media RSS file; a thumbnail with no
    ``media:content`` (as BBC feeds write it) is the item's picture and listed on its own.
    """
    credits = [c.get("content") for c in entry.get("media_credit") or () if c.get("content")]
    credit = html_to_text(str(credits[0]), single_line=True) if credits else None
    thumbs = [t.get("url") for t in entry.get("media_thumbnail") or () if t.get("url")]
    thumbnail = _link(thumbs[0], base) if thumbs else None
    found: dict[str, Media] = {}
    for enc in entry.get("enclosures") or ():
        url = _link(enc.get("href") or enc.get("url") or "", base)
        if url and url not in found:
            found[url] = Media(
                url=url, type=enc.get("type") or None, length=_length(enc.get("length"))
            )
    for item in entry.get("media_content") or ():
        url = _link(item.get("url") or "", base)
        if not url:
            continue
        known = found.get(url)
        found[url] = Media(
            url=url,
            type=item.get("type") or (known.type if known else None) or item.get("medium"),
            length=_length(item.get("filesize")) or (known.length if known else None),
            credit=credit,
            thumbnail=thumbnail,
        )
    if thumbnail and not entry.get("media_content") and thumbnail not in found:
        found[thumbnail] = Media(url=thumbnail, type="image", credit=credit, thumbnail=thumbnail)
    return tuple(found.values())

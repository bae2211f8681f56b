"""Parsing feed bytes with feedparser, after taking the teeth out of hostile XML.

feedparser hands the document to expat, which expands entities declared in an internal DTD
subset; a few hundred bytes of nested declarations (the "billion laughs") or one big entity
referenced many times (quadratic blow-up) can eat the machine. So before parsing we remove any
DOCTYPE that carries an internal subset. Undeclared entities then make the document ill-formed,
feedparser falls back to its lenient parser, and the feed is at worst recorded as degraded.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import attrs
import feedparser

from ._guards import feed_error

__all__ = ["ParsedFeed", "parse_feed", "strip_dtd"]

_WIDE_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
# feedparser also sets *bozo* for a missing or non-XML Content-Type and for a charset it had to
# override; the document itself parsed cleanly, so these are noted but do not mark it degraded.
_BENIGN = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
_XML_DECL_ENCODING = re.compile(rb"^(<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2", re.I)
_DECLARED = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)", re.I)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([^\"';\s]+)", re.I)
_UTF8 = frozenset({"utf-8", "utf8"})
_BEYOND_ASCII = re.compile("[^\x00-\x7f\ufffd]")


@attrs.frozen(kw_only=True)
class ParsedFeed:
    """What feedparser made of a document: the channel, its entries, and any problem.

    `degraded` is set when the document was malformed (feedparser's *bozo*) but still yielded
    entries; `problem` says what was wrong, for the `FeedPolled` event.
    """

    title: str
    link: str | None
    lang: str | None
    version: str
    entries: tuple[Any, ...]
    channel: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    base_url: str | None = None
    degraded: bool = False
    problem: str | None = None


def strip_dtd(body: bytes) -> tuple[bytes, bool]:
    """Return `body` without a DOCTYPE that has an internal subset, and whether one was removed.

    Only the prolog (before the root element) is scanned, so HTML inside CDATA is untouched. A
    DOCTYPE without an internal subset (e.g. Netscape's RSS 0.91) is kept: it declares nothing.
    UTF-16/32 documents are re-encoded as UTF-8 first, so the scan sees ASCII markup.
    """
    for bom, encoding in _WIDE_BOMS:
        if body.startswith(bom):
            text = body.decode(encoding, errors="replace").lstrip("\ufeff")
            body = _XML_DECL_ENCODING.sub(rb'\1"utf-8"', text.encode("utf-8"), count=1)
            break
    n, i = len(body), 0
    if body.startswith(b"\xef\xbb\xbf"):
        i = 3
    while i < n:
        if body[i : i + 1].isspace():
            i += 1
        elif body.startswith(b"<?", i):
            end = body.find(b"?>", i)
            i = n if end < 0 else end + 2
        elif body.startswith(b"<!--", i):
            end = body.find(b"-->", i)
            i = n if end < 0 else end + 3
        elif body[i : i + 9].upper() == b"<!DOCTYPE":
            end, has_subset = _doctype_end(body, i)
            if has_subset:
                return body[:i] + body[end:], True
            i = end
        else:
            break
    return body, False


def _doctype_end(body: bytes, start: int) -> tuple[int, bool]:
    """Return the index just past the DOCTYPE at `start`, and whether it had ``[...]``."""
    depth, quote, has_subset = 0, 0, False
    for j in range(start + 9, len(body)):
        c = body[j]
        if quote:
            if c == quote:
                quote = 0
        elif c in (0x22, 0x27):  # " '
            quote = c
        elif c == 0x5B:  # [
            depth += 1
            has_subset = True
        elif c == 0x5D:  # ]
            depth -= 1
        elif c == 0x3E and depth <= 0:  # >
            return j + 1, has_subset
    return len(body), has_subset  # unterminated: drop the rest of the prolog too


def _base_url(content_location: str | None, url: str | None) -> str | None:
    """The base for relative links: Content-Location resolved against the request's URL, else
    that URL; a base that is still relative is no base at all."""
    base = url
    if content_location:
        try:
            base = urljoin(url, content_location.strip()) if url else content_location.strip()
        except ValueError:
            base = url
    try:
        return base if base and urlsplit(base).scheme else None
    except ValueError:
        return None


def _repair_utf8(body: bytes, content_type: str) -> tuple[bytes, int | None, int]:
    """Check a document meant to be UTF-8 (declared so, or declaring nothing): return the body
    to parse, the offset of the first invalid byte (None when valid) and how many bad sequences
    were replaced.

    Mostly UTF-8 with a few bad bytes (valid multi-byte text beside them): the bad sequences
    become U+FFFD, so one stray byte does not turn a whole Arabic feed into cp1252 mojibake.
    No valid multi-byte sequence at all: the document is most likely in a single-byte encoding
    it does not declare, and feedparser's fallback decodes it (nothing replaced).
    """
    declared = _DECLARED.match(body[:512])
    charset = _CHARSET.search(content_type or "")
    for name in (declared.group(1) if declared else b"", charset.group(1) if charset else ""):
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        if text and text.strip().lower() not in _UTF8:
            return body, None, 0
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = exc.start
    else:
        return body, None, 0
    text = body.decode("utf-8", "replace")
    if _BEYOND_ASCII.search(text) is None:
        return body, where, 0
    return text.encode("utf-8"), where, text.count("\ufffd")


def _describe(exc: BaseException | None) -> str:
    """Say what was wrong in words an operator can act on (expat's errors carry a position)."""
    if exc is None:
        return "malformed feed"
    if hasattr(exc, "getLineNumber"):
        try:
            return (
                f"malformed XML at line {exc.getLineNumber()}, column {exc.getColumnNumber()}: "
                f"{exc.getMessage()}"
            )
        except Exception:  # a SAX exception without a locator
            pass
    return f"{type(exc).__name__}: {exc}"


def parse_feed(
    body: bytes, *, headers: Mapping[str, str] | None = None, url: str | None = None
) -> ParsedFeed:
    """Parse feed `body` (bytes as served) into a `ParsedFeed`.

    `headers` are the HTTP response headers (their charset is a hint feedparser weighs against
    the XML declaration); `url` (or a Content-Location header) is the base for relative links.

    Raises:
        FeedError: kind ``parse`` when nothing usable came out (not a feed, or so broken that
            no entry survived).
    """
    cleaned, stripped = strip_dtd(body)
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    # feedparser resolves relative URIs against Content-Location, guids included: "item-1"
    # would become "https://host/item-1" and change whenever the feed moves, breaking item
    # identity. So feedparser gets no base; links are resolved in `normalize_entries`, against
    # Content-Location resolved against the address the body came from (it may be relative).
    base = _base_url(response_headers.pop("content-location", None), url)
    cleaned, bad_at, replaced = _repair_utf8(cleaned, response_headers.get("content-type", ""))
    if stripped and "content-type" in response_headers:
        # The body may have been re-encoded as UTF-8; a stale UTF-16 charset would mislead.
        response_headers["content-type"] = response_headers["content-type"].split(";")[0]
    # A BytesIO, never raw bytes or str: feedparser treats a string that looks like a URL or
    # a path as something to open.
    # No HTML sanitizing or URI resolving inside feedparser: every HTML field is flattened to
    # plain text by `html_to_text` (scripts and styles dropped), so those passes, two thirds of
    # feedparser's time on an HTML-heavy feed, would be thrown away.
    result = feedparser.parse(
        io.BytesIO(cleaned),
        response_headers=response_headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    channel = result.get("feed", {}) or {}
    entries = tuple(result.get("entries", ()))
    version = result.get("version", "") or ""
    problem = None
    exc = result.get("bozo_exception")
    malformed = bool(result.get("bozo")) and not isinstance(exc, _BENIGN)
    if malformed:
        problem = _describe(exc)
    if stripped:
        note = "a DOCTYPE with entity declarations was removed before parsing"
        problem = f"{problem}; {note}" if problem else note
    if bad_at is not None:
        note = f"invalid UTF-8 at byte {bad_at}; " + (
            f"{replaced} bad byte sequence(s) replaced with U+FFFD"
            if replaced
            else f"decoded as {result.get('encoding') or 'windows-1252'}"
        )
        problem = f"{problem}; {note}" if problem else note
    if not entries and (malformed or not version):
        what = problem or "the document is not RSS, Atom or RDF"
        raise feed_error(f"no usable feed: {what}", "parse")
    return ParsedFeed(
        title=str(channel.get("title", "") or ""),
        link=channel.get("link") or None,
        lang=channel.get("language") or None,
        version=version,
        entries=entries,
        channel=channel,
        base_url=base,
        degraded=(malformed or bad_at is not None) and bool(entries),
        problem=problem,
    )

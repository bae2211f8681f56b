"""OPML import and export: the feed-list format every feed reader speaks.

Import parses with the standard library's expat-based ElementTree, but refuses any document
that declares a DTD or entities before parsing (the classic entity-expansion attacks need a
declaration), so a hostile OPML file costs nothing.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

from .._files import FileTooLarge, MiB, read_limited
from ..errors import ConfigError, SourceLocation
from ._auth import redact_url, split_userinfo
from ._config import DEFAULT_INTERVAL, FeedConfig, FeedList, check_feed_url

__all__ = ["export_opml", "import_opml"]

# Reader exports of a few thousand subscriptions are well under 1 MiB.
MAX_OPML_BYTES = 16 * MiB

_log = logging.getLogger(__name__)
_SLUG_RE = re.compile(r"[^a-z0-9]+")


def export_opml(feedlist: FeedList, *, title: str = "news-monitor feeds") -> str:
    """Return `feedlist` as an OPML 2.0 document. Local (`path:`) feeds have no URL a reader
    could use, so they are listed in a comment instead."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_esc(title)}</title></head>",
        "  <body>",
    ]
    for feed in feedlist.feeds:
        if feed.url is None:
            lines.append(f"    <!-- local feed {_esc(feed.id)} ({_esc(str(feed.path))}) -->")
            continue
        attrs = {
            "type": "rss",
            "text": feed.title or feed.id,
            "title": feed.title or feed.id,
            "xmlUrl": feed.url,
        }
        if feed.tags:
            attrs["category"] = ",".join(feed.tags)
        rendered = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
        lines.append(f"    <outline {rendered}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("--", "- -")


def import_opml(source: bytes | str | Path) -> list[FeedConfig]:
    """Read the feeds out of an OPML document (bytes, or a path to a file).

    Every outline with an ``xmlUrl`` becomes a feed; enclosing outlines (folders) and the
    ``category`` attribute become tags. Ids are made from titles, unique within the result.
    Outlines whose URL is not http(s) are skipped with a warning. Credentials in a URL
    (``user:password@``) are not imported: the feed is kept without them, and a warning (which
    never repeats the password) says to give them with `auth:` in the feed list.

    Raises:
        ConfigError: the file cannot be read, is not well-formed XML, declares a DTD or
            entities, or is not OPML.
    """
    name = "<opml>"
    if isinstance(source, str | Path):
        name = str(source)
        try:
            data = read_limited(source, MAX_OPML_BYTES)
        except FileTooLarge:
            raise ConfigError(
                f"the OPML file is larger than {MAX_OPML_BYTES // MiB} MiB; "
                "check that this is the file you meant",
                source=SourceLocation(name),
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read OPML file: {exc}", source=SourceLocation(name)) from exc
    else:
        data = bytes(source)
    root = _parse_safely(data, name)
    if root.tag != "opml":
        raise ConfigError(
            f"not an OPML document (root element is <{root.tag}>)", source=SourceLocation(name)
        )
    body = root.find("body")
    if body is None:
        raise ConfigError("OPML document has no <body>", source=SourceLocation(name))
    feeds: list[FeedConfig] = []
    used: set[str] = set()
    _walk(body, (), feeds, used)
    return feeds


def _parse_safely(data: bytes, name: str) -> ET.Element:
    # A first pass with a bare expat parser whose DOCTYPE and entity handlers refuse: expat
    # calls them before any declared entity could be expanded (the C ElementTree parser does
    # not expose these hooks). Only a document that declares nothing is then built as a tree.
    def refuse(*_args: object) -> None:
        raise ConfigError(
            "OPML documents must not declare a DTD or entities; remove the <!DOCTYPE> block",
            source=SourceLocation(name),
        )

    checker = expat.ParserCreate()
    checker.StartDoctypeDeclHandler = refuse
    checker.EntityDeclHandler = refuse
    try:
        checker.Parse(data, True)
        return ET.fromstring(data)
    except (expat.ExpatError, ET.ParseError) as exc:
        line = getattr(exc, "lineno", None) or getattr(exc, "position", (None, None))[0]
        column = getattr(exc, "offset", None)
        raise ConfigError(
            f"OPML is not well-formed XML: {expat.ErrorString(exc.code)}"
            if isinstance(exc, expat.ExpatError)
            else f"OPML is not well-formed XML: {exc}",
            source=SourceLocation(name, line, None if column is None else column + 1),
        ) from exc


def _walk(
    node: ET.Element, folders: tuple[str, ...], out: list[FeedConfig], used: set[str]
) -> None:
    for outline in node.findall("outline"):
        text = outline.get("title") or outline.get("text") or ""
        url = outline.get("xmlUrl") or outline.get("xmlurl")
        if not url:
            _walk(outline, (*folders, text) if text else folders, out, used)
            continue
        url, user, _password = split_userinfo(url.strip())
        try:
            url = check_feed_url(url)
        except ValueError as exc:
            _log.warning("skipping OPML outline %r: %s", text or redact_url(url), exc)
            continue
        categories = [c.strip() for c in (outline.get("category") or "").split(",") if c.strip()]
        tags = tuple(dict.fromkeys(t.strip("/") for t in (*folders, *categories) if t.strip("/")))
        feed_id = _unique_id(text or url, used)
        if user is not None:
            _log.warning(
                "feed %s: the OPML URL carried credentials, which were not imported; give them "
                "in the feed list as `auth: {username: ..., password_env: NAME}` "
                "(or password_file)",
                feed_id,
            )
        out.append(
            FeedConfig(
                id=feed_id,
                url=url,
                interval=DEFAULT_INTERVAL,
                tags=tags,
                title=text or None,
            )
        )


def _unique_id(text: str, used: set[str]) -> str:
    base = _SLUG_RE.sub("-", text.lower().split("://")[-1]).strip("-")[:60] or "feed"
    candidate, n = base, 2
    while candidate in used:
        candidate = f"{base}-{n}"
        n += 1
    used.add(candidate)
    return candidate

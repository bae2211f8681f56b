"""Feed lists: the YAML file an operator edits, validated into frozen `FeedConfig` values.

A feed list looks like::

    defaults:            # optional; every key a feed may have except id/url/path/title
      interval: 15m
      jitter: 30s
      tags: [wire]
    feeds:
      - id: euphrates-wire
        url: https://example.org/rss.xml   # http(s) only
        interval: 10m
      - id: levant-desk
        path: samples/levant_desk.atom     # a local file, relative to this YAML file
      - id: members-desk
        url: https://members.example/rss
        auth: {username: monitor, password_env: MEMBERS_PASSWORD}
      - id: intranet
        url: http://10.1.2.3/feed.xml
        allow_networks: [10.1.2.0/24]      # internal addresses are refused unless listed

Credentials never stay in a URL: ``https://user:pw@host/`` is split at load time into a clean
URL and a `FeedAuth`, and secrets named in ``auth:`` (environment variable or file) are read
once, here. ``allow_networks`` (per feed, or in ``defaults:``) lists the non-public networks a
feed may be fetched from; see `_netguard`.

Every mistake is reported as a `ConfigError` that names the file, line and column (taken from
the YAML node marks) and says what to change; nothing is half-loaded.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import yaml

from .._durations import parse_duration
from .._files import MiB
from .._yaml_marked import Marked as _Marked
from .._yaml_marked import MarkedList as _MarkedList
from .._yaml_marked import loc as _loc
from .._yaml_marked import read_marked
from ..errors import ConfigError, SourceLocation
from ._auth import FeedAuth, origin_of, read_secret, redact_url, split_userinfo
from ._netguard import IPNetwork, parse_networks

__all__ = [
    "DEFAULT_INTERVAL",
    "FeedConfig",
    "FeedList",
    "check_feed_url",
    "feeds_to_yaml",
    "load_feeds",
    "parse_duration",
]

# A feed list of 10,000 feeds is about 1 MiB; anything far beyond is not a feed list.
MAX_FEED_LIST_BYTES = 16 * MiB

#: Seconds between polls when neither the feed nor `defaults:` says otherwise (15 minutes).
DEFAULT_INTERVAL = 900.0

_FEED_KEYS = (
    "id", "url", "path", "interval", "jitter", "tags", "enabled", "title", "auth", "allow_networks",
)  # fmt: skip
_DEFAULT_KEYS = ("interval", "jitter", "tags", "enabled", "allow_networks")
_AUTH_KEYS = ("username", "password_env", "password_file", "bearer_token_env", "bearer_token_file")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_feed_url(url: str) -> str:
    """Return `url` stripped if it is an absolute http(s) URL with a host, else raise ValueError.

    Only http(s) is fetched: ``file://`` would read the watcher's disk, ``ftp:`` and
    ``javascript:`` have no business in a feed list. Local files are configured with ``path:``.
    A URL with credentials (``user:password@``) is refused too: they would be recorded wherever
    the URL is (`load_feeds` splits them off first). Messages never repeat a password.
    """
    text = url.strip()
    shown = redact_url(text)
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ValueError(f"not a valid URL: {shown!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        hint = " (use `path:` for a local file)" if scheme == "file" else ""
        raise ValueError(
            f"only http:// and https:// feed URLs are fetched, not {scheme or 'no scheme'!r}"
            f"{hint}: {shown!r}"
        )
    if "@" in parts.netloc:
        raise ValueError(
            f"credentials do not belong in the URL: {shown!r} (give them as the feed's `auth`)"
        )
    if not parts.hostname:
        raise ValueError(f"the URL has no host name: {shown!r}")
    return text


@attrs.frozen(kw_only=True)
class FeedConfig:
    """One configured feed. Exactly one of `url` (http/https) and `path` (a local file) is set.

    `interval` and `jitter` are seconds; the watcher polls every `interval` plus a random delay
    of up to `jitter`, which spreads many feeds on one host over time.

    `url` never holds credentials (it is recorded in events and logs); `auth` holds them and is
    sent only to the URL's own origin. `allow_networks` lists the non-public networks this feed
    may be fetched from (every other internal address is refused, redirects included).
    """

    id: str
    url: str | None = attrs.field(default=None)
    path: Path | None = None
    interval: float = DEFAULT_INTERVAL
    jitter: float = 0.0
    tags: tuple[str, ...] = ()
    enabled: bool = True
    title: str | None = None
    auth: FeedAuth | None = None
    allow_networks: tuple[IPNetwork, ...] = attrs.field(default=(), converter=parse_networks)

    @url.validator
    def _no_userinfo(self, _attribute: object, value: str | None) -> None:
        if value is not None and "@" in urlsplit(value).netloc:
            raise ValueError(
                f"feed {self.id!r}: credentials do not belong in the URL {redact_url(value)!r}; "
                "pass them as `auth=FeedAuth(...)`"
            )

    @property
    def location(self) -> str:
        """The URL, or the local path as text: what events record as the feed's `url`."""
        return self.url if self.url is not None else str(self.path)


@attrs.frozen(kw_only=True)
class FeedList:
    """A loaded feed list: the feeds in file order, the file they came from, and its defaults."""

    feeds: tuple[FeedConfig, ...]
    path: Path | None = None
    defaults: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    def get(self, feed_id: str) -> FeedConfig | None:
        """Return the feed with id `feed_id`, or None."""
        return next((f for f in self.feeds if f.id == feed_id), None)

    @property
    def enabled(self) -> tuple[FeedConfig, ...]:
        """The feeds that are switched on, in file order."""
        return tuple(f for f in self.feeds if f.enabled)


def load_feeds(path: str | Path) -> FeedList:
    """Load and validate the feed list at `path`.

    Raises:
        ConfigError: the file cannot be read, is not YAML, or a feed is wrong (unknown key,
            missing id, duplicate id, both or neither of url/path, a URL that is not http(s),
            a bad interval). The error carries file:line:column and says what to fix.
    """
    path = Path(path)
    name = str(path)
    doc = read_marked(path, what="feed list", limit=MAX_FEED_LIST_BYTES)
    if not isinstance(doc, _Marked):
        raise ConfigError(
            "a feed list is a mapping with a `feeds:` list (and optional `defaults:`)",
            source=SourceLocation(name, 1, 1),
        )
    _check_keys(doc, ("defaults", "feeds"), name, "top level")
    defaults = doc.get("defaults") or _Marked()
    if not isinstance(defaults, _Marked):
        raise ConfigError("`defaults:` must be a mapping", source=_loc(name, doc.marks["defaults"]))
    if "defaults" in doc:
        _check_keys(defaults, _DEFAULT_KEYS, name, "defaults")
    raw_feeds = doc.get("feeds")
    if not isinstance(raw_feeds, _MarkedList):
        raise ConfigError(
            "`feeds:` must be a list of feeds, each with an `id` and a `url` or `path`",
            source=_loc(name, doc.marks.get("feeds", doc.mark)),
        )
    base = path.parent
    feeds: list[FeedConfig] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_feeds):
        mark = raw_feeds.marks[index]
        if not isinstance(raw, _Marked):
            raise ConfigError(
                "each feed must be a mapping with `id` and `url` or `path`", source=_loc(name, mark)
            )
        feed = _feed_from(raw, defaults, base, name)
        if feed.id in seen:
            raise ConfigError(
                f"duplicate feed id {feed.id!r} (first used on line {seen[feed.id]}); "
                "feed ids must be unique",
                source=_loc(name, raw.marks["id"]),
            )
        seen[feed.id] = raw.marks["id"].line + 1
        feeds.append(feed)
    return FeedList(feeds=tuple(feeds), path=path, defaults=dict(defaults))


def _check_keys(mapping: _Marked, allowed: tuple[str, ...], name: str, where: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = (
                f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(allowed)}"
            )
            raise ConfigError(
                f"unknown key {key!r} in {where}{hint}", source=_loc(name, mapping.mark)
            )


def _feed_from(raw: _Marked, defaults: _Marked, base: Path, name: str) -> FeedConfig:
    _check_keys(raw, _FEED_KEYS, name, "a feed")

    def where(key: str) -> SourceLocation:
        return _loc(name, raw.marks.get(key) or defaults.marks.get(key) or raw.mark)

    def value(key: str, fallback: Any = None) -> Any:
        if key in raw:
            return raw[key]
        return defaults.get(key, fallback)

    feed_id = raw.get("id")
    if feed_id is None:
        raise ConfigError("this feed has no `id`; give it a short unique name", source=where("id"))
    feed_id = str(feed_id)
    if not _ID_RE.match(feed_id):
        raise ConfigError(
            f"feed id {feed_id!r} must start with a letter or digit and use only letters, "
            "digits, '.', '_' and '-' (at most 100)",
            source=where("id"),
        )
    url, path = raw.get("url"), raw.get("path")
    if (url is None) == (path is None):
        raise ConfigError(
            f"feed {feed_id!r} needs exactly one of `url:` (http/https) or `path:` (a local file)",
            source=_loc(name, raw.mark),
        )
    local: Path | None = None
    auth: FeedAuth | None = None
    if url is not None:
        url, auth = _url_and_auth(str(url), feed_id, raw, base, name)
    else:
        if "auth" in raw:
            raise ConfigError(
                f"feed {feed_id!r} is a local file; `auth:` applies to `url:` feeds only",
                source=where("auth"),
            )
        local = Path(str(path)).expanduser()
        if not local.is_absolute():
            local = base / local
        if not local.is_file():
            raise ConfigError(f"feed file {str(local)!r} does not exist", source=where("path"))
    try:
        interval = parse_duration(value("interval", DEFAULT_INTERVAL))
    except ValueError as exc:
        raise ConfigError(f"bad `interval`: {exc}", source=where("interval")) from None
    if interval < 1:
        raise ConfigError("`interval` must be at least 1s", source=where("interval"))
    try:
        jitter = parse_duration(value("jitter", 0))
    except ValueError as exc:
        raise ConfigError(f"bad `jitter`: {exc}", source=where("jitter")) from None
    tags = value("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str | int) for t in tags):
        raise ConfigError("`tags` must be a list of words", source=where("tags"))
    enabled = value("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("`enabled` must be true or false", source=where("enabled"))
    title = raw.get("title")
    allowed = value("allow_networks", [])
    if isinstance(allowed, str):
        allowed = [allowed]
    if not isinstance(allowed, list):
        raise ConfigError(
            "`allow_networks` must be a list of networks, e.g. [127.0.0.0/8, 10.1.2.0/24]",
            source=where("allow_networks"),
        )
    try:
        networks = parse_networks(str(n) for n in allowed)
    except ValueError as exc:
        raise ConfigError(f"bad `allow_networks`: {exc}", source=where("allow_networks")) from None
    return FeedConfig(
        id=feed_id,
        url=url,
        path=local,
        interval=interval,
        jitter=jitter,
        tags=tuple(str(t) for t in tags),
        enabled=enabled,
        title=None if title is None else str(title),
        auth=auth,
        allow_networks=networks,
    )


def _url_and_auth(
    text: str, feed_id: str, raw: _Marked, base: Path, name: str
) -> tuple[str, FeedAuth | None]:
    """Check the URL, split credentials off it, and read the `auth:` mapping's secret."""
    here = _loc(name, raw.marks.get("url"))
    clean, user, password = split_userinfo(text.strip())
    try:
        clean = check_feed_url(clean)
    except ValueError as exc:
        raise ConfigError(str(exc), source=here) from None
    origin = origin_of(clean)
    if user is not None:
        if "auth" in raw:
            raise ConfigError(
                f"feed {feed_id!r} has credentials both in its URL and in `auth:`; keep `auth:` "
                "and remove `user:password@` from the URL",
                source=here,
            )
        if password is None:
            raise ConfigError(
                f"the URL of feed {feed_id!r} names a user but no password; use `auth:` with "
                "`username` and `password_env` or `password_file`",
                source=here,
            )
        return clean, FeedAuth(scheme="basic", origin=origin, username=user, secret=password)
    if "auth" not in raw:
        return clean, None
    return clean, _auth_from(raw["auth"], raw.marks["auth"], origin, feed_id, base, name)


def _auth_from(
    spec: object, mark: yaml.Mark, origin: str, feed_id: str, base: Path, name: str
) -> FeedAuth:
    """Build a `FeedAuth` from an `auth:` mapping, reading its secret once."""
    if not isinstance(spec, _Marked):
        raise ConfigError(
            "`auth:` must be a mapping, e.g. {username: monitor, password_env: WIRE_PASSWORD} "
            "or {bearer_token_env: WIRE_TOKEN}",
            source=_loc(name, mark),
        )
    _check_keys(spec, _AUTH_KEYS, name, "`auth:`")
    sources = [k for k in _AUTH_KEYS[1:] if k in spec]
    if len(sources) != 1:
        raise ConfigError(
            f"`auth:` of feed {feed_id!r} needs exactly one of password_env, password_file, "
            f"bearer_token_env, bearer_token_file (got {', '.join(sources) or 'none'})",
            source=_loc(name, spec.mark),
        )
    key = sources[0]
    bearer = key.startswith("bearer")
    username = spec.get("username")
    if bearer and username is not None:
        raise ConfigError(
            "a bearer token takes no `username`", source=_loc(name, spec.marks["username"])
        )
    if not bearer and (username is None or not str(username)):
        raise ConfigError(
            f"`auth:` of feed {feed_id!r} needs a `username` for {key}",
            source=_loc(name, spec.mark),
        )
    ref = str(spec[key])
    try:
        secret = read_secret(key, ref, base)
    except ValueError as exc:
        raise ConfigError(
            f"{exc} (the secret for feed {feed_id!r})", source=_loc(name, spec.marks[key])
        ) from None
    return FeedAuth(
        scheme="bearer" if bearer else "basic",
        origin=origin,
        username=None if bearer else str(username),
        secret=secret,
        source=(("username", str(username)), (key, ref)) if not bearer else ((key, ref),),
    )


def _duration_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def feeds_to_yaml(feeds: FeedList | list[FeedConfig] | tuple[FeedConfig, ...]) -> str:
    """Render feeds as a feed-list YAML document that `load_feeds` reads back.

    Secrets are never written: an `auth` read from an environment variable or a file is written
    as that reference; one that was inline in a URL is left out.
    """
    items = feeds.feeds if isinstance(feeds, FeedList) else tuple(feeds)
    out: list[dict[str, Any]] = []
    for feed in items:
        entry: dict[str, Any] = {"id": feed.id}
        if feed.title:
            entry["title"] = feed.title
        if feed.url is not None:
            entry["url"] = feed.url
        else:
            entry["path"] = str(feed.path)
        entry["interval"] = _duration_text(feed.interval)
        if feed.jitter:
            entry["jitter"] = _duration_text(feed.jitter)
        if feed.tags:
            entry["tags"] = list(feed.tags)
        if not feed.enabled:
            entry["enabled"] = False
        if feed.auth is not None and feed.auth.source:
            entry["auth"] = dict(feed.auth.source)
        if feed.allow_networks:
            entry["allow_networks"] = [str(n) for n in feed.allow_networks]
        out.append(entry)
    return yaml.safe_dump({"feeds": out}, sort_keys=False, allow_unicode=True, width=100)

"""Identities: the deterministic id of a news item, and the URL form it is computed from."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["canonical_url", "item_id", "normalize_url"]

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


#: Query parameters that say where a reader came from, not which article: a superset of
#: `_TRACKING_PARAMS` (which `item_id` depends on and so must never change). Matched whole,
#: case-folded; the prefixes (``utm_``, ``mc_``, ...) by the pattern below.
_CANONICAL_DROP = re.compile(
    r"^(utm_\w*|mc_\w+|ns_\w+|at_\w+|_hs\w+|pk_\w+|mtm_\w+|fbclid|gclid|gclsrc|dclid|"
    r"msclkid|yclid|twclid|igshid|mkt_tok|ocid|cmpid|cmp|smid|smtyp|sr_share|taid|"
    r"xtor|ito|ref_src|ref_url|rss|feed|amp|outputtype|_ga|_gl)$",
    re.I,
)
#: An AMP page's path: ``/amp`` as its last segment, or ``.amp`` before the extension.
_AMP_SUFFIX = re.compile(r"(?<=.)/amp$|(?<=[^/])\.amp(?=\.[a-z0-9]+$)", re.I)


def canonical_url(url: str | None) -> str | None:
    """Return the canonical address of an article, for telling that two feeds link the same
    one; None when `url` is not an absolute http(s) address (no claim is made on those).

    A separate function from `normalize_url`, on purpose: item ids are derived from that one
    and must never change, while this one may learn new tracking parameters. On top of what
    `normalize_url` does (scheme and host case, default port, fragment, sorted query, the
    trailing slash), it treats ``http`` as ``https`` and ``www.host`` as ``host``, drops
    more tracking parameters (`_CANONICAL_DROP`: utm_*, fbclid, gclid, ocid, cmpid, mc_*,
    ``at_*``, ``smid``, ``outputType=amp``, ...), and maps the simple AMP variants of a page
    to the page (a last path segment ``amp``, ``story.amp.html``, ``?amp=1``). Percent
    escapes and path case are kept: servers may tell them apart.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in ("http", "https") or not host:
        return None
    host = host.removeprefix("www.")
    if port in (80, 443):
        port = None
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    query = urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _CANONICAL_DROP.match(k)
        )
    )
    path = _AMP_SUFFIX.sub("", parts.path.rstrip("/")).rstrip("/")
    return urlunsplit(("https", netloc, path, query, ""))


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

"""Identities: the deterministic id of a news item, and the URL form it is computed from."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["item_id", "normalize_url"]

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

"""Feed credentials: kept out of URLs, logs and events, and sent only to the feed's own origin.

A URL like ``http://user:secret@host/feed`` would carry its password into every place a URL
goes: log lines, `FeedPolled`/`FeedFailed` events (which can never be removed), status output,
OPML exports, and every item link resolved against it. So the feed list's loader splits the
user information off (`split_userinfo`) and keeps it in a `FeedAuth`, next to a URL without it.
`FeedAuth` never shows its secret in ``repr``; the fetcher turns it into an ``Authorization``
header only for requests to the `origin` (scheme, host and port) it was configured for, so a
redirect to another host, or a move to a new address, never receives it.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import attrs

__all__ = ["FeedAuth", "origin_of", "read_secret", "redact_url", "split_userinfo"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """Return ``scheme://host:port`` of `url` (lower case, default port filled in)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS.get(scheme, 0)}"


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """Split ``user:password@`` off `url`: (the URL without it, user, password), decoded.

    A URL without user information comes back unchanged with (None, None).
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, unquote(user), unquote(password) if colon else None


def redact_url(url: str) -> str:
    """Return `url` with any user information replaced by ``***@``, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("@", 1)[-1] if "@" in url else url
    if "@" not in parts.netloc:
        return url
    hostport = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"***@{hostport}", parts.path, parts.query, parts.fragment))


def read_secret(key: str, ref: str, base: Path) -> str:
    """Read a secret named by a feed list: `key` ends in ``_env`` (an environment variable) or
    ``_file`` (a file, relative to `base`; one trailing newline is dropped).

    Raises:
        ValueError: the variable is not set or empty, or the file cannot be read or is empty.
            The message names the variable or file, never the secret.
    """
    if key.endswith("_env"):
        secret = os.environ.get(ref)
        if not secret:
            raise ValueError(
                f"environment variable {ref!r} is not set or is empty; set it before starting, "
                "or name a file with a *_file key"
            )
        return secret
    file = Path(ref).expanduser()
    if not file.is_absolute():
        file = base / file
    try:
        secret = file.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
    except FileNotFoundError:
        raise ValueError(f"secret file {str(file)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ValueError(f"cannot read secret file {str(file)!r}: {reason}") from None
    if not secret:
        raise ValueError(f"secret file {str(file)!r} is empty")
    return secret


@attrs.frozen(kw_only=True)
class FeedAuth:
    """Credentials for one feed: HTTP Basic (`username` + `secret`) or a Bearer token (`secret`).

    Attributes:
        scheme: ``"basic"`` or ``"bearer"``.
        origin: ``scheme://host:port`` the credentials belong to (see `origin_of`); they are
            sent to no other origin.
        username: the Basic user name (None for Bearer).
        secret: the password or token; never shown by ``repr`` or ``str``.
        source: where the secret came from, without the secret, e.g. ``{"password_env":
            "WIRE_PASSWORD"}``, so a feed list can be written back without it (empty when the
            secret was inline in the URL).
    """

    scheme: Literal["basic", "bearer"]
    origin: str
    username: str | None = None
    secret: str = attrs.field(repr=False)
    source: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        who = f", username={self.username!r}" if self.username is not None else ""
        return f"FeedAuth({self.scheme}, origin={self.origin!r}{who}, secret=***)"

    __str__ = __repr__

    def applies_to(self, url: str) -> bool:
        """True if a request to `url` may carry these credentials (same scheme, host, port)."""
        return origin_of(url) == self.origin

    def header(self) -> str:
        """The ``Authorization`` header value."""
        if self.scheme == "bearer":
            return f"Bearer {self.secret}"
        token = f"{self.username or ''}:{self.secret}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")

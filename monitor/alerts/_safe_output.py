"""What may reach an output that something else renders: a browser, Slack, a mail client.

Item URLs and texts come from feeds, so from whoever runs the feed. A link is kept only when it
is an absolute http(s) URL: ``javascript:``, ``data:``, ``vbscript:``, ``file:`` and relative
links are dropped, whatever their spelling (browsers ignore leading blanks and tabs or
newlines inside a scheme, so ``" java\\tscript:"`` is still JavaScript; `urlsplit` removes the
same characters before it reads the scheme). Slack's mrkdwn turns ``<...>`` into links and
mentions, so texts going there have ``&``, ``<`` and ``>`` escaped as Slack documents.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["REPORT_CSP", "safe_link", "slack_escape"]

# The HTML report has no script, no external file and no form: forbid them all, so even a
# markup injection that slipped past escaping could run nothing and send nothing anywhere.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

_SAFE_SCHEMES = frozenset({"http", "https"})


def safe_link(url: str | None) -> str | None:
    """`url` when it is an absolute http or https URL with a host, else None."""
    if not url:
        return None
    # Browsers strip leading C0 controls and spaces before reading the scheme.
    candidate = url.lstrip("".join(chr(c) for c in range(0x21)))
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in _SAFE_SCHEMES or not parts.hostname:
        return None
    return candidate


def slack_escape(text: str) -> str:
    """Escape `text` for Slack mrkdwn: ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;``, ``&gt;``,
    so a feed cannot write a link (``<javascript:...|here>``) or a mention (``<!channel>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

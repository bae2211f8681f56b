"""What keeps the console safe to open on feed content: headers, text, links and the token.

* Every response carries a strict Content-Security-Policy: scripts and styles only from the
  console itself (files, never inline), nothing from elsewhere, no framing, forms posting only
  back here. A markup injection that slipped past escaping could still run nothing.
* Feed text may carry bidirectional override and isolate controls (U+202A-U+202E,
  U+2066-U+2069): left alone, an Arabic headline could reorder the words shown around it, or a
  title could pretend to be something else. `neutralise` removes them; the templates then
  isolate each piece of feed text (``dir="auto"``, ``<bdi>``) so right-to-left text shows as
  written without disturbing the page.
* Only absolute http(s) links survive (`monitor.alerts.safe_link`).
* Actions need the configured token, compared in constant time, sent in a header or a form
  field of a POST, never in a URL (so it is not kept in history or logs, and a link cannot
  trigger an action) and never in a cookie (so another site cannot make the browser send it).
"""

from __future__ import annotations

import hmac
import re

from markupsafe import Markup

__all__ = [
    "CSP",
    "SECURITY_HEADERS",
    "TOKEN_FIELD",
    "TOKEN_HEADER",
    "clean_text",
    "neutralise",
    "token_matches",
]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

#: Sent with every response.
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: Where an action's token may be sent.
TOKEN_HEADER = "X-Console-Token"
TOKEN_FIELD = "token"

# Embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069). The marks U+200E/U+200F
# are kept: they only nudge neutral characters and cannot reorder the text around them.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
# Every printed value passes here and almost none holds a control: a regex search (one C loop)
# tells, and only then is the text rewritten.
_ANY_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")


def neutralise(value: object) -> object:
    """`value` without bidi embedding, override and isolate controls when it is text (markup
    stays markup); anything else as it is. Applied to every value a template prints."""
    if not isinstance(value, str) or _ANY_CONTROL.search(value) is None:
        return value
    if isinstance(value, Markup):
        return Markup(str(value).translate(_BIDI_CONTROLS))
    return value.translate(_BIDI_CONTROLS)


def clean_text(text: str) -> str:
    """`text` without bidi controls (for values that do not go through a template)."""
    return text.translate(_BIDI_CONTROLS)


def token_matches(expected: str | None, given: str | None) -> bool:
    """Whether `given` is the configured token; always False when none is configured (the
    console is then read-only). Constant time, so the token cannot be guessed byte by byte."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())

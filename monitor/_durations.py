"""One grammar for every duration a user writes: feed lists, rule files, the command line.

A duration is a number of seconds (``90``, ``2.5``) or one or more parts, each a number and a
unit, largest first or not, with optional spaces between them:

    ``500ms``  ``90s``  ``15m``  ``1.5h``  ``7d``  ``2w``  ``1h30m``  ``1d 12h``

Units are ``ms``, ``s``, ``m``, ``h``, ``d`` and ``w`` (any case; ``m`` is minutes). Negative
durations are refused. This is the union of what the feed lists (``ms``/``s``/``m``/``h``/``d``)
and the rule files (``s``/``m``/``h``/``d``/``w``) accepted before they shared this module, so
every value that loaded then loads now. Callers that need a bound (at least 1s, whole seconds)
apply it themselves.
"""

from __future__ import annotations

import re

__all__ = ["DURATION_FORMS", "parse_duration"]

#: The accepted forms, for error messages and help texts.
DURATION_FORMS = "90s, 15m, 1.5h, 7d, 2w or 1h30m (a bare number is seconds)"

_PART = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_BARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def _expected(value: object) -> ValueError:
    return ValueError(f"expected a duration like {DURATION_FORMS}, got {value!r}")


def parse_duration(value: object, *, unit_required: bool = False) -> float:
    """Return `value` in seconds: a number, or text in the grammar of the module docstring.

    Args:
        value: a number of seconds (int or float, not bool) or text.
        unit_required: refuse bare numbers (where a number would mean something else, such
            as a year in ``--since``).

    Raises:
        ValueError: with a message that shows the accepted forms.
    """
    if isinstance(value, bool):
        raise _expected(value)
    if isinstance(value, int | float):
        if unit_required:
            raise _expected(value)
        seconds = float(value)
        if seconds < 0:
            raise ValueError(f"a duration cannot be negative: {value!r}")
        return seconds
    if not isinstance(value, str):
        raise _expected(value)
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"a duration cannot be negative: {value!r}")
    bare = _BARE.match(text)
    if bare is not None:
        if unit_required:
            raise _expected(value)
        return float(bare.group(1))
    seconds = 0.0
    position = 0
    while position < len(text):
        part = _PART.match(text, position)
        if part is None:
            raise _expected(value)
        seconds += float(part.group(1)) * _UNITS[part.group(2).lower()]
        position = part.end()
        while position < len(text) and text[position].isspace():
            position += 1
    if position == 0:
        raise _expected(value)
    return seconds

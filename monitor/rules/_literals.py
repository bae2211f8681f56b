"""The literal a regular expression cannot match without: what lets regexes be presearched.

``convoy\\s+\\d+`` only matches text that contains ``convoy``. The compiler adds such a literal
to the term scanner, so a regex rule becomes a candidate (and a regex is searched in a field)
only when its literal occurs there, instead of being run on every item.

Written by hand because nothing available hands out the literal. google-re2 wraps RE2's own
prefilter (``re2.Filter``, FilteredRE2) only as a whole matcher: it runs a scan of its own
over the text and says which regexes might match, but not which literals ("atoms") it needs,
so using it would cost one more pass over every field instead of riding on the scan the
terms already get. Python's ``re`` parser reads some RE2 syntax differently (``[[:alpha:]]``,
``\\pN``, ``\\Q...\\E``), so a literal taken from its parse tree could be wrong, and a wrong
literal would silently hide matches. This scanner is deliberately conservative: it only
takes ASCII letters and digits outside any group, class or alternation, and gives up
(returns None, "no literal") on any syntax it does not fully know.
None is always safe; it only means the regex is not presearched.
"""

from __future__ import annotations

__all__ = ["MIN_LITERAL", "required_literal"]

#: Shorter literals occur in nearly every text: presearching on them would only add work.
MIN_LITERAL = 3

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_QUANTIFIERS = frozenset("*+?{")
#: Escapes whose length this scanner does not track (hex, Unicode classes, quoted text,
#: octal, any byte): seeing one, it gives up.
_UNSAFE_ESCAPES = frozenset("xpPQEC01234567")


def _skip_class(pattern: str, i: int) -> int | None:
    """Index just after the character class opening at `i`, or None if it never closes."""
    i += 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a leading "]" is a literal member
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
        elif pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            if end < 0:
                return None
            i = end + 2
        elif ch == "]":
            return i + 1
        else:
            i += 1
    return None


def _skip_group(pattern: str, i: int) -> int | None:
    """Index just after the group opening at `i` (nested groups and classes), or None."""
    depth = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if pattern[i + 1 : i + 2] in _UNSAFE_ESCAPES:
                return None
            i += 2
            continue
        if ch == "[":
            end = _skip_class(pattern, i)
            if end is None:
                return None
            i = end
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def required_literal(pattern: str) -> str | None:
    """The longest run of ASCII letters and digits every match of `pattern` contains,
    lower-cased; None when there is none of at least `MIN_LITERAL` characters, or when
    the pattern uses syntax this scanner does not follow (see the module docstring).

    The caller compares it with case-folded text, so it holds with or without ``(?i)``.
    """
    runs: list[str] = []
    run: list[str] = []

    def close(quantified: bool) -> None:
        if quantified and run:
            run.pop()  # "convoys?": the "s" may be absent
        if run:
            runs.append("".join(run))
        run.clear()

    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch in _ALNUM:
            run.append(ch)
            i += 1
            continue
        close(quantified=ch in _QUANTIFIERS)
        if ch == "|":
            return None  # a top-level alternative need not contain any of the runs
        if ch == "\\":
            if pattern[i + 1 : i + 2] in _UNSAFE_ESCAPES or i + 1 >= len(pattern):
                return None
            i += 2
        elif ch == "[":
            end = _skip_class(pattern, i)
            if end is None:
                return None
            i = end
        elif ch == "(":
            end = _skip_group(pattern, i)
            if end is None:
                return None
            i = end
        elif ch == "{":
            end = pattern.find("}", i)
            if end < 0:
                return None
            i = end + 1
        else:
            i += 1
    close(quantified=False)
    best = max(runs, key=len, default="")
    return best.lower() if len(best) >= MIN_LITERAL else None

"""Text normalization: the one definition both rule terms and item text go through.

Normalization is defined per character: each character ``c`` becomes ``fold(c)``: Unicode NFKC,
case-folded, Arabic letter variants folded (alef forms, alef maqsura, teh marbuta, hamza
seats, Persian look-alikes, Arabic-Indic digits: see `_arabic.LETTER_FOLDS`), decomposed with
every combining mark (diacritics, Arabic harakat) and the Arabic tatweel dropped, invisible
format characters (RLM, ZWJ, soft hyphen) dropped; anything else that is not a letter, a digit
or a spacing mark becomes a space. So every dash, quote, apostrophe and punctuation variant
(Arabic ، ؛ ؟ included) separates words the same way, and ``al-Tanf`` = ``Al Tanf`` =
``AL‑TANF`` = ``al Tanf``, ``أمريكية`` = ``امريكيه``. The text is then split into words.

Because the definition is per character, the fast path (one ``str.translate``, one split) and
the slow path that maps words back to character offsets in the original text always agree;
the offsets are only built when evidence is needed (`NormText.span`).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from itertools import accumulate, islice, repeat
from operator import sub

from ._arabic import LETTER_FOLDS

__all__ = ["NormText", "fold_char", "normalize", "normalize_tokens", "sentence_breaks"]

_TATWEEL = "\u0640"
_ZERO_WIDTH_SPACE = "\u200b"  # a format character that does separate words


def _fold_once(text: str, casefold: bool) -> str:
    out = unicodedata.normalize("NFKC", text)
    if casefold:
        out = out.casefold()
    out = "".join(LETTER_FOLDS.get(ch, ch) for ch in out)
    parts: list[str] = []
    for ch in unicodedata.normalize("NFD", out):
        cat = unicodedata.category(ch)
        if cat in ("Mn", "Me") or ch == _TATWEEL:
            continue
        if cat == "Cf" and ch != _ZERO_WIDTH_SPACE:
            continue  # RLM, ZWJ, ZWNJ, soft hyphen, BOM: invisible, never split a word
        parts.append(ch if cat[0] in "LN" or cat == "Mc" else " ")
    return "".join(parts)


def fold_char(ch: str, casefold: bool = True) -> str:
    """Return the normalized form of one character (a fixpoint: folding it again changes
    nothing). May be empty (a dropped mark), a space (a separator) or several characters."""
    out = _fold_once(ch, casefold)
    for _ in range(4):
        again = "".join(_fold_once(c, casefold) for c in out)
        if again == out:
            break
        out = again
    return out


class _FoldTable(dict):  # type: ignore[type-arg]
    """``str.translate`` table filled on first use of each character (bounded by Unicode)."""

    def __init__(self, casefold: bool) -> None:
        super().__init__()
        self.casefold = casefold

    def __missing__(self, key: int) -> str:
        value = fold_char(chr(key), self.casefold)
        self[key] = value
        return value


_FOLD = _FoldTable(casefold=True)
_FOLD_CASED = _FoldTable(casefold=False)
# ASCII fast path: one bytes.translate lower-cases and turns every non-alphanumeric into space.
_ASCII = bytes(
    c + 32 if 65 <= c <= 90 else (c if chr(c).isalnum() else 32) for c in range(128)
) + bytes(range(128, 256))
_ASCII_CASED = bytes(c if chr(c).isalnum() else 32 for c in range(128)) + bytes(range(128, 256))


def _folded(text: str, cased: bool = False) -> str:
    """Return `text` with every character folded (same length only for ASCII input)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_CASED if cased else _ASCII).decode("ascii")
    return text.translate(_FOLD_CASED if cased else _FOLD)


def normalize_tokens(text: str, cased: bool = False) -> list[str]:
    """Return the normalized words of `text` (``cased`` keeps letter case)."""
    return _folded(text, cased).split()


def normalize(text: str) -> str:
    """Return `text` normalized: folded words joined by single spaces. Idempotent."""
    return " ".join(_folded(text).split())


_NONSPACE = re.compile(r"[^ ]+")
_SPACE_RUNS = re.compile(r"  +")
_SPAN = re.Match.span
_SENTENCE_END = re.compile(r"[.!?؟۔]+[\"'”’»)\]]*\s+|\n\s*\n")
_ABBREV = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "gen",
        "maj",
        "col",
        "lt",
        "capt",
        "sgt",
        "st",
        "no",
        "vs",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "adm",
        "brig",
        "cmdr",
        "gov",
        "sen",
        "rep",
        "fig",
        "approx",
    }
)


def sentence_breaks(text: str) -> list[int]:
    """Return the character offsets in `text` where a new sentence starts.

    A sentence ends at ``.``, ``!``, ``?``, the Arabic ``؟`` or the Urdu ``۔`` (and closing
    quotes) followed by white space, or at a blank line (the Arabic comma ``،`` and semicolon
    ``؛`` do not end one); a period after a known abbreviation ("Gen.") or a single letter
    ("U.S.") does not end one. Good enough for "these words are in one sentence", not a
    linguistic parser.
    """
    breaks = []
    for m in _SENTENCE_END.finditer(text):
        if m.group().startswith("."):
            word_start = m.start()
            while word_start > 0 and (
                text[word_start - 1].isalpha() or text[word_start - 1] == "."
            ):
                word_start -= 1
            word = text[word_start : m.start()].rstrip(".").lower()
            if word in _ABBREV or (len(word.replace(".", "")) <= 1 and word):
                continue
            nxt = text[m.end() : m.end() + 1]
            if nxt and nxt.islower():
                continue
        breaks.append(m.end())
    return breaks


def _joined(folded: str) -> str:
    """``folded`` with every run of spaces made one, padded with a space at each end.

    Folding turns every separator into a plain space, so collapsing runs with
    ``str.replace`` (C speed, a pass or two for real text) gives the same string as
    ``" ".join(folded.split())`` without creating an object per word.
    """
    while "  " in folded:
        folded = folded.replace("  ", " ")
    if not folded.startswith(" "):
        folded = " " + folded
    if not folded.endswith(" "):
        folded += " "
    return folded


class NormText:
    """One field of one item, normalized once.

    ``scan_text`` is the folded text padded with a space at each end: the words separated by
    one or more spaces, the string the scanners search (a term ``t`` found as ``" t "`` is on
    word boundaries; a phrase's words may be one or more spaces apart). It costs one
    ``translate``; for ASCII text every character stays in place, so an offset in it is an
    offset in the original plus one.

    ``joined`` is the same words separated by exactly one space, padded: what word positions
    are counted in. Collapsing the runs of spaces costs more than folding, and most items
    never need a position, so it is built on first use, like ``words``, character offsets in
    the original text and sentence numbers.
    """

    __slots__ = (
        "_gaps",
        "_joined",
        "_lookups",
        "_offsets",
        "_partial",
        "_sentences",
        "_span_iter",
        "_spans",
        "_starts",
        "_words",
        "folded",
        "original",
        "scan_text",
    )

    def __init__(self, original: str) -> None:
        self.original = original
        self.folded: str = _folded(original)
        self.scan_text: str = " " + self.folded + " "
        self._joined: str | None = None
        self._words: list[str] | None = None
        self._spans: list[tuple[int, int]] | None = None
        self._sentences: list[int] | None = None
        self._starts: list[int] | None = None
        self._offsets: dict[int, int] = {}
        self._gaps: tuple[list[int], list[int], int] | None = None
        self._lookups = 0
        self._span_iter: Iterator[tuple[int, int]] | None = None
        self._partial: list[tuple[int, int]] = []

    @property
    def joined(self) -> str:
        """The normalized words joined by single spaces, with a space at each end."""
        if self._joined is None:
            self._joined = _joined(self.folded)
        return self._joined

    @property
    def words(self) -> list[str]:
        """The normalized words, in order."""
        if self._words is None:
            self._words = self.folded.split()
        return self._words

    def word_at(self, joined_pos: int) -> int:
        """Return the index of the word starting at `joined_pos` in ``" w0 w1 ... "``.

        The first few lookups count the spaces before `joined_pos` (one C-speed pass each);
        after that a table of word starts is built once and searched by bisection.
        """
        if self._starts is None:
            if self._lookups < 8:
                self._lookups += 1
                index = self.joined.count(" ", 0, joined_pos) - 1
                self._offsets[index] = joined_pos
                return index
            self._starts = list(accumulate((len(w) + 1 for w in self.words), initial=1))
        return bisect_right(self._starts, joined_pos) - 1

    def spans(self) -> list[tuple[int, int]]:
        """Return, per word, its ``(start, end)`` character offsets in the original text."""
        if self._spans is None:
            text = self.original
            if text.isascii():
                # Folding ASCII keeps every character in place: spans are the non-space runs.
                self._spans = list(map(_SPAN, _NONSPACE.finditer(self.folded)))
            else:
                origins: list[int] = []
                pieces: list[str] = []
                for i, ch in enumerate(text):
                    out = _FOLD[ord(ch)]
                    pieces.append(out)
                    origins.extend([i] * len(out))
                folded = "".join(pieces)
                self._spans = [
                    (origins[start], origins[end - 1] + 1)
                    for start, end in map(_SPAN, _NONSPACE.finditer(folded))
                ]
        return self._spans

    def _joined_offset(self, word: int) -> int | None:
        """Where word `word` starts in ``joined``, if already known (no new work)."""
        if self._starts is not None:
            return self._starts[word] if word < len(self._starts) else None
        return self._offsets.get(word)

    def _to_original(self, joined_pos: int) -> int:
        """Map an offset in ``joined`` (a word's first character, or the space after a word)
        to the original text, for ASCII text (where folding keeps every character in place).

        ``joined`` differs from the folded text only by the runs of spaces it collapsed (and
        one padding space), so it is enough to know where those runs are: a handful per text.
        """
        if self._gaps is None:
            folded = self.folded
            lead = len(folded) - len(folded.lstrip(" "))
            first_delta = lead - 1 if lead else -1
            bounds: list[int] = []
            deltas: list[int] = []
            runs = list(map(_SPAN, _SPACE_RUNS.finditer(folded, lead)))
            if runs:
                # Run i (start s, end e) removes e - s - 1 spaces; in joined it sits at s
                # minus what the runs before it removed. Built with C-level iterators.
                starts, ends = zip(*runs, strict=True)
                removed = map(sub, map(sub, ends, starts), repeat(1))
                totals = list(accumulate(removed, initial=first_delta))
                bounds = list(map(sub, starts, totals))
                deltas = totals[1:]
            self._gaps = bounds, deltas, first_delta
        bounds, deltas, first_delta = self._gaps
        index = bisect_left(bounds, joined_pos)
        return joined_pos + (deltas[index - 1] if index else first_delta)

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Return the original character span covering words `first` .. `last` (inclusive).

        For ASCII text whose word `first` was located by `word_at` (the usual way evidence is
        built) this costs a few ``str.find``; otherwise, for ASCII, only the words up to `last`
        are located; other text gets the whole field's map (`spans`).
        """
        if self._spans is None and self.original.isascii():
            start = self._joined_offset(first)
            if start is not None:
                joined = self.joined
                end = joined.find(" ", start)
                for _ in range(last - first):
                    end = joined.find(" ", end + 1)
                return self._to_original(start), self._to_original(end)
            if self._span_iter is None:
                self._span_iter = map(_SPAN, _NONSPACE.finditer(self.folded))
                self._partial = []
            partial = self._partial
            if len(partial) <= last:
                partial.extend(islice(self._span_iter, last + 1 - len(partial)))
            return partial[first][0], partial[last][1]
        spans = self.spans()
        return spans[first][0], spans[last][1]

    def sentence_of(self, token: int) -> int:
        """Return the number of the sentence word `token` belongs to."""
        if self._sentences is None:
            breaks = sentence_breaks(self.original)
            self._sentences = [bisect_right(breaks, start) for start, _ in self.spans()]
        return self._sentences[token]

    def cased_words(self, first: int, last: int) -> list[str]:
        """Return words `first` .. `last` as written (folded but not case-folded)."""
        start, end = self.span(first, last)
        return normalize_tokens(self.original[start:end], cased=True)

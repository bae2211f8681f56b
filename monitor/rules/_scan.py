"""Find every rule term in an item's text in one pass: the scanners.

A scanner holds every term of every rule and lexicon under its term id. Its ``scan(nt)``
searches one normalized field (`NormText`: ``scan_text`` is the folded text padded with
spaces, ``joined`` the same words ``" w0 w1 ... "`` with single spaces, built on demand) and
returns ``{term id: positions or None}``. A term's key is its words padded with spaces
(``" al tanf "``; a prefix ``deploy*`` is ``" deploy"``), so every hit falls on word
boundaries and a phrase costs no more than a word. Positions are word indexes
(``word_positions = True``) or offsets in ``joined`` that `NormText.word_at` converts; None
means "present, positions not computed": `positions(nt, tid)` finds them when a condition
(near, min, cased) or the evidence needs them, which is rare.

- `RE2SetScanner` (the default): all keys in one RE2 ``Set``, searched by RE2's lazily
  built DFA over ``scan_text`` (a phrase's words may be several spaces apart there, so
  the set holds ``" al +tanf "``: collapsing the spaces first cost more than the search);
  it reports which keys occur, and positions come later from ``str.find`` in ``joined``.
- `AhoScanner`: one pyahocorasick automaton; reports every occurrence with its position.
- `TokenScanner`: one dict probe per word (``map(dict.get, words)``), phrases keyed by their
  first two words, one-word prefixes and regex literals in a small automaton.

Why three: the benchmark (benchmarks/README-rules.md) measures them side by side, and the
winner depends on the machine and the rule count. On ours the RE2 set was the fastest at every
size: its DFA takes one table step per byte, where the Aho-Corasick trie walks nodes that, with
10,000 rules, mostly miss the CPU cache; the dict pays a hash and a probe per word. All three
are property-tested to give identical matches. (The Rust ``ahocorasick-rs`` package was tried
too: about 25% faster than pyahocorasick per scan, slower than the RE2 set; not adopted.)

RE2's set search has one failure mode: when its DFA cannot get memory it reports no match.
When its state cache fills, RE2 empties it and goes on (for a set search it never gives up
for slowness); it fails only if the budget cannot hold the states one step needs. ``max_mem``
is 1 GiB, a budget, not an allocation: with 10,000 rules the DFA had grown by about 8 MB after
2,000 items.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import compress
from typing import Any

import ahocorasick
import re2

from ._model import Term
from ._normalize import NormText

__all__ = [
    "SCANNERS",
    "AhoScanner",
    "Hits",
    "RE2SetScanner",
    "TokenScanner",
    "spaced_pattern",
    "term_key",
    "term_keys",
]

Hits = dict[int, list[int] | None]


def term_key(term: Term) -> str:
    """What the scanners search for a term, and its identity (equal keys share a term id).

    A phrase is its words space-padded (no trailing space: a prefix), so it is found on word
    boundaries only. A ``literal`` (the text a regex cannot match without, see `_literals`)
    is found anywhere, even inside a word; it only tells whether its regex can match.
    """
    if term.kind == "literal":
        return term.text
    return " " + " ".join(term.tokens) + ("" if term.prefix else " ")


def term_keys(terms: Iterable[tuple[int, Term]]) -> dict[int, str]:
    """The key of each term id (see `term_key`)."""
    return {tid: term_key(t) for tid, t in terms}


class _EagerPositions:
    """Scanners whose hits already carry every position."""

    def positions(self, nt: NormText, tid: int) -> list[int]:
        """Never needed: `scan` reports positions itself."""
        raise AssertionError("eager scanners report positions in scan()")


class TokenScanner(_EagerPositions):
    """Word-level term index (see the module docstring)."""

    word_positions = True

    def __init__(self, terms: Iterable[tuple[int, Term]]) -> None:
        # Phrases are keyed by their first two words, so a common first word ("al", "us")
        # costs one extra dict probe per occurrence, not a walk over every phrase it starts.
        # first word -> [tid of the one-word term or -1,
        #                {second word: [(words after the second, last is prefix, tid)]},
        #                [(prefix of the second word, tid)]  (two-word phrases "troop mov*")]
        entries: dict[str, list[Any]] = {}
        prefixes: list[tuple[str, int]] = []
        # Regex literals may sit inside a word: they join the prefixes' automaton, marked
        # by a length of 0 (only their presence matters).
        literals: list[tuple[str, int]] = []
        for tid, term in terms:
            if term.kind == "literal":
                literals.append((term.text, tid))
                continue
            tokens = term.tokens
            if len(tokens) == 1 and term.prefix:
                prefixes.append((tokens[0], tid))
                continue
            entry = entries.setdefault(tokens[0], [-1, {}, []])
            if len(tokens) == 1:
                entry[0] = tid
            elif len(tokens) == 2 and term.prefix:
                entry[2].append((tokens[1], tid))
            else:
                entry[1].setdefault(tokens[1], []).append((tokens[2:], term.prefix, tid))
        self._entries = [
            (single, {k: tuple(v) for k, v in seconds.items()}, tuple(stems))
            for single, seconds, stems in entries.values()
        ]
        # Index + 1, so that every value is truthy for itertools.compress.
        self._first = {w: i + 1 for i, w in enumerate(entries)}
        # One-word prefixes and regex literals: a small automaton of " stem" and literal keys
        # over the joined words (probing every prefix length of every word would cost more
        # than one pass over the text).
        self._prefix: Any = None
        if prefixes or literals:
            self._prefix = ahocorasick.Automaton()
            for stem, tid in prefixes:
                self._prefix.add_word(" " + stem, (tid, len(stem) + 1))
            for literal, tid in literals:
                self._prefix.add_word(literal, (tid, 0))
            self._prefix.make_automaton()

    def scan(self, nt: NormText) -> Hits:
        """Return ``{term id: [word index, ...]}`` for every term found in ``nt.words``."""
        words = nt.words
        found: Hits = {}
        values = list(map(self._first.get, words))
        entries = self._entries
        count = len(words)
        last = count - 1
        for i in compress(range(count), values):
            single, seconds, stems = entries[values[i] - 1]  # type: ignore[operator]
            if single >= 0:
                found.setdefault(single, []).append(i)
            if i == last:
                continue
            nxt = words[i + 1]
            for stem, tid in stems:
                if nxt.startswith(stem):
                    found.setdefault(tid, []).append(i)
            tails = seconds.get(nxt) if seconds else None
            if tails is None:
                continue
            for rest, prefix, tid in tails:
                end = i + 2 + len(rest)
                if end > count:
                    continue
                if not rest:
                    found.setdefault(tid, []).append(i)
                elif prefix:
                    if tuple(words[i + 2 : end - 1]) == rest[:-1] and words[end - 1].startswith(
                        rest[-1]
                    ):
                        found.setdefault(tid, []).append(i)
                elif tuple(words[i + 2 : end]) == rest:
                    found.setdefault(tid, []).append(i)
        if self._prefix is not None and words:
            joined = nt.joined
            spaces = joined.count
            for end, (tid, length) in self._prefix.iter(joined):
                if length:
                    found.setdefault(tid, []).append(spaces(" ", 0, end - length + 1))
                else:
                    found.setdefault(tid, [])
            for starts in found.values():
                starts.sort()
        return found


class AhoScanner(_EagerPositions):
    """One Aho-Corasick automaton over the space-joined words (see the module docstring)."""

    word_positions = False

    def __init__(self, terms: Iterable[tuple[int, Term]]) -> None:
        automaton: Any = ahocorasick.Automaton()
        for tid, term in terms:
            key = term_key(term)
            automaton.add_word(key, (tid, len(key)))
        if len(automaton):
            automaton.make_automaton()
            self._automaton = automaton
        else:
            self._automaton = None

    def scan(self, nt: NormText) -> Hits:
        """Return ``{term id: [offset in " w0 w1 ... ", ...]}`` for every term in `nt`."""
        found: Hits = {}
        if self._automaton is None or len(nt.joined) < 2:
            return found
        for end, (tid, length) in self._automaton.iter(nt.joined):
            starts = found.get(tid)
            if starts is None:
                found[tid] = [end - length + 2]
            else:
                starts.append(end - length + 2)
        return found


class RE2SetScanner:
    """Every term key in one RE2 ``Set`` (a lazily built DFA); positions found on demand.

    RE2's set search only says *which* keys occur, which is all the presearcher and most
    conditions need; where they occur is looked up with ``str.find`` for the few terms a
    condition (near, min, cased) or the evidence asks about.
    """

    word_positions = False

    def __init__(self, terms: Iterable[tuple[int, Term]]) -> None:
        terms = list(terms)
        self._keys = term_keys(terms)
        self._tids: list[int] = []
        self._set: Any = None
        if self._keys:
            options = re2.Options()
            options.log_errors = False
            # The DFA grows lazily with the states a text visits, bounded by the number of
            # states of the equivalent Aho-Corasick automaton (literal keys); give it room so
            # that it never runs out of memory, which RE2 would report as "no match".
            options.max_mem = _RE2_MAX_MEM
            options.never_capture = True
            self._set = re2.Set.SearchSet(options)
            for tid, term in terms:
                self._set.Add(spaced_pattern(term))
                self._tids.append(tid)
            self._set.Compile()

    def scan(self, nt: NormText) -> Hits:
        """Return ``{term id: None}`` for every term in `nt` (positions via `positions`)."""
        if self._set is None:
            return {}
        found = self._set.Match(nt.scan_text)
        if not found:
            return {}
        tids = self._tids
        return dict.fromkeys([tids[i] for i in found])

    def positions(self, nt: NormText, tid: int) -> list[int]:
        """Offsets (in ``nt.joined``) of the words where term `tid` starts."""
        key = self._keys[tid]
        joined = nt.joined
        found = []
        pos = joined.find(key)
        while pos >= 0:
            found.append(pos + 1)
            pos = joined.find(key, pos + 1)
        return found


_RE2_MAX_MEM = 1 << 30


def spaced_pattern(term: Term, end: str = " ") -> str:
    """The regex of a term's key for ``NormText.scan_text``, where words may be separated by
    several spaces (a phrase's words by one or more); valid for RE2 and Python's ``re``.

    `end` follows a whole-word term: a space by default; a caller that must not consume it
    (the space may lead the next occurrence) passes a lookahead, which only ``re`` supports.
    """
    if term.kind == "literal":
        return re.escape(term.text)
    words = " +".join(re.escape(token) for token in term.tokens)
    return " " + words + ("" if term.prefix else end)


SCANNERS: dict[str, type[TokenScanner] | type[AhoScanner] | type[RE2SetScanner]] = {
    "aho": AhoScanner,
    "re2set": RE2SetScanner,
    "token": TokenScanner,
}

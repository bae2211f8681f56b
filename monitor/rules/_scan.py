"""Find every rule term in an item's words in one pass: the scanners.

Both scanners take the normalized words of one field and return ``{term id: [position of
each occurrence]}``; a position is a word index (`TokenScanner`) or the offset of the word in
``" w0 w1 ... "`` (`AhoScanner`, ``word_positions = False``: converting every hit to a word
index would cost a pass over the text per hit, and most hits only feed the presearcher, so
`NormText.word_at` converts lazily, for the few hits a condition or the evidence looks at).
They differ in how they search:

- `AhoScanner` (the default): every term is a key ``" t "`` (a prefix ``t*``: ``" t"``) of
  one pyahocorasick automaton, run once over ``" w1 w2 ... "``; the space padding makes every
  hit fall on word boundaries, and phrases cost no more than words.
- `TokenScanner`: terms are looked up per *word*, not per character. Single words and the
  first word of each phrase live in one dict, probed for all words at C speed
  (``map(dict.get, words)``); phrases are checked only where their first word occurs; prefix
  terms (``deploy*``) go to a small automaton of their own.

Why two: the automaton touches a trie node per *character*, and with 10,000 rules its few
hundred thousand nodes no longer fit the CPU cache; the dict probes once per *word*. The
benchmark measures both (benchmarks/README-rules.md); the automaton won on our machine at
every size, so it is the default, and the other stays as the measured alternative. (The Rust
``ahocorasick-rs`` package was also tried on the 10,000-rule automaton: about 25% faster per
scan than pyahocorasick here, too little to add a dependency for.)
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import compress
from typing import Any

import ahocorasick

from ._model import Term

__all__ = ["SCANNERS", "AhoScanner", "Hits", "TokenScanner"]

Hits = dict[int, list[int]]


class TokenScanner:
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
        for tid, term in terms:
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
        # One-word prefixes: a small automaton of " stem" keys over the joined words (probing
        # every prefix length of every word would cost more than one pass over the text).
        self._prefix: Any = None
        if prefixes:
            self._prefix = ahocorasick.Automaton()
            for stem, tid in prefixes:
                self._prefix.add_word(" " + stem, (tid, len(stem) + 1))
            self._prefix.make_automaton()

    def scan(self, words: list[str]) -> Hits:
        """Return ``{term id: [word index, ...]}`` for every term found in `words`."""
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
            joined = " " + " ".join(words) + " "
            spaces = joined.count
            for end, (tid, length) in self._prefix.iter(joined):
                found.setdefault(tid, []).append(spaces(" ", 0, end - length + 1))
            for starts in found.values():
                starts.sort()
        return found


class AhoScanner:
    """One Aho-Corasick automaton over the space-joined words (see the module docstring)."""

    word_positions = False

    def __init__(self, terms: Iterable[tuple[int, Term]]) -> None:
        automaton: Any = ahocorasick.Automaton()
        for tid, term in terms:
            key = " " + " ".join(term.tokens) + ("" if term.prefix else " ")
            automaton.add_word(key, (tid, len(key)))
        if len(automaton):
            automaton.make_automaton()
            self._automaton = automaton
        else:
            self._automaton = None

    def scan(self, words: list[str]) -> Hits:
        """Return ``{term id: [offset in " w0 w1 ... ", ...]}`` for every term in `words`."""
        found: Hits = {}
        if self._automaton is None or not words:
            return found
        for end, (tid, length) in self._automaton.iter(" " + " ".join(words) + " "):
            starts = found.get(tid)
            if starts is None:
                found[tid] = [end - length + 2]
            else:
                starts.append(end - length + 2)
        return found


SCANNERS: dict[str, type[TokenScanner] | type[AhoScanner]] = {
    "aho": AhoScanner,
    "token": TokenScanner,
}

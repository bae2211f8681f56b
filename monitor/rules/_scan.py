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
  terms live in a dict keyed by their first K characters (K = the shortest prefix).

Why two: the automaton touches a trie node per *character*, and with 10,000 rules its few
hundred thousand nodes no longer fit the CPU cache; the dict probes once per *word*. The
benchmark measures both (benchmarks/README-rules.md); the automaton won on our machine at
every size, so it is the default, and the other stays as the measured alternative.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import compress
from operator import itemgetter
from typing import Any

import ahocorasick

from ._model import Term

__all__ = ["SCANNERS", "AhoScanner", "Hits", "TokenScanner"]

Hits = dict[int, list[int]]


class TokenScanner:
    """Word-level term index (see the module docstring)."""

    word_positions = True

    def __init__(self, terms: Iterable[tuple[int, Term]]) -> None:
        # first word -> (tid of the one-word term or -1, ((rest words, prefix, tid), ...))
        entries: dict[str, tuple[int, list[tuple[tuple[str, ...], bool, int]]]] = {}
        prefixes: list[tuple[str, int]] = []
        for tid, term in terms:
            tokens = term.tokens
            if len(tokens) == 1 and term.prefix:
                prefixes.append((tokens[0], tid))
                continue
            single, phrases = entries.get(tokens[0], (-1, []))
            if len(tokens) == 1:
                single = tid
            else:
                phrases.append((tokens[1:], term.prefix, tid))
            entries[tokens[0]] = (single, phrases)
        self._entries = [(s, tuple(p)) for s, p in entries.values()]
        # Index + 1, so that every value is truthy for itertools.compress.
        self._first = {w: i + 1 for i, w in enumerate(entries)}
        self._k = min((len(stem) for stem, _ in prefixes), default=0)
        by_key: dict[str, list[tuple[str, int]]] = {}
        for stem, tid in prefixes:
            by_key.setdefault(stem[: self._k], []).append((stem, tid))
        self._prefix = {k: tuple(v) for k, v in by_key.items()}
        self._cut = itemgetter(slice(0, self._k))

    def scan(self, words: list[str]) -> Hits:
        """Return ``{term id: [word index, ...]}`` for every term found in `words`."""
        found: Hits = {}
        values = list(map(self._first.get, words))
        entries = self._entries
        count = len(words)
        for i in compress(range(count), values):
            single, phrases = entries[values[i] - 1]  # type: ignore[operator]
            if single >= 0:
                found.setdefault(single, []).append(i)
            for rest, prefix, tid in phrases:
                end = i + 1 + len(rest)
                if end > count:
                    continue
                if prefix:
                    if words[i + 1 : end - 1] != list(rest[:-1]) or not words[end - 1].startswith(
                        rest[-1]
                    ):
                        continue
                elif tuple(words[i + 1 : end]) != rest:
                    continue
                found.setdefault(tid, []).append(i)
        if self._prefix:
            pvalues = list(map(self._prefix.get, map(self._cut, words)))
            for i in compress(range(count), pvalues):
                word = words[i]
                for stem, tid in pvalues[i]:  # type: ignore[union-attr]
                    if word.startswith(stem):
                        found.setdefault(tid, []).append(i)
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

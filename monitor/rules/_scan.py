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
from functools import lru_cache
from itertools import compress, pairwise
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
    "forms_pattern",
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


def term_keys(terms: Iterable[tuple[int, Term]]) -> dict[int, tuple[str, ...]]:
    """The keys of each term id (see `term_key`): one per written form of the term."""
    keys: dict[int, list[str]] = {}
    for tid, term in terms:
        keys.setdefault(tid, []).append(term_key(term))
    return {tid: tuple(dict.fromkeys(found)) for tid, found in keys.items()}


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
        # first word -> [(tids of the one-word term),
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
            entry = entries.setdefault(tokens[0], [(), {}, []])
            if len(tokens) == 1:
                if tid not in entry[0]:
                    entry[0] += (tid,)
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
            for tid in single:
                found.setdefault(tid, []).append(i)
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
        # Forms of different terms may be the same string (قاعدة's القاعدة and the term
        # القاعدة): a key reports every term id it stands for.
        by_key: dict[str, list[int]] = {}
        for tid, term in terms:
            tids = by_key.setdefault(term_key(term), [])
            if tid not in tids:
                tids.append(tid)
        for key, tids in by_key.items():
            automaton.add_word(key, (tuple(tids), len(key)))
        # With several forms per term, one term's occurrences come out of the automaton in
        # text order per form, not overall: they are sorted when that can happen.
        self._multi = any(len(t) > 1 for t in by_key.values()) or len(
            {tid for tids in by_key.values() for tid in tids}
        ) < len(by_key)
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
        for end, (tids, length) in self._automaton.iter(nt.joined):
            for tid in tids:
                starts = found.get(tid)
                if starts is None:
                    found[tid] = [end - length + 2]
                else:
                    starts.append(end - length + 2)
        if len(found) > 1 and self._multi:
            for starts in found.values():
                starts.sort()
        return found


class RE2SetScanner:
    """Every term key in RE2 ``Set``s (lazily built DFAs); positions found on demand.

    RE2's set search only says *which* keys occur, which is all the presearcher and most
    conditions need; where they occur is looked up with ``str.find`` for the few terms a
    condition (near, min, cased) or the evidence asks about.

    Terms that can only occur in non-ASCII text (Arabic, every form of them) are kept apart,
    and an ASCII text never looks at them: English items pay nothing for an Arabic
    vocabulary. In a non-ASCII text they are found by word, not by the RE2 set: each form's
    first word is a key of a dict, the text's words (a set, built in C) are intersected with
    those keys, and a form of several words is confirmed by a substring test on the
    single-spaced words. Measured on Arabic text, RE2's DFA did poorly with such terms: UTF-8
    Arabic letters share their lead bytes and every term may start with a clitic, so its
    states hold thousands of candidates, and at 10,000 rules a set search took tens of
    milliseconds per item; the word lookup costs the same at any rule count. Arabic prefix
    terms (``قاعد*``) stay in RE2 sets of their own.

    A set RE2 cannot compile (it has a budget of about a million regex nodes) is split in
    halves until each part compiles: one more pass over the text per part, no lost term.
    """

    word_positions = False

    def __init__(self, terms: Iterable[tuple[int, Term]]) -> None:
        terms = list(terms)
        self._keys = term_keys(terms)
        forms: dict[int, list[Term]] = {}
        for tid, term in terms:
            forms.setdefault(tid, []).append(term)
        ascii_side: list[tuple[int, str]] = []
        other_side: list[tuple[int, str]] = []
        #: first word of a non-ASCII form -> (term id, second word, form key); a one-word form
        #: has no second word and no key, a two-word form no key (the word pair decides)
        self._words: dict[str, list[tuple[int, str, str]]] = {}
        self._forms = forms
        self._finders: dict[int, Any] = {}
        for tid, found in forms.items():
            if any(k.isascii() for k in self._keys[tid]):
                ascii_side.append((tid, forms_pattern(found)))
            elif found[0].prefix:
                other_side.append((tid, forms_pattern(found)))
            else:
                for form in found:
                    second = form.tokens[1] if len(form.tokens) > 1 else ""
                    key = term_key(form) if len(form.tokens) > 2 else ""
                    entry = (tid, second, key)
                    candidates = self._words.setdefault(form.tokens[0], [])
                    if entry not in candidates:
                        candidates.append(entry)
        #: (set, term id of each pattern) pairs searched in every text, and in non-ASCII text.
        self._sets = _compile_sets(ascii_side)
        self._other_sets = _compile_sets(other_side)
        self._word_keys = self._words.keys()

    def scan(self, nt: NormText) -> Hits:
        """Return ``{term id: None}`` for every term in `nt` (positions via `positions`)."""
        text = nt.scan_text
        sets = self._sets
        if (self._other_sets or self._words) and not text.isascii():
            sets = sets + self._other_sets
            hits = self._word_hits(nt)
            for compiled, tids in sets:
                for i in compiled.Match(text) or ():
                    hits[tids[i]] = None
            return hits
        if len(sets) == 1:
            found = sets[0][0].Match(text)
            if not found:
                return {}
            tids = sets[0][1]
            return dict.fromkeys([tids[i] for i in found])
        hits: Hits = {}
        for compiled, tids in sets:
            for i in compiled.Match(text) or ():
                hits[tids[i]] = None
        return hits

    def _word_hits(self, nt: NormText) -> Hits:
        """The non-ASCII terms (not prefixes) present in `nt`, found by their first word."""
        hits: Hits = {}
        text_words = nt.words
        present = self._word_keys & set(text_words)
        if not present:
            return hits
        words = self._words
        pairs: set[tuple[str, str]] | None = None
        for word in present:
            for tid, second, key in words[word]:
                if tid in hits:
                    continue
                if second:
                    if pairs is None:
                        pairs = set(pairwise(text_words))
                    if (word, second) not in pairs or (key and key not in nt.joined):
                        continue
                hits[tid] = None
        return hits

    def positions(self, nt: NormText, tid: int) -> list[int]:
        """Offsets (in ``nt.joined``) of the words where term `tid` (any of its forms)
        starts."""
        keys = self._keys[tid]
        joined = nt.joined
        if len(keys) > 2:  # one regex pass for all the forms (compiled once per term)
            finder = self._finders.get(tid)
            if finder is None:
                finder = self._finders[tid] = re.compile(forms_pattern(self._forms[tid], "(?= )"))
            return [m.start() + 1 for m in finder.finditer(joined)]
        found = []
        for key in keys:
            pos = joined.find(key)
            while pos >= 0:
                found.append(pos + 1)
                pos = joined.find(key, pos + 1)
        if len(keys) > 1:
            found = sorted(set(found))
        return found


_RE2_MAX_MEM = 1 << 30
#: Characters of patterns per RE2 set. Measured: a set of Arabic terms with their clitic
#: forms failed to compile past about 2.4 million characters (RE2's walkers stop at a
#: million nodes); English terms are simpler patterns and stay far below.
_SET_CHARS = 1_500_000


def _compile_sets(patterns: list[tuple[int, str]]) -> list[tuple[Any, list[int]]]:
    """RE2 sets holding `patterns` (term id, regex): one, or as many as RE2's limits need.

    Sets are cut at `_SET_CHARS` characters of patterns first (a set beyond RE2's budget
    fails only after a long try, logging to stderr); a part that still fails is halved."""
    if not patterns:
        return []
    if len(patterns) > 1 and sum(len(p) for _, p in patterns) > _SET_CHARS:
        parts: list[list[tuple[int, str]]] = [[]]
        size = 0
        for entry in patterns:
            if size + len(entry[1]) > _SET_CHARS and parts[-1]:
                parts.append([])
                size = 0
            parts[-1].append(entry)
            size += len(entry[1])
        return [s for part in parts for s in _compile_sets(part)]
    options = re2.Options()
    options.log_errors = False
    # The DFA grows lazily with the states a text visits, bounded by the number of states of
    # the equivalent Aho-Corasick automaton (literal keys); give it room so that it never
    # runs out of memory, which RE2 would report as "no match".
    options.max_mem = _RE2_MAX_MEM
    options.never_capture = True
    compiled: Any = re2.Set.SearchSet(options)
    for _, pattern in patterns:
        compiled.Add(pattern)
    try:
        compiled.Compile()
    except re2.error:
        if len(patterns) < 2:
            raise
        half = len(patterns) // 2
        return _compile_sets(patterns[:half]) + _compile_sets(patterns[half:])
    return [(compiled, [tid for tid, _ in patterns])]


def forms_pattern(forms: list[Term], end: str = " ") -> str:
    """One regex for every written form of a term (see `spaced_pattern`), compact: forms that
    differ only in what their first word starts with (the clitics of an Arabic term: التنف،
    بالتنف، للتنف) share one alternation of those beginnings, so a term with thirty forms
    costs the set a few alternatives, not thirty patterns."""
    if len(forms) == 1:
        return spaced_pattern(forms[0], end)
    by_rest: dict[tuple[str, ...], set[str]] = {}
    for form in forms:
        by_rest.setdefault(form.tokens[1:], set()).add(form.tokens[0])
    branches = []
    for rest, firsts in by_rest.items():
        # Each first word is a head plus a core: the shortest other first word it ends with
        # (بالتنف = ب + التنف), so the forms of one word share one core.
        shortest = sorted(firsts, key=len)
        heads: dict[str, set[str]] = {}
        for word in firsts:
            core = next(c for c in shortest if word.endswith(c))
            heads.setdefault(core, set()).add(word[: len(word) - len(core)])
        for core, starts in heads.items():
            words = " +".join(re.escape(token) for token in (core, *rest))
            branches.append(_alternation(frozenset(starts)) + words)
    tail = "" if forms[0].prefix else end
    return " (?:" + "|".join(branches) + ")" + tail


@lru_cache(maxsize=4096)
def _alternation(strings: frozenset[str]) -> str:
    """A compact regex matching exactly `strings` (short beginnings such as و، بال، فلل):
    a trie written out, so that RE2 gets a few nodes instead of one branch per string."""
    if strings == {""}:
        return ""
    trie: dict[str, Any] = {}
    for text in strings:
        node = trie
        for ch in text:
            node = node.setdefault(ch, {})
        node[""] = {}

    def write(node: dict[str, Any]) -> str:
        optional = "" in node
        parts = [re.escape(ch) + write(child) for ch, child in sorted(node.items()) if ch]
        if not parts:
            return ""
        singles = [p for p in parts if len(p) == 1]
        if len(singles) == len(parts) and len(parts) > 1:
            body = "[" + "".join(singles) + "]"
        elif len(parts) == 1:
            body = parts[0] if len(parts[0]) == 1 else "(?:" + parts[0] + ")"
        else:
            body = "(?:" + "|".join(parts) + ")"
        return body + ("?" if optional else "")

    return write(trie)


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

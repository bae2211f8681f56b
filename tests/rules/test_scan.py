"""The scanners find every term occurrence on word boundaries, and agree with each other."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules._model import Term
from monitor.rules._normalize import NormText
from monitor.rules._scan import SCANNERS


def _word_hits(scanner, nt):
    hits = scanner.scan(nt)
    for tid, found in hits.items():
        if found is None:  # a scanner that only says which terms occur
            hits[tid] = scanner.positions(nt, tid)
    if scanner.word_positions:
        return hits
    return {tid: [nt.word_at(p) for p in ps] for tid, ps in hits.items()}


TERMS = [
    Term("convoy", tokens=("convoy",)),
    Term("al tanf", tokens=("al", "tanf")),
    Term("depl", tokens=("depl",), prefix=True),
    Term("troop mov", tokens=("troop", "mov"), prefix=True),
    Term("al", tokens=("al",)),
]


@pytest.mark.parametrize("name", sorted(SCANNERS))
def test_positions_are_word_indexes(name):
    """Hits give (directly or via word_at) the index of the first word of each occurrence."""
    scanner = SCANNERS[name](enumerate(TERMS))
    nt = NormText("Al-Tanf convoy deployed; troop movements at al Tanf, convoys")
    hits = _word_hits(scanner, nt)
    assert hits == {0: [2], 1: [0, 7], 2: [3], 3: [4], 4: [0, 7]}
    assert scanner.scan(NormText("")) == {}


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(["al", "tanf", "convoy", "deploy", "troop", "moved", "x"]), max_size=12
    ),
    st.text(alphabet="abcdeflmnorstvxy ", max_size=12),
    st.text(alphabet="abcdeflmnorstvxy ", max_size=12),
)
def test_a_term_inside_any_text_obeys_word_boundaries(words, before, after):
    """A term is found exactly at the positions where its words appear as whole words."""
    nt = NormText(" ".join([before, *words, after]))
    text_words = nt.words
    for name in SCANNERS:
        scanner = SCANNERS[name](enumerate(TERMS))
        hits = _word_hits(scanner, nt)
        for tid, term in enumerate(TERMS):
            n = len(term.tokens)
            expected = [
                i
                for i in range(len(text_words) - n + 1)
                if text_words[i : i + n - 1] == list(term.tokens[:-1])
                and (
                    text_words[i + n - 1].startswith(term.tokens[-1])
                    if term.prefix
                    else text_words[i + n - 1] == term.tokens[-1]
                )
            ]
            assert hits.get(tid, []) == expected, (name, term, text_words)

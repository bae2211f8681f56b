"""The scanners find every term occurrence on word boundaries, and agree with each other."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules import _scan
from monitor.rules._arabic import term_variants
from monitor.rules._model import Term
from monitor.rules._normalize import NormText
from monitor.rules._scan import SCANNERS, RE2SetScanner


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


# --- terms with several written forms (Arabic clitics) --------------------------------------

ARABIC_TERMS = [
    Term("التنف", tokens=("التنف",)),
    Term("قاعده", tokens=("قاعده",)),
    Term("القاعده", tokens=("القاعده",)),  # a form of قاعده, and a term of its own
    Term("رتل عسكري", tokens=("رتل", "عسكري")),
    Term("55", tokens=("55",)),
    Term("convoy", tokens=("convoy",)),
]


def _forms_of(terms):
    """(term id, form) pairs, as the compiler gives them to a scanner."""
    return [(tid, form) for tid, term in enumerate(terms) for form in term_variants(term)]


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            ["التنف", "بالتنف", "للتنف", "تنف", "قاعده", "والقاعده", "القاعده", "رتلا", "عسكريا",
             "رتل", "عسكري", "الرتل", "العسكري", "ال55", "55", "convoy", "x", "ب"]
        ),
        max_size=10,
    )
)  # fmt: skip
def test_scanners_agree_on_terms_with_several_forms(words):
    """Every scanner finds a term wherever one of its forms occurs as whole words, at the
    same word indexes, and nowhere else (the forms define the term)."""
    nt = NormText(" ".join(words))
    text_words = nt.words
    results = {name: _word_hits(SCANNERS[name](_forms_of(ARABIC_TERMS)), nt) for name in SCANNERS}
    for tid, term in enumerate(ARABIC_TERMS):
        forms = {f.tokens for f in term_variants(term)}
        n = len(term.tokens)
        expected = [
            i for i in range(len(text_words) - n + 1) if tuple(text_words[i : i + n]) in forms
        ]
        for name, hits in results.items():
            assert hits.get(tid, []) == expected, (name, term, text_words)


def test_ascii_text_never_visits_the_arabic_sets(monkeypatch):
    scanner = RE2SetScanner(_forms_of(ARABIC_TERMS))
    assert len(scanner._sets) == 1  # 55 and convoy: the forms of 55 include ASCII "55"
    assert not scanner._other_sets and "بالتنف" in scanner._words  # Arabic: found by word
    assert scanner.scan(NormText("convoy 55")) == {4: None, 5: None}
    assert set(scanner.scan(NormText("convoy بالتنف"))) == {0, 5}


def test_a_set_too_large_for_re2_is_split_and_finds_the_same(monkeypatch):
    terms = [Term(f"w{i} x", tokens=(f"w{i}", "x")) for i in range(300)] + ARABIC_TERMS
    terms += [Term(f"قاعد{c}", tokens=(f"قاعد{c}",), prefix=True) for c in "ابتثجحخدذر"]
    whole = RE2SetScanner(_forms_of(terms))
    monkeypatch.setattr(_scan, "_SET_CHARS", 150)
    split = RE2SetScanner(_forms_of(terms))
    assert len(split._sets) > 5 and len(split._other_sets) > 1
    for text in ("w1 x w299 x", "w7 x convoy والتنف رتلا عسكريا 55 بقاعدتها"):
        nt = NormText(text)
        assert split.scan(nt) == whole.scan(nt)
        assert len(split.scan(nt)) >= 2
    assert split.scan(NormText("nothing here")) == whole.scan(NormText("nothing here")) == {}

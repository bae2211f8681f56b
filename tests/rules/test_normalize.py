"""Normalization: one definition, idempotent, with offsets back into the original text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules import normalize, normalize_tokens
from monitor.rules._normalize import NormText, fold_char, sentence_breaks


@pytest.mark.parametrize(
    "variant",
    [
        "al-Tanf",
        "Al Tanf",
        "AL‑TANF",
        "al–tanf",
        "al—Tanf",
        "ＡＬ－ＴＡＮＦ",
        "Al_Tanf",
        "al 'Tanf'",
    ],
)
def test_spellings_of_al_tanf_agree(variant):
    """Case, dash, full-width and quote variants all normalize to the same words."""
    assert normalize(variant) == "al tanf"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dayr az Zawr", "dayr az zawr"),
        ("Deir ez-Zôr", "deir ez zor"),
        ("Iran’s proxies", "iran s proxies"),
        ("Iran's proxies", "iran s proxies"),
        ("“baseless” claims", "baseless claims"),
        ("STRASSE Straße", "strasse strasse"),
        ("التـــنف", "التنف"),
        ("الْتَّنْف", "التنف"),
        ("ﬁre", "fire"),
        ("", ""),
        ("  \n\t ", ""),
    ],
)
def test_examples(text, expected):
    """Diacritics, tatweel, harakat, ligatures, apostrophes and casing are folded."""
    assert normalize(text) == expected


@settings(max_examples=300)
@given(st.text())
def test_normalization_is_idempotent(text):
    """Normalizing twice gives the same result as once, for any Unicode text."""
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=300)
@given(st.characters())
def test_fold_char_is_a_fixpoint(ch):
    """Every character's folded form folds to itself, character by character."""
    out = fold_char(ch)
    assert "".join(fold_char(c) for c in out) == out


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_spans_map_words_back_to_the_original(text):
    """Each word's original span normalizes to that word (offsets are in the original).

    One character can fold to several words ("¼" is "1 4"): then each word's span is that
    character, and the word is one of its words.
    """
    nt = NormText(text)
    spans = nt.spans()
    assert len(spans) == len(nt.words)
    for word, (start, end) in zip(nt.words, spans, strict=True):
        assert word in normalize(text[start:end]).split()


def test_offsets_for_non_ascii_text():
    """Offsets count characters of the original, whatever folding did to lengths."""
    text = "ﬁrst: Deir ez-Zôr, ＡＬ－ＴＡＮＦ!"
    nt = NormText(text)
    assert nt.words == ["first", "deir", "ez", "zor", "al", "tanf"]
    start, end = nt.span(4, 5)
    assert text[start:end] == "ＡＬ－ＴＡＮＦ"
    assert nt.cased_words(1, 3) == ["Deir", "ez", "Zor"]


def test_cased_tokens_keep_case():
    """The cased form keeps letter case but folds everything else."""
    assert normalize_tokens("IS fighters, al‑Qaim", cased=True) == ["IS", "fighters", "al", "Qaim"]


def test_sentence_breaks_skip_abbreviations():
    """Sentences end at . ! ? and blank lines, not after Gen., U.S. or single initials."""
    text = "Maj. Gen. Smith met U.S. troops. They left! Then what? Yes.\n\nNew para"
    starts = [text[b:].split()[0] for b in sentence_breaks(text)]
    assert starts == ["They", "Then", "Yes.", "New"]


def test_sentence_numbers_per_word():
    """Each word knows which sentence it is in."""
    nt = NormText("A convoy moved. Officials denied it.")
    assert [nt.sentence_of(i) for i in range(len(nt.words))] == [0, 0, 0, 1, 1, 1]


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60), st.data())
def test_partial_spans_agree_with_the_full_map(text, data):
    """span(first, last) computed on demand equals the one from the full word map."""
    words = NormText(text).words
    if not words:
        return
    first = data.draw(st.integers(0, len(words) - 1))
    last = data.draw(st.integers(first, len(words) - 1))
    lazy = NormText(text).span(first, last)
    full = NormText(text).spans()
    assert lazy == (full[first][0], full[last][1])


@settings(max_examples=300)
@given(
    st.text(alphabet=st.sampled_from("ab1 ,.-  \n"), max_size=60),
    st.data(),
)
def test_spans_from_located_words_agree_with_the_full_map(text, data):
    """span() of a word first located by word_at (the evidence path: joined offsets mapped
    back through the collapsed runs of spaces) equals the full word map, for any spacing."""
    nt = NormText(text)
    words = nt.words
    if not words:
        return
    first = data.draw(st.integers(0, len(words) - 1))
    last = data.draw(st.integers(first, len(words) - 1))
    joined_pos = len(" ".join(words[:first])) + (1 if first else 0) + 1
    assert nt.word_at(joined_pos) == first
    full = NormText(text).spans()
    assert nt.span(first, last) == (full[first][0], full[last][1])


def test_scan_text_keeps_ascii_offsets_and_joined_collapses_spaces():
    """scan_text is the folded text padded (offsets of ASCII text kept); joined is built
    on demand with single spaces."""
    nt = NormText("  Al-Tanf,  (garrison)")
    assert nt.scan_text == "   al tanf    garrison  "
    assert nt.scan_text.index("tanf") - 1 == "  Al-Tanf,  (garrison)".index("Tanf")
    assert nt.joined == " al tanf garrison "
    assert nt.words == ["al", "tanf", "garrison"]


def test_a_phrase_matches_across_several_separators(tmp_path):
    """'al tanf' is found in 'al -- Tanf' by every scanner, with evidence at the right
    place, though its words are several spaces apart in scan_text."""
    from monitor.rules import RuleSet

    from .builders import rule, rules

    loaded = rules(tmp_path, rule("sel: {text: ['al tanf', 'garrison']}\ncondition: sel"))
    text = "Shelling near al -- Tanf;  the garrison."
    for scanner in ("re2set", "aho", "token"):
        ruleset = RuleSet(loaded.rules, scanner=scanner)
        [match] = ruleset.match({"summary": text})
        assert [text[e.start : e.end] for e in match.evidence] == ["al -- Tanf", "garrison"]


def test_adjacent_phrase_occurrences_each_give_evidence(tmp_path):
    """'al-Tanf al-Tanf': the space between the two is the end of one and the start of the
    next; both are evidence (found by hypothesis in the ASCII shortcut)."""
    from .builders import rule, rules

    ruleset = rules(tmp_path, rule("sel: {summary: ['al tanf']}\ncondition: sel"))
    [match] = ruleset.match({"summary": "al-Tanf al-Tanf "})
    assert [(e.start, e.end) for e in match.evidence] == [(0, 7), (8, 15)]

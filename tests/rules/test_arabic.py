"""Arabic in the engine: folding, attached clitics, sentences, evidence, and odd input.

Every expectation is what a reader of Arabic would expect: the same word written with or
without hamza, diacritics, tatweel, a zero-width joiner or a clitic in front is the same
word; a different word that merely starts with the same letters is not.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from monitor.cli import cli
from monitor.rules import normalize, normalize_tokens
from monitor.rules._arabic import is_arabic_word, term_variants
from monitor.rules._model import Term
from monitor.rules._normalize import NormText, sentence_breaks

from .builders import rule, rules


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("أمريكية", "امريكيه"),  # hamza on alef, teh marbuta
        ("إيران", "ايران"),  # hamza under alef
        ("آليات", "اليات"),  # madda
        ("ٱلقوات", "القوات"),  # alef wasla
        ("إلى", "الي"),  # alef maqsura
        ("مسؤول", "مسءول"),  # hamza on waw ...
        ("مسئول", "مسءول"),  # ... and on yeh are the same word
        ("قُوَّاتٌ", "قوات"),  # harakat dropped
        ("الـقـوات", "القوات"),  # tatweel dropped
        ("کرکوک", "كركوك"),  # Persian keheh
        ("ڪرڪوڪ", "كركوك"),  # swash kaf
        ("سوریه", "سوريه"),  # Farsi yeh
        ("٢٠٢٣", "2023"),  # Arabic-Indic digits
        ("۱۴۰۲", "1402"),  # Persian digits
        ("ال\u200dتنف", "التنف"),  # zero-width joiner inside a word
        ("ال\u200cتنف", "التنف"),  # zero-width non-joiner
        ("\u200fالتنف\u200f", "التنف"),  # right-to-left marks around it
        ("التن\u00adف", "التنف"),  # soft hyphen
    ],
)
def test_folding(written, folded):
    assert normalize(written) == folded


def test_arabic_punctuation_separates_words_and_zero_width_space_too():
    assert normalize_tokens("قوات،رتل؛انسحاب؟نعم") == ["قوات", "رتل", "انسحاب", "نعم"]
    assert normalize_tokens("قوات\u200bرتل") == ["قوات", "رتل"]


def test_mixed_script_keeps_both_scripts():
    assert normalize_tokens("US convoy رتل أمريكي at al-Tanf التنف") == [
        "us", "convoy", "رتل", "امريكي", "at", "al", "tanf", "التنف",
    ]  # fmt: skip


def test_sentences_end_at_the_arabic_question_mark_not_at_the_comma():
    text = "هل انسحبت القوات؟ نفى المتحدث ذلك، وقال إن الرتل باق. ثم غادر"
    starts = sentence_breaks(text)
    assert [text[s : s + 3] for s in starts] == ["نفى", "ثم "]


@given(st.text(alphabet="اأإآبتةثجحخدذرزسشصضطظعغفقكلمنهويىءؤئ ،؟.ـًٌٍَُِّْ\u200c\u200d\u200f٠١٢"))
def test_spans_point_into_the_original_arabic(text):
    """Each word's span, folded, gives the word back: offsets index the original text."""
    nt = NormText(text)
    for word, (start, end) in zip(nt.words, nt.spans(), strict=True):
        assert normalize(text[start:end]) == word


def test_clitic_forms_of_a_definite_name():
    forms = {" ".join(v.tokens) for v in term_variants(Term("التنف", tokens=("التنف",)))}
    for written in ("التنف", "بالتنف", "والتنف", "للتنف", "فالتنف", "وبالتنف", "فللتنف"):
        assert written in forms
    assert "تنف" not in forms and "التنفي" not in forms


def test_clitic_forms_of_an_indefinite_word_and_of_a_phrase():
    word = {" ".join(v.tokens) for v in term_variants(Term("قاعده", tokens=("قاعده",)))}
    assert {"قاعده", "القاعده", "والقاعده", "بقاعده", "لقاعده", "للقاعده", "وبقاعده"} <= word
    phrase = {
        " ".join(v.tokens) for v in term_variants(Term("قوات امريكيه", tokens=("قوات", "امريكيه")))
    }
    assert {"قوات امريكيه", "القوات الامريكيه", "للقوات الامريكيه", "وقوات امريكيه"} <= phrase
    assert "قوات والامريكيه" not in phrase  # a later word takes the article, nothing else


def test_short_words_and_latin_words_get_no_clitic_forms():
    assert term_variants(Term("رد", tokens=("رد",))) == (Term("رد", tokens=("رد",)),)
    latin = Term("al Tanf", tokens=("al", "tanf"))
    assert term_variants(latin) == (latin,)
    assert not is_arabic_word("tanf") and is_arabic_word("التنف")


PACK = rule(
    """
    tanf: {text: [التنف]}
    base: {text|suffixes: [قاعدة]}
    forces: {text: [قوات أمريكية]}
    denied: {text|sentence: [نفى, انسحاب]}
    near: {text|near=3: [رتل, التنف]}
    condition: 1 of them
    """,
    "ar",
)


@pytest.fixture
def arabic(tmp_path):
    return rules(tmp_path, PACK, lexicons=False)


def _hit(ruleset, text: str) -> list[tuple[str, str]]:
    """(selection, evidence text) pairs for `text` as an item's summary."""
    return sorted(
        (e.selection, e.text) for m in ruleset.match({"summary": text}) for e in m.evidence
    )


@pytest.mark.parametrize(
    "written",
    ["هجوم على التنف", "هجوم بالتنف", "ضربة والتنف", "طريق للتنف", "فالتنف هادئة", "التَّنْف",
     "الـتـنـف", "ال\u200dتنف", "\u200fبالتنف\u200f"],
)  # fmt: skip
def test_a_name_matches_with_clitics_diacritics_and_invisible_marks(arabic, written):
    assert [s for s, _ in _hit(arabic, written)] == ["tanf"]


@pytest.mark.parametrize("written", ["تنفي الوزارة الخبر", "تنف", "التنفيذ", "Tanf without Arabic"])
def test_other_words_do_not_match_the_name(arabic, written):
    assert _hit(arabic, written) == []


def test_suffixes_opt_in_and_teh_marbuta_before_a_pronoun(arabic):
    assert _hit(arabic, "والقاعدة") == [("base", "والقاعدة")]
    assert _hit(arabic, "قاعدتهم الجوية") == [("base", "قاعدتهم")]
    assert _hit(arabic, "بقاعدتها") == [("base", "بقاعدتها")]


def test_phrase_agreement_and_hamza_spellings(arabic):
    assert _hit(arabic, "وصلت القوات الأمريكية") == [("forces", "القوات الأمريكية")]
    assert _hit(arabic, "وصول قواتٍ أميركية") == []  # أميركية is another spelling: list it
    assert _hit(arabic, "دخلت قوات امريكيه") == [("forces", "قوات امريكيه")]


def _selections(ruleset, text: str) -> set[str]:
    """The selections of rule `ar` that hold on `text` (as `rules explain` reports them)."""
    explanation = ruleset.explain("ar", {"summary": text})
    return {s.name for s in explanation.selections if s.matched}


def test_sentence_and_near_on_arabic_text(arabic):
    assert "denied" in _selections(arabic, "نفى المتحدث أي انسحاب من القاعدة")
    assert "denied" not in _selections(arabic, "نفى المتحدث ذلك؟ وبدأ انسحاب القوات")
    assert "denied" in _selections(arabic, "نفى المتحدث ذلك، وقال إن الانسحاب لم يبدأ")
    assert "near" in _selections(arabic, "وصل رتل عسكري إلى التنف")
    assert "near" not in _selections(arabic, "رتل عسكري وصل أمس إلى مدينة قريبة من التنف")


def test_evidence_offsets_point_into_the_original_arabic(arabic):
    text = "قال المَصدر: إن رتلاً وصل ٱلتَّنف، فجر الأحد."
    match = arabic.match({"summary": text})[0]
    spans = {e.selection: (e.start, e.end, e.text) for e in match.evidence}
    start, end, found = spans["tanf"]
    assert text[start:end] == found == "ٱلتَّنف"


def test_arabic_digits_match_ascii_terms(tmp_path):
    ruleset = rules(tmp_path, rule("z: {text: [55 km]}\ncondition: z", "zone"), lexicons=False)
    assert ruleset.match({"summary": "داخل منطقة الـ٥٥ km"})  # الـ + Arabic-Indic 55
    assert ruleset.match({"summary": "inside the ٥٥ km zone"})
    assert not ruleset.match({"summary": "inside the 555 km zone"})


def test_explain_shows_arabic_evidence_readably(arabic, tmp_path):
    result = CliRunner().invoke(
        cli, ["rules", "explain", "ar", "هجوم بالتنف", "--rules", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "rule ar: MATCH" in result.output
    assert "summary[5:11] 'بالتنف'" in result.output


def test_arabic_value_in_a_lexicon_gives_the_entity(tmp_path):
    pack = (
        rule("p: {text|expand: '%tanf%'}\ncondition: p", "p")
        + "---\nlexicon: tanf\nkind: place\ncanonical: place:al-tanf\nterms: [al-Tanf, التنف]\n"
    )
    ruleset = rules(tmp_path, pack, lexicons=False)
    (match,) = ruleset.match({"title": "مسيّرات تهاجم بالتنف"})
    assert match.entities == ("place:al-tanf",)


def test_phrase_words_agree_in_definiteness_and_case(tmp_path):
    """A noun and its adjective take the article together, and the accusative alef together;
    an idafa's definite second word takes neither; the cost stays bounded per phrase."""
    pack = rule("c: {text: [رتل عسكري, قاعدة التنف]}\ncondition: c", "c")
    ruleset = rules(tmp_path, pack, lexicons=False)
    for written in ("رصد رتلاً عسكرياً", "وصول الرتل العسكري", "للرتل العسكري", "قرب قاعدة التنف",
                    "في القاعدة التنف", "بقاعدة التنف"):  # fmt: skip
        assert ruleset.match({"summary": written}), written
    for written in ("رتل العسكري", "الرتل عسكري", "رتلاً العسكري"):
        assert not ruleset.match({"summary": written}), written
    three = term_variants(Term("x", tokens=("قوات", "امريكيه", "خاصه")))
    assert len(three) <= 36


def test_verbs_take_only_conjunctions(tmp_path):
    pack = (
        rule("m: {text|expand: '%moves%'}\ncondition: m", "m")
        + "---\nlexicon: moves\nkind: term\nterms: [تعزيزات]\nverbs: [حشد, نشرت]\n"
    )
    ruleset = rules(tmp_path, pack, lexicons=False)
    for written in ("حشد الجيش قواته", "وحشد الجيش", "فنشرت تركيا", "وصلت التعزيزات"):
        assert ruleset.match({"summary": written}), written
    for written in ("قال الحشد الشعبي", "دار النشرت", "بحشد"):
        assert not ruleset.match({"summary": written}), written

"""Arabic in the rule engine: letter folding for matching, and attached clitics.

Two pieces, designed after a search engine's Arabic analysis (Lucene's ``ArabicNormalizer``
and ``ArabicStemmer``, themselves after Larkey, Ballesteros and Connell's light stemming):

**Folding** (`LETTER_FOLDS`, applied by `_normalize` to every character, terms and text
alike): the alef forms أ إ آ ٱ become ا, alef maqsura ى becomes ي, teh marbuta ة becomes ه,
the hamza seats ؤ ئ become ء (so مسؤول = مسئول), the Persian and Urdu look-alikes ک ی ۀ ہ
become ك ي ه ه, Arabic-Indic and Persian digits become ASCII digits. Harakat and tatweel are
dropped by the general rule (combining marks), Arabic punctuation (، ؛ ؟) separates words like
any punctuation, and format characters (right-to-left marks, zero-width joiners, the soft
hyphen) are dropped so that they never split a word.

**Clitics** (`term_variants`, applied once when a rule set is compiled): Arabic writes the
conjunctions و and ف, the prepositions ب ك ل and the article ال as part of the next word
(والتنف، بالتنف، للتنف، فالقاعدة), numbers too (بـ40 مركبة، الـ55 كم). A term is expanded
into every form it can take with them:
``التنف`` becomes ``التنف وبالتنف للتنف فالتنف ...``, ``قاعدة`` becomes ``قاعدة القاعدة
والقاعدة بقاعدة لقاعدة ...``; in a phrase, later words may also take the article (an
adjective agrees: قوات أمريكية / القوات الأمريكية), and an indefinite word its accusative alef
(رتل عسكري / رتلاً عسكرياً). With ``|suffixes`` the last word of a noun may also
carry an attached pronoun (قواتها، قاعدتهم; a final ة is written ت before it). A verb (a
term listed under a lexicon's ``verbs:``) takes only و and ف: حشد "massed" must not become
الحشد, the Popular Mobilization Forces, nor نشر "deployed" النشر, "publishing".

Why expansion at compile time and not stemming of the text: the item's text stays exactly as
it is (no per-word work on the hot path: the scanner's automaton simply holds more keys, and
English-only items never visit them), evidence points at the whole written word, and nothing
is stripped from a word that merely starts with one of these letters (بغداد, لبنان, وزير).
Stemming both sides, as a search index does, merges distinct words: PyStemmer's Snowball Arabic
stemmer was measured on the pack's vocabulary and stems تنفي ("she denies") and التنف alike to
تنف, while it leaves والتنف and فالتنف unstripped and turns القوات and قوات into different
stems; Lucene's light stemmer strips ال وال بال كال فال لل و but not a bare ب ك ل. No library
expands a term into its clitic forms, so this module does, with the lists below.
"""

from __future__ import annotations

import re
from itertools import product

from ._model import Term

__all__ = [
    "LETTER_FOLDS",
    "MIN_CLITIC_STEM",
    "SUFFIX_PRONOUNS",
    "has_variants",
    "is_arabic_word",
    "term_variants",
]

#: Character -> replacement, applied after case folding and before marks are dropped.
LETTER_FOLDS: dict[str, str] = {
    "\u0671": "\u0627",  # ٱ alef wasla
    "\u0672": "\u0627",  # ٲ alef with wavy hamza above
    "\u0673": "\u0627",  # ٳ alef with wavy hamza below
    "\u0675": "\u0627",  # ٵ high hamza alef
    "\u0649": "\u064a",  # ى alef maqsura -> ي
    "\u0629": "\u0647",  # ة teh marbuta -> ه
    "\u0624": "\u0621",  # ؤ hamza on waw -> ء
    "\u0626": "\u0621",  # ئ hamza on yeh -> ء
    "\u06a9": "\u0643",  # ک keheh (Persian kaf) -> ك
    "\u06aa": "\u0643",  # ڪ swash kaf -> ك
    "\u06cc": "\u064a",  # ی Farsi yeh -> ي
    "\u06d2": "\u064a",  # ے yeh barree -> ي
    "\u06c0": "\u0647",  # ۀ heh with yeh above -> ه
    "\u06c1": "\u0647",  # ہ heh goal -> ه
    "\u06d5": "\u0647",  # ە ae -> ه
    **{chr(0x0660 + d): str(d) for d in range(10)},  # ٠..٩ Arabic-Indic digits
    **{chr(0x06F0 + d): str(d) for d in range(10)},  # ۰..۹ Persian digits
}

_ARTICLE = "ال"
_CONJUNCTIONS = ("", "و", "ف")
_PREPOSITIONS = ("", "ب", "ك", "ل")
#: Endings that never take the accusative alef: a final alef, a folded ة (ه), a final ء,
#: and the feminine plural ات. (A final ي does: عسكري -> عسكرياً.)
_NO_TANWEEN_ALEF = ("ا", "ه", "ء", "ات")
#: Attached pronouns a word may end with, for ``|suffixes``: his, her, their (m, f, dual),
#: your (sg, pl m, pl f, dual), our, my.
SUFFIX_PRONOUNS = ("ه", "ها", "هم", "هن", "هما", "ك", "كم", "كن", "كما", "نا", "ي")
#: A word shorter than this (article excluded) gets no clitic forms: a two-letter word with a
#: letter in front is too often another word (رد -> ورد "roses", برد "cold").
MIN_CLITIC_STEM = 3


_ARABIC_WORD = re.compile("[\u0620-\u064a]+")


def is_arabic_word(token: str) -> bool:
    """True when a normalized word is written in Arabic letters only (U+0620..U+064A)."""
    return _ARABIC_WORD.fullmatch(token) is not None


def _definite_forms(stem: str) -> list[str]:
    """``stem`` with the article and whatever may precede it: ال بال كال لل وال وبال..."""
    lam = ["لل" + stem]
    if stem.startswith("ل"):
        lam.append("ل" + stem)  # ل + الليل is written لليل: one lam of three is dropped
    heads = [p + _ARTICLE + stem for p in ("", "ب", "ك")] + lam
    return [c + h for c in _CONJUNCTIONS for h in heads]


def _takes_clitics(token: str) -> bool:
    """Arabic words, and numbers: Arabic attaches clitics to digits too (بـ40 مركبة، الـ55)."""
    return token.isdigit() or is_arabic_word(token)


def _alef_form(token: str) -> str:
    """The indefinite accusative (tanween fath) of a word: an alef is written after it
    (رتلاً عسكرياً -> رتلا عسكريا); words that never take it come back unchanged."""
    if (
        not is_arabic_word(token)
        or len(token) < MIN_CLITIC_STEM
        or token.startswith((_ARTICLE, "لل"))  # definite: an idafa's second word, a name
        or token.endswith(_NO_TANWEEN_ALEF)
    ):
        return token
    return token + "ا"


def _long_enough(token: str) -> bool:
    return token.isdigit() or len(token) >= MIN_CLITIC_STEM


def _first_word_heads(token: str) -> list[str]:
    """The first word with a conjunction and a preposition before it, no article."""
    if not _long_enough(token):
        return [token]
    return [c + p + token for c, p in product(_CONJUNCTIONS, _PREPOSITIONS)]


def _definite(token: str) -> str:
    """A later word in a definite phrase: it takes the article (adjective agreement)."""
    if token.startswith(_ARTICLE) or not _takes_clitics(token) or not _long_enough(token):
        return token
    return _ARTICLE + token


def _phrase_forms(tokens: tuple[str, ...], suffixes: bool) -> list[tuple[str, ...]]:
    """Every written form of an Arabic noun phrase. Words agree: the phrase is read either
    indefinite (first word bare, with a conjunction and a preposition; every word bare, or
    every word in the accusative with its alef) or definite (the article on the first word,
    with what may precede it, and on every later word that has none); a later number may
    also take the article in either reading (منطقة الـ55)."""
    first, rest = tokens[0], tokens[1:]
    if first.startswith(_ARTICLE) and len(first) - 2 >= MIN_CLITIC_STEM:
        return [(head, *rest) for head in _definite_forms(first[2:])]
    rests = [rest]
    if any(t.isdigit() for t in rest):
        rests.append(tuple(_ARTICLE + t if t.isdigit() else t for t in rest))
    indefinite = [tokens, tuple(_alef_form(t) for t in tokens)]
    if suffixes and not rest:
        indefinite += [(form,) for form in _with_suffixes(first)]
    forms = [
        (head, *tail)
        for words in dict.fromkeys(indefinite)
        for head in _first_word_heads(words[0])
        for tail in ([words[1:]] if words is not tokens else rests)
    ]
    if _long_enough(first):
        definite_rest = tuple(_definite(t) for t in rest)
        forms += [(head, *definite_rest) for head in _definite_forms(first)]
    if suffixes and rest:
        forms += [(*tokens[:-1], form) for form in _with_suffixes(tokens[-1])]
    return forms


def _with_suffixes(token: str) -> list[str]:
    """``token`` and its forms with an attached pronoun (a final ة/ه may be written ت)."""
    forms = [token] + [token + s for s in SUFFIX_PRONOUNS]
    if token.endswith("ه"):  # a folded ة: قاعدة + ها is written قاعدتها
        forms += [token[:-1] + "ت" + s for s in SUFFIX_PRONOUNS]
    return forms


def has_variants(term: Term) -> bool:
    """True when `term` has written forms besides itself: an Arabic (or numeric) phrase
    that is not ``cased`` (case is checked word by word against the term as written)."""
    return term.kind == "phrase" and not term.cased and _takes_clitics(term.tokens[0])


def term_variants(term: Term, suffixes: bool = False) -> tuple[Term, ...]:
    """`term` and every clitic form of it, when it is an Arabic phrase (see the module
    docstring); any other term comes back alone, and `term` always comes first. A variant's
    text is its words as they would be written (explanations show the slot's label, the
    value as the rule author wrote it). A verb takes only a conjunction before it."""
    tokens = term.tokens
    if not has_variants(term):
        return (term,)
    if term.verb:
        forms = [(c + tokens[0], *tokens[1:]) for c in _CONJUNCTIONS]
    else:
        forms = _phrase_forms(tokens, suffixes and not term.prefix)
    variants = [term]
    for words in dict.fromkeys(forms):
        if words != tokens:
            variants.append(
                Term(
                    text=" ".join(words),
                    kind="phrase",
                    tokens=words,
                    prefix=term.prefix,
                    cased=term.cased,
                )
            )
    return tuple(variants)

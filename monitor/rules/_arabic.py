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

from itertools import product

from ._model import Term

__all__ = [
    "LETTER_FOLDS",
    "MIN_CLITIC_STEM",
    "SUFFIX_PRONOUNS",
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
#: Endings that never take the accusative alef: a final alef, a folded ة (ه), a final ي or
#: ء, and the feminine plural ات.
_NO_TANWEEN_ALEF = ("ا", "ه", "ي", "ء", "ات")
#: Attached pronouns a word may end with, for ``|suffixes``: his, her, their (m, f, dual),
#: your (sg, pl m, pl f, dual), our, my.
SUFFIX_PRONOUNS = ("ه", "ها", "هم", "هن", "هما", "ك", "كم", "كن", "كما", "نا", "ي")
#: A word shorter than this (article excluded) gets no clitic forms: a two-letter word with a
#: letter in front is too often another word (رد -> ورد "roses", برد "cold").
MIN_CLITIC_STEM = 3


def is_arabic_word(token: str) -> bool:
    """True when a normalized word is written in Arabic letters only (U+0620..U+064A)."""
    return bool(token) and all("\u0620" <= ch <= "\u064a" or ch == "\u0621" for ch in token)


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


def _indefinite_forms(token: str) -> list[str]:
    """``token`` and, for a word that can take it, its accusative form: the indefinite
    accusative (tanween fath) writes an alef after the word (رتلاً عسكرياً -> رتلا عسكريا)."""
    if token.isdigit() or token.endswith(_NO_TANWEEN_ALEF):
        return [token]
    return [token, token + "ا"]


def _first_word_forms(token: str) -> list[str]:
    """Every written form of a phrase's first word with its proclitics."""
    if token.startswith(_ARTICLE) and len(token) - 2 >= MIN_CLITIC_STEM:
        return _definite_forms(token[2:])
    if len(token) < MIN_CLITIC_STEM and not token.isdigit():
        return [token]
    bare = [
        c + p + form
        for c, p in product(_CONJUNCTIONS, _PREPOSITIONS)
        for form in _indefinite_forms(token)
    ]
    return bare + _definite_forms(token)


def _later_word_forms(token: str) -> list[str]:
    """A later word of a phrase: as written (or accusative), or with the article."""
    if token.startswith(_ARTICLE) or (len(token) < MIN_CLITIC_STEM and not token.isdigit()):
        return [token]
    return [*_indefinite_forms(token), _ARTICLE + token]


def _with_suffixes(token: str) -> list[str]:
    """``token`` and its forms with an attached pronoun (a final ة/ه may be written ت)."""
    forms = [token] + [token + s for s in SUFFIX_PRONOUNS]
    if token.endswith("ه"):  # a folded ة: قاعدة + ها is written قاعدتها
        forms += [token[:-1] + "ت" + s for s in SUFFIX_PRONOUNS]
    return forms


def term_variants(term: Term, suffixes: bool = False) -> tuple[Term, ...]:
    """`term` and every clitic form of it, when it is an Arabic phrase (see the module
    docstring); any other term comes back alone, and `term` always comes first. A variant's
    text is its words as they would be written (explanations show the slot's label, the
    value as the rule author wrote it)."""
    tokens = term.tokens
    if term.kind != "phrase" or not any(_takes_clitics(t) for t in tokens):
        return (term,)
    options: list[list[str]] = []
    for index, token in enumerate(tokens):
        if not _takes_clitics(token) or (term.verb and index > 0):
            options.append([token])
            continue
        if term.verb:
            forms = [c + token for c in _CONJUNCTIONS]
        elif index == 0:
            forms = _first_word_forms(token)
        else:
            forms = _later_word_forms(token)
        if suffixes and index == len(tokens) - 1 and not term.prefix and not term.verb:
            forms = [f for form in forms for f in _with_suffixes(form)]
        options.append(list(dict.fromkeys(forms)))
    variants = [term]
    for combination in product(*options):
        if combination != tokens:
            variants.append(
                Term(
                    text=" ".join(combination),
                    kind="phrase",
                    tokens=combination,
                    prefix=term.prefix,
                    cased=term.cased,
                )
            )
    return tuple(variants)

"""Synthetic rule sets and news-like items for the rule-engine benchmark (seeded, in code).

Vocabulary: 20,000 pronounceable made-up terms (so no term is an English word by accident) and
a separate list of 3,000 filler words drawn with a Zipf-like skew. Items are ~2 KB of sentences:
mostly filler, about one word in twelve from the vocabulary, with capitals, numbers and
punctuation as in wire copy. Rules use 2-6 terms (single words and two-word phrases), some with
``near``, some with a ``not`` selection, about 1% with a regex.
"""

from __future__ import annotations

import random
import re
from itertools import accumulate

__all__ = [
    "arabize",
    "make_arabic_items",
    "make_items",
    "make_rules_yaml",
    "naive_patterns",
    "vocabulary",
]

_CONS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"]
_CONS += ["br", "dr", "kr", "st", "sh", "th", "tr", "gr", "pl"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ea"]


def _words(rng: random.Random, count: int, syllables: tuple[int, int], seen: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        n = rng.randint(*syllables)
        word = "".join(rng.choice(_CONS) + rng.choice(_VOWELS) for _ in range(n))
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


def vocabulary(seed: int = 7) -> tuple[list[str], list[str]]:
    """Return (20,000 rule terms, 3,000 filler words), disjoint."""
    rng = random.Random(seed)
    seen: set[str] = set()
    filler = _words(rng, 3000, (1, 2), seen)
    terms = _words(rng, 20000, (3, 4), seen)
    return terms, filler


def make_items(count: int, seed: int = 11, size: int = 2000) -> list[dict[str, str]]:
    """Return `count` news-like items of about `size` characters (title + summary + content)."""
    terms, filler = vocabulary()
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) for i in range(len(filler))]
    # Rule terms in text are skewed too (a few are as common as "attack" or "convoy").
    term_weights = list(accumulate(1.0 / (i + 1) ** 0.9 for i in range(len(terms))))
    items = []
    for n in range(count):
        sentences: list[str] = []
        length = 0
        while length < size:
            words = rng.choices(filler, weights, k=rng.randint(8, 22))
            for i in range(len(words)):
                if rng.random() < 0.08:
                    words[i] = rng.choices(terms, cum_weights=term_weights)[0]
            if rng.random() < 0.3:
                words.insert(rng.randrange(len(words)), str(rng.randint(2, 2000)))
            sentence = " ".join(words)
            sentence = sentence[0].upper() + sentence[1:] + rng.choice([".", ".", ".", ",", ";"])
            sentences.append(sentence)
            length += len(sentence) + 1
        body = " ".join(sentences)
        title = " ".join([*rng.choices(filler, weights, k=6), rng.choice(terms)]).title()
        items.append(
            {"id": f"item-{n}", "title": title, "summary": body[:300], "content": body[300:]}
        )
    return items


# Arabic versions: every Latin letter of the made-up vocabulary becomes an Arabic letter, so
# the Arabic rule sets and items have exactly the shape of the English ones (same counts,
# same hits), and the difference measures what Arabic text itself costs.
_TO_ARABIC = str.maketrans(
    "abcdefghijklmnopqrstuvwxyz",
    "اتكديفجهيجكلمنوبقرستوفوخيز",
)
_CLITICS = ("و", "ب", "ال", "بال", "لل", "وال", "ف")
_ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_ARABIC_PUNCT = str.maketrans({",": "،", ";": "؛", "?": "؟"})


def arabize(word: str) -> str:
    """The Arabic-letter form of a made-up (lower-case ASCII) word."""
    return word.lower().translate(_TO_ARABIC)


def make_arabic_items(count: int, seed: int = 11, size: int = 2000) -> list[dict[str, str]]:
    """`make_items` in Arabic letters: every word transliterated, a third of the rule terms
    with a clitic in front (والـ، بالـ، لل...), half the numbers in Arabic-Indic digits,
    Arabic commas and semicolons, and a harakah or a tatweel now and then."""
    rng = random.Random(seed + 1)
    terms = set(vocabulary()[0])

    def word(w: str) -> str:
        core = w.strip(".,;")
        tail = w[len(core) :]
        if core.isdigit():
            out = core.translate(_ARABIC_DIGITS) if rng.random() < 0.5 else core
        else:
            out = arabize(core)
            if core.lower() in terms and rng.random() < 0.33:
                out = rng.choice(_CLITICS) + out
            elif rng.random() < 0.02:
                out = out[:1] + "\u064e" + out[1:]  # a fatha
            elif rng.random() < 0.01:
                out = out[:1] + "\u0640" + out[1:]  # a tatweel
        return out + tail.translate(_ARABIC_PUNCT)

    return [
        {
            key: value if key == "id" else " ".join(map(word, value.split()))
            for key, value in item.items()
        }
        for item in make_items(count, seed, size)
    ]


def _term(rng: random.Random, terms: list[str]) -> str:
    # One value in five comes from the 500 most frequent terms, as analysts' words do.
    return rng.choice(terms[:500]) if rng.random() < 0.2 else rng.choice(terms)


def _value(rng: random.Random, terms: list[str]) -> str:
    if rng.random() < 0.3:
        return f"{_term(rng, terms)} {_term(rng, terms)}"
    if rng.random() < 0.1:
        return _term(rng, terms)[:6] + "*"
    return _term(rng, terms)


def make_rules_yaml(count: int, seed: int = 3, arabic: bool = False, first: int = 0) -> str:
    """Return one YAML text holding `count` rules of 2-6 terms each (in Arabic letters with
    `arabic`; ids numbered from `first`).

    Shapes, as in real packs (a topic AND a context, sometimes minus noise): 35% two
    any-of selections ANDed; 25% an any-of selection AND a ``near=12`` pair; 15% an
    ``all`` list; 24% two any-of selections ANDed with ``and not`` a third; 1% a regex
    ANDed with an any-of selection. Values: 30% two-word phrases, 7% prefixes.
    """
    terms, _ = vocabulary()
    if arabic:
        terms = [arabize(t) for t in terms]
    rng = random.Random(seed)
    docs = []
    letters = "\\pL" if arabic else "[a-z]"
    for n in range(first, first + count):
        k = rng.randint(2, 6)
        values = [_value(rng, terms) for _ in range(k)]
        half = max(1, k // 2)
        a, b = values[:half], values[half:]
        shape = rng.random()
        if shape < 0.01:
            word = rng.choice(terms)
            detection = (
                f"  sel:\n    text|re: '\\b{word[:5]}{letters}*\\s+\\d+'\n"
                f"  other:\n    text: {values!r}\n  condition: sel and other\n"
            )
        elif shape < 0.36:
            detection = (
                f"  topic:\n    text: {a!r}\n  context:\n    text: {b!r}\n"
                "  condition: topic and context\n"
            )
        elif shape < 0.61:
            pair = (b + a)[:2] if len(b) < 2 else b[:2]
            detection = (
                f"  topic:\n    text: {a!r}\n  close:\n    text|near=12: {pair!r}\n"
                "  condition: topic and close\n"
            )
        elif shape < 0.76:
            detection = f"  sel:\n    text|all: {values!r}\n  condition: sel\n"
        else:
            noise = [rng.choice(terms)]
            detection = (
                f"  topic:\n    text: {a!r}\n  context:\n    text: {b!r}\n"
                f"  noise:\n    text: {noise!r}\n"
                "  condition: topic and context and not noise\n"
            )
        docs.append(
            f"id: synth-{n}\ntitle: Synthetic rule {n}\nlevel: low\ndetection:\n{detection}"
        )
        if arabic:
            docs[-1] = docs[-1].replace("\\b", "")
    return "\n---\n".join(docs) + "\n"


def naive_patterns(rules_yaml: str) -> list[re.Pattern[str]]:
    """The naive baseline: one compiled regex per rule, an alternation of all its terms."""
    patterns = []
    for doc in rules_yaml.split("\n---\n"):
        words = re.findall(r"'([^']+)'", doc.split("detection:", 1)[1])
        alts = []
        for w in words:
            if "\\" in w:
                alts.append(w.replace("\\pL", "[^\\W\\d_]"))  # Python's re has no \pL
            elif w.endswith("*"):
                alts.append(r"\b" + re.escape(w[:-1]) + r"\w*")
            else:
                alts.append(r"\b" + r"\W+".join(map(re.escape, w.split())) + r"\b")
        patterns.append(re.compile("|".join(alts), re.IGNORECASE))
    return patterns

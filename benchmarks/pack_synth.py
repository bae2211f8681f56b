"""Realistic synthetic rule packs and items for the pack benchmark (seeded, in code).

`benchmarks.rules_synth` makes rules of a few bare terms each. The default pack (``rules/``)
looks different, and so does its cost: every rule names lexicons (``%attack_terms%``, dozens
of English and Arabic terms each) through ``|expand``, most of its selections are ``near``,
``onear`` or ``sentence`` pairs of two lexicons, and each rule excludes what is not an event
(drills, denials, aid convoys) with ``and not`` selections shaped the same way. Here a pack of
the same shape is built at any size:

* Lexicons: one per two rules (24 to 1,500), of 12-40 terms from the made-up vocabulary of
  `rules_synth` (so no term is an English word by accident), a quarter of them two-word
  phrases, each lexicon also holding its terms in Arabic letters (``arabize``), a few as
  ``verbs``; a tenth of the lexicons are places with a ``canonical`` id (entities).
* Rules (per rule, seeded): a topic selection, one lexicon, alone or with a second via
  ``near=4..15`` (30% of rules), ``onear=2..8`` (10%) or ``sentence`` (10%), the rest plain
  any-of; a context selection (another lexicon, any-of, or with ``min=2`` in 10% of rules);
  in 10% of rules a ``score`` selection of weighted terms instead of the context; in 10% a
  regex with a literal (``word\\s+\\d+``); in 60% an ``and not`` exclusion, a ``near`` or
  ``sentence`` pair of exclusion lexicons; ``suffixes`` on a fifth of the lexicon entries.
* `plain_pack`: the same pack with every ``near``/``onear``/``sentence`` entry replaced by
  the plain all-term selection (``|all``): the baseline of "what proximity costs".
* Items: about 2 KB, English, and 30% in Arabic letters with clitics on some terms; about
  one word in ten comes from the lexicons, and terms of related lexicons (those one rule
  names together) are dropped into the same sentence now and then, so proximity holds for
  a fair share of candidates and fails for the rest, as in real news.
"""

from __future__ import annotations

import json
import random
from itertools import accumulate
from pathlib import Path

from .rules_synth import arabize, vocabulary

__all__ = ["make_pack", "make_pack_items", "plain_pack", "write_pack"]

_CLITICS = ("و", "ب", "ال", "بال", "لل", "وال")
_PROXIMITY = ("|near=", "|onear=", "|sentence")
#: Share of an item's words taken from the lexicons, and of its sentences given two words of
#: two lexicons close together (tuned so that an item matches about half a rule at 2,000
#: rules, as real news on a real pack does, while hitting dozens of lexicon terms).
LEXICON_WORDS = 0.01
PAIRED_SENTENCES = 0.1
LEXICON_SKEW = 0.6
#: Share of items naming one of the specific phrases (``explicit`` selections).
PHRASE_ITEMS = 0.3


def _lexicons(rng: random.Random, count: int, terms: list[str]) -> list[dict[str, object]]:
    """`count` lexicons; each draws from its own slice of the vocabulary (mostly disjoint)."""
    out = []
    per = max(40, len(terms) // max(count, 1))
    for n in range(count):
        at = (n * per) % len(terms)
        pool = terms[at : at + per]
        size = rng.randint(12, 40)
        english = []
        for _ in range(size):
            if rng.random() < 0.25:
                english.append(f"{rng.choice(pool)} {rng.choice(pool)}")
            else:
                english.append(rng.choice(pool))
        english = list(dict.fromkeys(english))
        arabic = list(dict.fromkeys(arabize(t) for t in english[: size // 2]))
        lex: dict[str, object] = {"lexicon": f"lex{n}", "kind": "term"}
        if n % 10 == 0:
            lex.update(kind="place", canonical=f"place:p{n}")
        lex["terms"] = english + arabic[: len(arabic) - 2]
        lex["verbs"] = arabic[len(arabic) - 2 :]
        out.append(lex)
    return out


def _phrase_lexicons(count: int, terms: list[str]) -> list[dict[str, object]]:
    """`count` lexicons of 5-10 three-word phrases (``movement_phrases``: "troops crossed
    into"), English and Arabic: specific, so an item names one now and then."""
    rng = random.Random(count)
    out = []
    for n in range(count):
        english = [" ".join(rng.sample(terms, 3)) for _ in range(rng.randint(5, 10))]
        arabic = [arabize(t) for t in english[:3]]
        out.append({"lexicon": f"phr{n}", "kind": "term", "terms": english + arabic})
    return out


def _lexicon_count(rules: int) -> int:
    """Lexicons of a pack of `rules` rules: one per two rules, at least 24 (a small pack
    still names many concepts), at most 1,500 (a large pack reuses them: 10,000 rules are
    many places and actors crossed with the same movement, attack and denial words)."""
    return max(24, min(rules // 2, 1500))


def _lexicon_weights(count: int) -> list[float]:
    """Cumulative Zipf-like weights of the lexicons: a few (``attack_terms``,
    ``force_nouns``) are named by many rules and common in text, most by a few."""
    return list(accumulate(1.0 / (i + 1) ** LEXICON_SKEW for i in range(count)))


def make_pack(count: int, seed: int = 5) -> dict[str, str]:
    """Return ``{file name: YAML text}``: lexicons and `count` rules shaped like ``rules/``."""
    rng = random.Random(seed)
    terms, _ = vocabulary()
    n_lex = _lexicon_count(count)
    lexicons = _lexicons(rng, n_lex, terms)
    lex_weights = _lexicon_weights(n_lex)
    phrases = _phrase_lexicons(n_lex, terms)
    rules = []
    for n in range(count):
        # What the rule is about (a place, an actor: specific lexicons, any of them) and
        # the words around it (movement, denial: common lexicons, the same few for many rules).
        lex = [rng.randrange(n_lex)]
        while len(lex) < 6:
            pick = rng.choices(range(n_lex), cum_weights=lex_weights)[0]
            if pick not in lex:
                lex.append(pick)
        ref = [f"%lex{i}%" for i in lex]
        rare = f"%phr{rng.randrange(len(phrases))}%"  # a list of specific phrases
        sfx = "|suffixes" if rng.random() < 0.2 else ""

        def near(values: list[str], kind: str = "near", sfx: str = sfx) -> str:
            if kind == "sentence":
                mod = "|sentence"
            else:
                mod = f"|{kind}={rng.randint(2, 8) if kind == 'onear' else rng.randint(4, 15)}"
            return f"    text|expand{sfx}{mod}: {json.dumps(values)}"

        # As troop-movement.yaml: an explicit phrase list, or a force near a movement word
        # (any order) or sent (in order), unless it is talk of it; never in a denial.
        sels = {
            "explicit": f"    text|expand: {json.dumps(rare)}",
            "moved": near([ref[0], ref[1]]),
            "sent": near([ref[2], ref[0]], "onear"),
            "talk": near([ref[3], ref[1]], rng.choice(["near", "sentence"])),
            "denied": near([ref[4], ref[1], ref[0]], "sentence"),
        }
        condition = "(explicit or ((moved or sent) and not talk)) and not denied"
        extra = rng.random()
        if extra < 0.1:  # a weighted context (score)
            weights = {rng.choice(terms): w for w in (2, 1, 1, -1)}
            sels["context"] = f"    text|score=2: {json.dumps(weights)}"
            condition = f"({condition}) and context"
        elif extra < 0.2:  # a repeated context word (min)
            sels["context"] = f"    text|expand|min=2: {json.dumps(ref[5])}"
            condition = f"({condition}) and context"
        if rng.random() < 0.1:  # a regex with a literal, as "convoy\s+\d+"
            word = rng.choice(terms)
            sels["number"] = f"    text|re: '(?i){word}\\s+\\d+'"
            condition = f"number or {condition}"
        detection = "".join(f"  {name}:\n{body}\n" for name, body in sels.items())
        rules.append(
            f"id: pack-{n}\ntitle: Realistic rule {n}\nlevel: medium\n"
            f"detection:\n{detection}  condition: {condition}\n"
        )
    lexicon_docs = []
    for lex in lexicons + phrases:
        lines = [f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in lex.items()]
        lexicon_docs.append("\n".join(lines) + "\n")
    return {"lexicons.yaml": "---\n".join(lexicon_docs), "rules.yaml": "---\n".join(rules)}


def plain_pack(pack: dict[str, str]) -> dict[str, str]:
    """The same pack with every near/onear/sentence entry made a plain all-term selection."""
    lines = []
    for line in pack["rules.yaml"].split("\n"):
        key, sep, rest = line.partition(": ")
        if sep and any(p in key for p in _PROXIMITY):
            key = key.split("|near=")[0].split("|onear=")[0].replace("|sentence", "") + "|all"
        lines.append(key + sep + rest)
    return {**pack, "rules.yaml": "\n".join(lines)}


def write_pack(folder: Path, pack: dict[str, str]) -> Path:
    """Write `pack`'s files into `folder` (created) and return it, for ``load_rules``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in pack.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def make_pack_items(
    count: int, pack_size: int, seed: int = 13, size: int = 2000, arabic: float = 0.3
) -> list[dict[str, str]]:
    """`count` news-like items of about `size` characters for a pack of `pack_size` rules.

    Lexicon words make about one word in ten (skewed: some are as common as "attack"), and
    one sentence in four carries two words of lexicons one rule names together.
    """
    rng = random.Random(seed)
    terms, filler = vocabulary()
    pack_rng = random.Random(5)
    n_lex = _lexicon_count(pack_size)
    lexicons = _lexicons(pack_rng, n_lex, terms)
    lex_terms = [[t for t in lex["terms"] if t.isascii()] for lex in lexicons]  # type: ignore[union-attr]
    weights = [1.0 / (i + 1) for i in range(len(filler))]
    lex_weights = _lexicon_weights(n_lex)
    phrase_lexicons = _phrase_lexicons(n_lex, terms)
    items = []
    for n in range(count):
        in_arabic = rng.random() < arabic
        sentences: list[str] = []
        length = 0
        while length < size:
            words = rng.choices(filler, weights, k=rng.randint(8, 22))
            for i in range(len(words)):
                if rng.random() < LEXICON_WORDS:
                    lex = rng.choices(lex_terms, cum_weights=lex_weights)[0]
                    words[i] = rng.choice(lex)
            if rng.random() < PAIRED_SENTENCES:
                first, second = rng.choices(range(n_lex), cum_weights=lex_weights, k=2)
                at = rng.randrange(len(words))
                words.insert(at, rng.choice(lex_terms[first]))
                words.insert(at + rng.randint(1, 6), rng.choice(lex_terms[second]))
            if rng.random() < 0.2:
                words.insert(rng.randrange(len(words)), str(rng.randint(2, 2000)))
            if in_arabic:
                words = [
                    (rng.choice(_CLITICS) if rng.random() < 0.2 else "") + arabize(w)
                    if not w.isdigit()
                    else w
                    for w in words
                ]
                sentence = " ".join(words) + rng.choice([".", ".", "،", "؟"])
            else:
                sentence = " ".join(words)
                sentence = sentence[0].upper() + sentence[1:] + rng.choice([".", ".", ",", ";"])
            sentences.append(sentence)
            length += len(sentence) + 1
        if rng.random() < PHRASE_ITEMS:
            phrase = str(rng.choice(rng.choice(phrase_lexicons)["terms"]))  # type: ignore[index]
            at = rng.randrange(len(sentences))
            sentences[at] = phrase + " " + sentences[at]
        body = " ".join(sentences)
        title = body[: body.find(" ", 60)] if len(body) > 80 else body
        items.append(
            {"id": f"item-{n}", "title": title, "summary": body[:300], "content": body[300:]}
        )
    return items

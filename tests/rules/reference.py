"""A slow reference evaluator, written for clarity, to check the compiled engine against.

It shares only the *definitions* with the engine (the loaded rule model, `normalize_tokens`,
`sentence_breaks`, RE2 for regexes) and none of the machinery: no scanner, no presearcher, no
offsets, no memo. Every term is searched by comparing word lists at every position; proximity
is checked over every combination of occurrences.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import re2

from monitor.rules import Rule, normalize_tokens
from monitor.rules._model import And, FieldMatch, Not, Or, Ref, Term
from monitor.rules._normalize import sentence_breaks

TEXT = ("title", "summary", "content")


def _fields_of(fm: FieldMatch) -> tuple[str, ...]:
    return TEXT if fm.field == "text" else (fm.field,)


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name) or ""
    return value if isinstance(value, str) else "; ".join(value)


def _positions(words: list[str], cased_words: list[str], term: Term) -> list[int]:
    """Every index where `term` starts in `words` (checking case when the term is cased)."""
    want = list(term.tokens)
    want_cased = normalize_tokens(term.text, cased=True)
    found = []
    for i in range(len(words) - len(want) + 1):
        window = words[i : i + len(want)]
        cased_window = cased_words[i : i + len(want)]
        if term.prefix:
            ok = window[:-1] == want[:-1] and window[-1].startswith(want[-1])
            if ok and term.cased:
                ok = cased_window[:-1] == want_cased[:-1] and cased_window[-1].startswith(
                    want_cased[-1]
                )
        else:
            ok = window == want and (not term.cased or cased_window == want_cased)
        if ok:
            found.append(i)
    return found


def _occurrences(item: Mapping[str, Any], name: str, slot_terms: tuple[Term, ...]) -> list[int]:
    text = _text(item, name)
    words = normalize_tokens(text)
    cased = normalize_tokens(text, cased=True)
    return sorted(p for t in slot_terms for p in _positions(words, cased, t))


def _keyword_count(item: Mapping[str, Any], name: str, term: Term) -> int:
    raw = item.get(name)
    values = [raw] if isinstance(raw, str) else list(raw or [])
    count = 0
    for value in values:
        have = value if term.cased else value.strip().casefold()
        count += have == term.text or (term.prefix and have.startswith(term.text))
    return count


def _count(item: Mapping[str, Any], fm: FieldMatch, terms: tuple[Term, ...]) -> int:
    total = 0
    for name in _fields_of(fm):
        for term in terms:
            if term.kind == "keyword":
                total += _keyword_count(item, name, term)
            elif term.kind == "regex":
                options = re2.Options()
                options.case_sensitive = not fm.ignore_case
                total += len(list(re2.compile(term.text, options).finditer(_text(item, name))))
            else:
                total += len(_occurrences(item, name, (term,)))
    return total


def _proximity_in(item: Mapping[str, Any], fm: FieldMatch, name: str) -> bool:
    per_slot = [_occurrences(item, name, s.terms) for s in fm.slots]
    if not all(per_slot):
        return False
    for combo in itertools.product(*per_slot):
        if fm.mode == "near" and max(combo) - min(combo) <= fm.window:
            return True
        if (
            fm.mode == "onear"
            and all(a < b for a, b in itertools.pairwise(combo))
            and combo[-1] - combo[0] <= fm.window
        ):
            return True
    return False


def _sentence_in(item: Mapping[str, Any], fm: FieldMatch, name: str) -> bool:
    text = _text(item, name)
    cuts = [0, *sentence_breaks(text), len(text)]
    for start, end in itertools.pairwise(cuts):
        sentence = {"s": text[start:end]}
        if all(_occurrences(sentence, "s", s.terms) for s in fm.slots):
            return True
    return False


def field_holds(item: Mapping[str, Any], fm: FieldMatch) -> bool:
    """Whether one ``field|modifiers: values`` entry holds, computed the slow way."""
    if fm.mode == "any":
        return sum(_count(item, fm, s.terms) for s in fm.slots) >= fm.min_count
    if fm.mode == "all":
        return all(_count(item, fm, s.terms) >= fm.min_count for s in fm.slots)
    if fm.mode == "score":
        return sum(s.weight for s in fm.slots if _count(item, fm, s.terms)) >= fm.score
    if fm.mode == "sentence":
        return any(_sentence_in(item, fm, n) for n in _fields_of(fm))
    return any(_proximity_in(item, fm, n) for n in _fields_of(fm))


def _node(node: Any, sel: dict[str, bool]) -> bool:
    if isinstance(node, Ref):
        return sel[node.name]
    if isinstance(node, Not):
        return not _node(node.arg, sel)
    if isinstance(node, And):
        return all(_node(a, sel) for a in node.args)
    if isinstance(node, Or):
        return any(_node(a, sel) for a in node.args)
    raise TypeError(node)


def rule_matches(rule: Rule, item: Mapping[str, Any]) -> bool:
    """Whether `rule` matches `item`: every selection evaluated, then the condition."""
    sel = {
        s.name: any(all(field_holds(item, fm) for fm in group) for group in s.alternatives)
        for s in rule.detection
    }
    return _node(rule.condition, sel)

"""Compile a rule set once: one term automaton, a presearcher, per-rule evaluation plans.

Every phrase term of every rule and lexicon becomes one key of a single Aho-Corasick
automaton (pyahocorasick) over the normalized text: a whole word or phrase ``t`` is the key
``" t "`` and a prefix ``t*`` is ``" t"``, so one scan of ``" w1 w2 ... "`` finds every term on
word boundaries. Equal terms written differently ("al-Tanf", "Al Tanf") share one key.

The presearcher: for each rule, a set of term ids of which at least one must be present for
the rule to possibly match (derived from the condition: an OR needs one of its branches, an AND
needs any one of its parts, a NOT needs nothing). Per item only rules reached from the hit
terms are evaluated, plus the few rules with no such set ("always" rules, warned about by
``rules check``). Cost per item grows with text length and hits, barely with the rule count.
"""

from __future__ import annotations

from typing import Any

import ahocorasick
import attrs

from ._build import compile_regex
from ._model import And, FieldMatch, Lexicon, Node, Not, Ref, Rule, Term
from ._normalize import normalize_tokens

__all__ = ["CField", "CRule", "CSlot", "CompiledRules", "compile_rules", "term_key"]

_TEXT_SOURCES = {"text": ("title", "summary", "content")}
ENTITY_FIELDS = ("title", "summary", "content")


def term_key(term: Term) -> str:
    """The automaton key of a phrase term: padded with spaces on word boundaries."""
    return " " + " ".join(term.tokens) + ("" if term.prefix else " ")


@attrs.frozen
class CSlot:
    """A compiled slot: ``(term id, term)`` alternatives, or compiled regexes, or keywords."""

    label: str
    phrases: tuple[tuple[int, Term], ...] = ()
    regexes: tuple[Any, ...] = ()
    keywords: tuple[Term, ...] = ()
    weight: float = 1.0


@attrs.frozen
class CField:
    """A compiled field match: where to look (``fields``) and the slots to find there."""

    source: FieldMatch
    fields: tuple[str, ...]
    slots: tuple[CSlot, ...]
    keyword: bool


@attrs.frozen
class CRule:
    """A compiled rule: selections (OR of ANDs of `CField`) and the condition tree."""

    rule: Rule
    selections: dict[str, tuple[tuple[CField, ...], ...]]
    condition: Node
    positive: frozenset[str]
    necessary: frozenset[int] | None


@attrs.frozen
class CompiledRules:
    """Everything the matcher needs, built once per rule set; immutable after building."""

    automaton: Any
    rules: tuple[CRule, ...]
    tid_rules: tuple[tuple[int, ...], ...]
    always: tuple[int, ...]
    tid_entities: dict[int, tuple[tuple[str, Term], ...]]
    scan_fields: tuple[str, ...]


class _Interner:
    def __init__(self) -> None:
        self.keys: dict[str, int] = {}

    def tid(self, term: Term) -> int:
        key = term_key(term)
        tid = self.keys.get(key)
        if tid is None:
            tid = self.keys[key] = len(self.keys)
        return tid


def _compile_field(fm: FieldMatch, interner: _Interner, regex_cache: dict[Any, Any]) -> CField:
    slots = []
    for slot in fm.slots:
        phrases, regexes, keywords = [], [], []
        for term in slot.terms:
            if term.kind == "phrase":
                phrases.append((interner.tid(term), term))
            elif term.kind == "regex":
                key = (term.text, fm.ignore_case)
                if key not in regex_cache:
                    regex_cache[key] = compile_regex(term.text, fm.ignore_case)
                regexes.append(regex_cache[key])
            else:
                keywords.append(term)
        slots.append(
            CSlot(slot.label, tuple(phrases), tuple(regexes), tuple(keywords), slot.weight)
        )
    fields = _TEXT_SOURCES.get(fm.field, (fm.field,))
    return CField(
        fm,
        fields,
        tuple(slots),
        keyword=not any(s.phrases for s in slots) and any(s.keywords for s in slots),
    )


def _best(options: list[frozenset[int]]) -> frozenset[int] | None:
    """Among sufficient alternatives, the smallest set is the most selective presearch key."""
    return min(options, key=len) if options else None


def _field_necessary(cf: CField) -> frozenset[int] | None:
    def slot_tids(slot: CSlot) -> frozenset[int] | None:
        if slot.regexes or slot.keywords or not slot.phrases:
            return None
        return frozenset(tid for tid, _ in slot.phrases)

    fm = cf.source
    if fm.mode == "score":
        if fm.score is None or fm.score <= 0:
            return None
        positive = [slot_tids(s) for s in cf.slots if s.weight > 0]
        if not positive or any(p is None for p in positive):
            return None
        return frozenset().union(*positive)  # type: ignore[arg-type]
    per_slot = [slot_tids(s) for s in cf.slots]
    if fm.mode == "any":
        if any(p is None for p in per_slot):
            return None
        return frozenset().union(*per_slot)  # type: ignore[arg-type]
    return _best([p for p in per_slot if p is not None])


def _node_necessary(node: Node, sels: dict[str, frozenset[int] | None]) -> frozenset[int] | None:
    if isinstance(node, Ref):
        return sels.get(node.name)
    if isinstance(node, Not):
        return None
    parts = [_node_necessary(a, sels) for a in node.args]  # type: ignore[union-attr]
    if isinstance(node, And):
        return _best([p for p in parts if p is not None])
    if any(p is None for p in parts):
        return None
    return frozenset().union(*parts)  # type: ignore[arg-type]


def _positive(node: Node, negated: bool = False) -> set[str]:
    if isinstance(node, Ref):
        return set() if negated else {node.name}
    if isinstance(node, Not):
        return _positive(node.arg, not negated)
    return set().union(*(_positive(a, negated) for a in node.args))  # type: ignore[union-attr]


def compile_rules(rules: tuple[Rule, ...], lexicons: tuple[Lexicon, ...]) -> CompiledRules:
    """Build the automaton, the presearcher index and the per-rule plans."""
    interner = _Interner()
    regex_cache: dict[Any, Any] = {}
    compiled = []
    fields_used: set[str] = set(ENTITY_FIELDS)
    for rule in rules:
        selections = {}
        sel_necessary: dict[str, frozenset[int] | None] = {}
        for sel in rule.detection:
            alternatives = []
            alt_necessary = []
            for group in sel.alternatives:
                cfields = tuple(_compile_field(fm, interner, regex_cache) for fm in group)
                alternatives.append(cfields)
                fields_used.update(f for cf in cfields for f in cf.fields)
                alt_necessary.append(
                    _best([n for cf in cfields if (n := _field_necessary(cf)) is not None])
                )
            selections[sel.name] = tuple(alternatives)
            sel_necessary[sel.name] = (
                None if any(n is None for n in alt_necessary) else frozenset().union(*alt_necessary)  # type: ignore[arg-type]
            )
        compiled.append(
            CRule(
                rule,
                selections,
                rule.condition,
                frozenset(_positive(rule.condition)),
                _node_necessary(rule.condition, sel_necessary),
            )
        )
    tid_entities: dict[int, list[tuple[str, Term]]] = {}
    for lex in lexicons:
        if lex.kind not in ("place", "actor") or not lex.canonical:
            continue
        for text, cased in [(t, False) for t in lex.terms] + [(t, True) for t in lex.cased]:
            prefix = text.endswith("*")
            tokens = tuple(normalize_tokens(text.rstrip("*")))
            if not tokens:
                continue
            term = Term(text=text.rstrip("*"), tokens=tokens, prefix=prefix, cased=cased)
            tid_entities.setdefault(interner.tid(term), []).append((lex.canonical, term))
    tid_rules: list[list[int]] = [[] for _ in range(len(interner.keys))]
    always = []
    for index, crule in enumerate(compiled):
        if crule.necessary is None:
            always.append(index)
        else:
            for tid in crule.necessary:
                tid_rules[tid].append(index)
    automaton = ahocorasick.Automaton()
    for key, tid in interner.keys.items():
        automaton.add_word(key, (tid, len(key)))
    if interner.keys:
        automaton.make_automaton()
    else:
        automaton = None
    return CompiledRules(
        automaton=automaton,
        rules=tuple(compiled),
        tid_rules=tuple(tuple(r) for r in tid_rules),
        always=tuple(always),
        tid_entities={k: tuple(v) for k, v in tid_entities.items()},
        scan_fields=tuple(
            f for f in ("title", "summary", "content", "author", "url") if f in fields_used
        ),
    )

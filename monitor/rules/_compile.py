"""Compile a rule set once: one term scanner, a presearcher, per-rule evaluation plans.

Every phrase term of every rule and lexicon gets one term id (equal terms written differently,
"al-Tanf" and "Al Tanf", share it) and goes into one scanner (see `_scan`) that finds all of
them in one pass over an item's normalized words, on word boundaries.

The presearcher: for each rule, a list of clauses (sets of term ids) derived from its
condition, each of which must have a hit for the rule to possibly match: an AND needs the
clauses of all its parts, an OR needs one term of its branches, a NOT needs nothing, and in a
``|all`` or ``|near`` entry every value is its own clause. The smallest clause is indexed
(term id -> rules); per item, rules reached from the hit terms whose other clauses are hit too
are evaluated, plus the few rules with no clause at all ("always" rules, warned about by
``rules check``). Cost per item grows with text length and hits, barely with the rule count.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import chain
from typing import Any

import attrs

from ._arabic import has_variants, term_variants
from ._build import compile_regex
from ._literals import required_literal
from ._model import TEXT_FIELDS, And, FieldMatch, Lexicon, Node, Not, Or, Ref, Rule, Term
from ._normalize import normalize_tokens
from ._scan import SCANNERS, AhoScanner, TokenScanner, term_key

__all__ = ["CField", "CRule", "CSlot", "CompiledRules", "compile_rules"]

_TEXT_SOURCES = {"text": ("title", "summary", "content")}
ENTITY_FIELDS = ("title", "summary", "content")


@attrs.frozen
class CSlot:
    """A compiled slot: ``(term id, term)`` alternatives, or compiled regexes, or keywords.

    ``regex_literals`` holds, for each regex, the term id of the literal it cannot match
    without (see `_literals`), or -1: where that term was not hit, the regex is not run.
    """

    label: str
    phrases: tuple[tuple[int, Term], ...] = ()
    regexes: tuple[Any, ...] = ()
    keywords: tuple[Term, ...] = ()
    weight: float = 1.0
    regex_literals: tuple[int, ...] = ()
    #: term id -> term of ``phrases``: a slot expanded from a lexicon holds hundreds of terms
    #: and an item hits a few dozen, so the hot path walks the hits and looks them up here.
    index: dict[int, tuple[Term, ...]] = attrs.field(eq=False, default=attrs.Factory(dict))
    #: Equal phrase lists get one key across the whole rule set (every ``%force_nouns%`` of
    #: every rule): the matcher computes a slot's occurrences in a field once per item, under
    #: this key, and every candidate rule that names the lexicon reuses them.
    key: int = attrs.field(eq=False, default=-1)

    def hit_phrases(self, hits: Mapping[int, Any]) -> list[tuple[int, Term]]:
        """The ``(term id, term)`` pairs of this slot whose term id is in `hits`. Walks the
        smaller side; callers sort or count, so the order does not matter."""
        index = self.index
        if len(hits) < len(index):
            return [(tid, term) for tid in hits if tid in index for term in index[tid]]
        return [(tid, term) for tid, term in self.phrases if tid in hits]


@attrs.frozen
class CField:
    """A compiled field match: where to look (``fields``) and the slots to find there."""

    source: FieldMatch
    fields: tuple[str, ...]
    slots: tuple[CSlot, ...]
    keyword: bool
    #: Entries that test the same thing (same fields, modifiers and slots, written in several
    #: rules) share a key: the matcher evaluates one once per item, whichever rule asks.
    key: int = attrs.field(eq=False, default=-1)


@attrs.frozen
class CRule:
    """A compiled rule: selections (OR of ANDs of `CField`) and the condition tree."""

    rule: Rule
    selections: dict[str, tuple[tuple[CField, ...], ...]]
    condition: Node
    positive: frozenset[str]
    clauses: tuple[frozenset[int], ...]

    @property
    def necessary(self) -> frozenset[int] | None:
        """The clause the presearcher indexes (the first), or None: always evaluated."""
        return self.clauses[0] if self.clauses else None


@attrs.frozen
class CompiledRules:
    """Everything the matcher needs, built once per rule set; immutable after building."""

    scanner: TokenScanner | AhoScanner
    rules: tuple[CRule, ...]
    tid_rules: tuple[tuple[int, ...], ...]
    always: tuple[int, ...]
    rest_clauses: dict[int, tuple[frozenset[int], ...]]
    tid_entities: dict[int, tuple[tuple[str, Term], ...]]
    scan_fields: tuple[str, ...]
    #: term id -> keys of the slots holding it (`CSlot.key`): which slots an item's hits
    #: touch, found once per field instead of by every candidate rule.
    tid_slots: tuple[tuple[int, ...], ...] = ()
    #: rule index -> its condition's branches (an OR of ANDs of clauses, see `_branches`),
    #: for rules whose single presearch clause says less: a candidate must have one branch
    #: whose clauses are all hit.
    #: Each clause is an id into ``clause_sets``: the matcher tests a clause shared by many
    #: rules (a lexicon's terms) once per item.
    branches: dict[int, tuple[tuple[int, ...], ...]] = attrs.Factory(dict)
    clause_sets: tuple[frozenset[int], ...] = ()
    #: term id -> every written form the scanner searches for it (see `_Interner`).
    tid_forms: tuple[tuple[Term, ...], ...] = ()
    #: term id -> the item fields some rule searches it in.
    tid_fields: tuple[frozenset[str], ...] = ()


class _Interner:
    """Gives equal terms ("al-Tanf", "Al Tanf") one id, so the scanner searches them once.

    A term id stands for a term and every written form of it: an Arabic term's clitic forms
    (`_arabic.term_variants`: التنف، بالتنف، للتنف...) share its id, so a rule set holds one
    id per term whatever the number of forms, and the scanner reports the term wherever any
    form occurs. Two terms whose forms overlap (قاعدة and القاعدة) keep their own ids.
    """

    def __init__(self) -> None:
        self.keys: dict[Any, int] = {}
        self.forms: list[tuple[Term, ...]] = []

    def tid(self, term: Term, suffixes: bool = False) -> int:
        """The id of `term` (with its forms; `suffixes` adds attached pronouns)."""
        key: Any = term_key(term)
        if has_variants(term):
            key = (key, term.verb, suffixes)
        tid = self.keys.get(key)
        if tid is None:
            tid = self.keys[key] = len(self.keys)
            self.forms.append(term_variants(term, suffixes))
        return tid

    def scanner_terms(self) -> list[tuple[int, Term]]:
        """``(term id, form)`` for every form of every term: what a scanner indexes."""
        return [(tid, form) for tid, forms in enumerate(self.forms) for form in forms]


def _phrase_index(phrases: Any) -> dict[int, tuple[Term, ...]]:
    index: dict[int, tuple[Term, ...]] = {}
    for tid, term in phrases:
        index[tid] = (*index.get(tid, ()), term)
    return index


def _intern(keys: dict[Any, int], content: Any) -> int:
    """The id of `content` in `keys` (a new one when unseen)."""
    found = keys.get(content)
    if found is None:
        found = keys[content] = len(keys)
    return found


def _compile_field(
    fm: FieldMatch,
    interner: _Interner,
    regex_cache: dict[Any, Any],
    keys: dict[Any, int],
    shared_slots: dict[int, Any],
) -> CField:
    fields = _TEXT_SOURCES.get(fm.field, (fm.field,))
    # Only scanned text fields have hits to presearch a regex's literal with.
    scanned = all(f in TEXT_FIELDS for f in fields)
    slots = []
    for slot in fm.slots:
        phrases, regexes, literals, keywords = [], [], [], []
        for term in slot.terms:
            if term.kind == "phrase":
                # An Arabic term is searched in every written form it takes with clitics.
                phrases.append((interner.tid(term, fm.suffixes), term))
            elif term.kind == "regex":
                key = (term.text, fm.ignore_case)
                if key not in regex_cache:
                    regex_cache[key] = compile_regex(term.text, fm.ignore_case)
                regexes.append(regex_cache[key])
                literal = required_literal(term.text) if scanned else None
                literals.append(
                    interner.tid(Term(literal, kind="literal")) if literal is not None else -1
                )
            else:
                keywords.append(term)
        unique = tuple(dict.fromkeys(phrases))  # equal terms ("al-Tanf", "Al Tanf") once
        key = _intern(keys, ("slot", unique))
        # Equal slots (one lexicon named by many rules) share one phrase tuple and one index:
        # at 10,000 rules, per-rule copies of hundreds of expanded terms were most of the
        # compiled plans' memory.
        shared = shared_slots.get(key)
        if shared is None:
            shared = shared_slots[key] = (unique, _phrase_index(unique))
        slots.append(
            CSlot(
                slot.label,
                shared[0],
                tuple(regexes),
                tuple(keywords),
                slot.weight,
                tuple(literals),
                shared[1],
                key=key,
            )
        )
    # What decides the entry's result and evidence, and nothing else (not its location).
    content = (
        "field",
        fields,
        fm.mode,
        fm.window,
        fm.min_count,
        fm.score,
        fm.ignore_case,
        tuple(
            (s.key, s.weight, tuple(t.text for t in slot.terms if t.kind == "regex"), s.keywords)
            for s, slot in zip(slots, fm.slots, strict=True)
        ),
    )
    return CField(
        fm,
        fields,
        tuple(slots),
        keyword=not any(s.phrases for s in slots) and any(s.keywords for s in slots),
        key=_intern(keys, content),
    )


Clauses = tuple[frozenset[int], ...]


def _and(parts: list[Clauses], usage: Mapping[int, int]) -> Clauses:
    """All parts must hold: every clause of every part is necessary (the rarest first).

    Rarest by `usage`, a term's use across the rule set (see `_choose_index_clauses`): an
    ``or`` above keeps only the first clause of each branch, so in ``moved or sent`` the
    presearcher then asks for the rule's place name, not for any word of a movement lexicon
    that half the pack shares. Any clause would be correct; a rarer one makes fewer
    candidates.
    """
    return tuple(
        sorted(
            {c for part in parts for c in part},
            key=lambda c: (sum(usage.get(t, 0) for t in c), len(c), sorted(c)),
        )
    )


def _or(parts: list[Clauses]) -> Clauses:
    """One part must hold: a hit from the first (rarest) clause of some part is necessary."""
    if not parts or any(not p for p in parts):
        return ()
    if len(parts) == 1:
        return parts[0]
    return (frozenset().union(*(p[0] for p in parts)),)


def _field_clauses(cf: CField, usage: Mapping[int, int]) -> Clauses:
    def slot_tids(slot: CSlot) -> Clauses:
        # A slot holds when one of its alternatives does: each needs a hit of its own term,
        # or of its regex's literal; a keyword or a regex without literal can hold unseen.
        if slot.keywords or -1 in slot.regex_literals or not (slot.phrases or slot.regexes):
            return ()
        return (frozenset(tid for tid, _ in slot.phrases).union(slot.regex_literals),)

    fm = cf.source
    if fm.mode == "score":
        if fm.score is None or fm.score <= 0:
            return ()
        return _or([slot_tids(s) for s in cf.slots if s.weight > 0])
    per_slot = [slot_tids(s) for s in cf.slots]
    return _or(per_slot) if fm.mode == "any" else _and(per_slot, usage)


def _node_clauses(node: Node, sels: dict[str, Clauses], usage: Mapping[int, int]) -> Clauses:
    if isinstance(node, Ref):
        return sels.get(node.name, ())
    if isinstance(node, Not):
        return ()
    parts = [_node_clauses(a, sels, usage) for a in node.args]  # type: ignore[union-attr]
    return _and(parts, usage) if isinstance(node, And) else _or(parts)


Branches = tuple[tuple[frozenset[int], ...], ...]
#: A condition with more branches than this is not expanded (``(a or b) and (c or d) ...``
#: multiplies them); its rule keeps the one-clause presearch only.
_MAX_BRANCHES = 32


def _branches(node: Node, sels: dict[str, Branches | None]) -> Branches | None:
    """The condition as an OR of ANDs of clauses (each branch: clauses that must all be hit
    for that way of matching), or None when too large.

    The presearch index keeps one clause per rule, and an ``or`` keeps one clause per
    branch: for ``(moved or sent) and not talk``, "the place name is here". The branches
    keep the rest: "the place name and a movement word, or the place name and a sending
    word". Every branch is a necessary condition of its way of matching, so a rule none of
    whose branches is fully hit cannot match, and skipping it changes no result.
    """
    if isinstance(node, Ref):
        return sels.get(node.name)
    if isinstance(node, Not):
        return ((),)
    parts = [_branches(a, sels) for a in node.args]  # type: ignore[union-attr]
    if any(p is None for p in parts):
        return None
    if isinstance(node, Or):
        found = tuple(b for p in parts for b in p)  # type: ignore[union-attr]
    else:
        found = ((),)
        for part in parts:
            found = tuple(tuple(dict.fromkeys(a + b)) for a in found for b in part)  # type: ignore[union-attr]
            if len(found) > _MAX_BRANCHES:
                return None
    return found if len(found) <= _MAX_BRANCHES else None


def _field_cost(cf: CField) -> int:
    if any(slot.regexes for slot in cf.slots):
        return 20  # a regex search runs over the original text, field by field
    if cf.source.mode in ("near", "onear", "sentence") or cf.source.min_count > 1:
        return 4  # needs word positions
    return 1


def _cost(node: Node, selections: dict[str, tuple[tuple[CField, ...], ...]]) -> int:
    if isinstance(node, Ref):
        return sum(_field_cost(cf) for group in selections[node.name] for cf in group)
    if isinstance(node, Not):
        return _cost(node.arg, selections)
    return sum(_cost(a, selections) for a in node.args)  # type: ignore[union-attr]


def _cheap_first(node: Node, selections: dict[str, tuple[tuple[CField, ...], ...]]) -> Node:
    """Reorder the operands of each and/or, cheapest first.

    Evaluation short-circuits, so in ``regex_sel and word_sel`` the regex would run for every
    candidate; ``word_sel and regex_sel`` runs it only when the words are there. The result
    of the condition is the same in any order.
    """
    if isinstance(node, Not):
        return Not(_cheap_first(node.arg, selections))
    if isinstance(node, And | Or):
        args = sorted(
            (_cheap_first(a, selections) for a in node.args), key=lambda a: _cost(a, selections)
        )
        return type(node)(tuple(args))
    return node


def _positive(node: Node, negated: bool = False) -> set[str]:
    if isinstance(node, Ref):
        return set() if negated else {node.name}
    if isinstance(node, Not):
        return _positive(node.arg, not negated)
    return set().union(*(_positive(a, negated) for a in node.args))  # type: ignore[union-attr]


def _choose_index_clauses(compiled: list[CRule]) -> list[CRule]:
    """Put first, in each rule, the clause the presearcher should index.

    Any clause is correct; the best one is the rarest in text. With no text statistics at
    compile time, a term's use across the rule set stands in for its frequency (a term many
    rules mention, like "attack", is a common word): pick the clause with the lowest total
    use, then the fewest terms.
    """
    usage: dict[int, int] = {}
    for crule in compiled:
        for clause in crule.clauses:
            for tid in clause:
                usage[tid] = usage.get(tid, 0) + 1
    result = []
    for crule in compiled:
        if len(crule.clauses) > 1:
            best = min(crule.clauses, key=lambda c: (sum(usage[t] for t in c), len(c), sorted(c)))
            rest = tuple(c for c in crule.clauses if c is not best)
            crule = attrs.evolve(crule, clauses=(best, *rest))
        result.append(crule)
    return result


def compile_rules(
    rules: tuple[Rule, ...], lexicons: tuple[Lexicon, ...], scanner_name: str = "re2set"
) -> CompiledRules:
    """Build the term scanner, the presearcher index and the per-rule plans."""
    interner = _Interner()
    regex_cache: dict[Any, Any] = {}
    keys: dict[Any, int] = {}
    shared_slots: dict[int, Any] = {}
    compiled = []
    fields_used: set[str] = set(ENTITY_FIELDS)
    planned = []
    usage: dict[int, int] = {}
    for rule in rules:
        selections = {}
        for sel in rule.detection:
            alternatives = []
            for group in sel.alternatives:
                cfields = tuple(
                    _compile_field(fm, interner, regex_cache, keys, shared_slots) for fm in group
                )
                alternatives.append(cfields)
                fields_used.update(f for cf in cfields for f in cf.fields)
                for cf in cfields:
                    for slot in cf.slots:
                        for tid in chain(slot.index, slot.regex_literals):
                            usage[tid] = usage.get(tid, 0) + 1
            selections[sel.name] = tuple(alternatives)
        planned.append((rule, selections))
    branches: dict[int, tuple[tuple[int, ...], ...]] = {}
    clause_ids: dict[Any, int] = {}
    for rule, selections in planned:
        sel_ands = {
            name: [_and([_field_clauses(cf, usage) for cf in g], usage) for g in groups]
            for name, groups in selections.items()
        }
        sel_clauses: dict[str, Clauses] = {name: _or(ands) for name, ands in sel_ands.items()}
        found = _branches(
            rule.condition,
            {
                n: tuple(ands) if len(ands) <= _MAX_BRANCHES else None
                for n, ands in sel_ands.items()
            },
        )
        if found is not None and len(found) > 1 and all(found):
            branches[len(compiled)] = tuple(
                tuple(_intern(clause_ids, clause) for clause in way) for way in found
            )
        clauses = _node_clauses(rule.condition, sel_clauses, usage)
        positive = frozenset(_positive(rule.condition))
        condition = _cheap_first(rule.condition, selections)
        compiled.append(CRule(rule, selections, condition, positive, clauses))
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
    compiled = _choose_index_clauses(compiled)
    tid_rules: list[list[int]] = [[] for _ in range(len(interner.keys))]
    always = []
    for index, crule in enumerate(compiled):
        if crule.necessary is None:
            always.append(index)
        else:
            for tid in crule.necessary:
                tid_rules[tid].append(index)
    tid_slots: list[set[int]] = [set() for _ in range(len(interner.keys))]
    tid_fields: list[set[str]] = [set() for _ in range(len(interner.keys))]
    for crule in compiled:
        for groups in crule.selections.values():
            for group in groups:
                for cf in group:
                    for slot in cf.slots:
                        for tid in slot.index:
                            tid_slots[tid].add(slot.key)
                        for tid in chain(slot.index, slot.regex_literals):
                            if tid >= 0:
                                tid_fields[tid].update(cf.fields)
    scanner = SCANNERS[scanner_name](interner.scanner_terms())
    return CompiledRules(
        scanner=scanner,
        rules=tuple(compiled),
        tid_rules=tuple(tuple(r) for r in tid_rules),
        always=tuple(always),
        rest_clauses={i: c.clauses[1:] for i, c in enumerate(compiled) if len(c.clauses) > 1},
        tid_entities={k: tuple(v) for k, v in tid_entities.items()},
        scan_fields=tuple(
            f for f in ("title", "summary", "content", "author", "url") if f in fields_used
        ),
        tid_slots=tuple(tuple(sorted(keys)) for keys in tid_slots),
        branches=branches,
        clause_sets=tuple(clause_ids),
        tid_forms=tuple(interner.forms),
        tid_fields=tuple(frozenset(f) for f in tid_fields),
    )

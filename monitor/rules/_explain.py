"""Explain one rule against one item: which selections matched, where, and why.

Uses the same evaluation functions as the hot path, so an explanation can never disagree with
what `RuleSet.match` does.
"""

from __future__ import annotations

import attrs

from ..events import Evidence
from ._compile import CField, CompiledRules, CRule
from ._evidence import field_evidence, item_entities
from ._match import ItemView, _slot_count, eval_field, eval_node
from ._model import And, Node, Not, Or, Ref

__all__ = ["Explanation", "FieldExplanation", "SelectionExplanation", "explain"]


@attrs.frozen
class FieldExplanation:
    """One ``field|modifiers`` entry: did it hold, why, and where it matched."""

    key: str
    matched: bool
    detail: str
    evidence: tuple[Evidence, ...] = ()


@attrs.frozen
class SelectionExplanation:
    """One selection: did it hold, and its entries (of every alternative, in order)."""

    name: str
    matched: bool
    fields: tuple[FieldExplanation, ...]


@attrs.frozen
class Explanation:
    """Why a rule did or did not match an item."""

    rule_id: str
    matched: bool
    condition: str
    trace: str
    selections: tuple[SelectionExplanation, ...]
    entities: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The explanation as plain text lines (what ``monitor rules explain`` prints)."""
        out = [
            f"rule {self.rule_id}: {'MATCH' if self.matched else 'no match'}",
            f"condition: {self.condition}",
            f"evaluated: {self.trace}",
        ]
        for sel in self.selections:
            out.append(f"selection {sel.name}: {'true' if sel.matched else 'false'}")
            for fe in sel.fields:
                out.append(f"  {fe.key}: {'true' if fe.matched else 'false'} - {fe.detail}")
                for ev in fe.evidence:
                    out.append(f"    {ev.field}[{ev.start}:{ev.end}] {ev.text!r}")
        if self.entities:
            out.append(f"entities: {', '.join(self.entities)}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _labels(cf: CField) -> str:
    return ", ".join(repr(s.label) for s in cf.slots[:6]) + (" ..." if len(cf.slots) > 6 else "")


def _detail(view: ItemView, cf: CField, matched: bool) -> str:
    fm = cf.source
    where = "/".join(cf.fields)
    counts = [(_slot_count(view, cf, s, 10**9), s) for s in cf.slots]
    present = [s.label for n, s in counts if n]
    missing = [s.label for n, s in counts if not n]
    if fm.mode == "score":
        total = sum(s.weight for n, s in counts if n)
        parts = ", ".join(f"{s.label} {s.weight:+g}" for n, s in counts if n) or "no term"
        op = ">=" if matched else "<"
        return f"score {total:g} {op} {fm.score:g} ({parts})"
    if fm.mode == "any":
        total = sum(n for n, _ in counts)
        if not present:
            return f"none of {_labels(cf)} found in {where}"
        if fm.min_count > 1:
            return f"found {total} time(s) ({', '.join(map(repr, present))}), needs {fm.min_count}"
        return f"found {', '.join(map(repr, present))}"
    if missing:
        return f"missing {', '.join(map(repr, missing))} in {where}"
    if fm.mode == "all":
        if not matched:
            short = [s.label for n, s in counts if n < fm.min_count]
            return f"each value needs {fm.min_count} occurrences; too few: {short}"
        return "every value found"
    if matched:
        return {
            "near": f"all found within {fm.window} words",
            "onear": f"all found in order within {fm.window} words",
            "sentence": "all found in one sentence",
        }[fm.mode]
    return {
        "near": f"all found, but never within {fm.window} words of each other",
        "onear": f"all found, but never in this order within {fm.window} words",
        "sentence": "all found, but never in one sentence",
    }[fm.mode]


def _trace(node: Node, memo: dict[str, bool], top: bool = True) -> str:
    if isinstance(node, Ref):
        return f"{node.name}={'true' if memo.get(node.name) else 'false'}"
    if isinstance(node, Not):
        return f"not {_trace(node.arg, memo, False)}"
    joiner = " and " if isinstance(node, And) else " or "
    text = joiner.join(_trace(a, memo, False) for a in node.args)  # type: ignore[union-attr]
    return text if top else f"({text})"


def _all_refs(node: Node) -> list[str]:
    if isinstance(node, Ref):
        return [node.name]
    if isinstance(node, Not):
        return _all_refs(node.arg)
    if isinstance(node, And | Or):
        return [n for a in node.args for n in _all_refs(a)]
    return []


def explain(crule: CRule, view: ItemView, compiled: CompiledRules) -> Explanation:
    """Evaluate `crule` on `view` and say why it matched or not."""
    memo: dict[str, bool] = {}
    for name in crule.selections:  # evaluate all, not just what short-circuiting reaches
        eval_node(Ref(name), crule, view, memo)
    matched = eval_node(crule.condition, crule, view, memo)
    selections = []
    for name, groups in crule.selections.items():
        fields = []
        for group in groups:
            for cf in group:
                ok = eval_field(view, cf)
                evidence = tuple(field_evidence(view, cf, name)) if ok else ()
                fields.append(FieldExplanation(cf.source.key, ok, _detail(view, cf, ok), evidence))
        selections.append(SelectionExplanation(name, memo[name], tuple(fields)))
    trace = _trace(crule.rule.condition, memo)  # as written, not as reordered for speed
    return Explanation(
        rule_id=crule.rule.id,
        matched=matched,
        condition=crule.rule.condition_text,
        trace=f"{trace} -> {'true' if matched else 'false'}",
        selections=tuple(selections),
        entities=item_entities(view, compiled),
    )

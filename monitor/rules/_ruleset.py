"""`RuleSet`: loaded rules, compiled once, matched against items."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..events import ItemReceived
from ._compile import CompiledRules, compile_rules
from ._evidence import item_entities, rule_evidence
from ._explain import Explanation, explain
from ._match import ItemView, Match, item_fields, match_item
from ._model import CorrelationRule, Lexicon, Rule
from ._render import render_annotations

__all__ = ["RuleSet"]

Item = Mapping[str, Any] | ItemReceived


def _canonical(obj: Any) -> Any:
    """The content that identifies a rule: its YAML data as loaded, else its model fields."""
    if obj.source:
        return obj.source
    return attrs.asdict(obj, filter=lambda a, _: a.name not in ("location", "source", "column"))


class RuleSet:
    """An immutable, compiled set of rules, correlation rules and lexicons.

    Build it with `load_rules` (validated, all-or-nothing) or directly from model objects.
    ``scanner`` picks how terms are found ("re2set", the default, "aho" or "token"; see
    ``monitor.rules._scan``); all give the same matches.
    Matching is thread-safe: the compiled scanner and plans are never modified after
    construction, and each call keeps its per-item state to itself.
    ``sources`` names where the rules came from (``load_rules`` sets it); it is not part of
    the hash, which covers the content only.
    """

    def __init__(
        self,
        rules: Iterable[Rule],
        correlations: Iterable[CorrelationRule] = (),
        lexicons: Iterable[Lexicon] = (),
        *,
        scanner: str = "re2set",
        sources: Iterable[str] = (),
    ) -> None:
        self.sources: tuple[str, ...] = tuple(sources)
        self.rules: tuple[Rule, ...] = tuple(sorted(rules, key=lambda r: r.id))
        self.correlations: tuple[CorrelationRule, ...] = tuple(
            sorted(correlations, key=lambda c: c.id)
        )
        self.lexicons: tuple[Lexicon, ...] = tuple(sorted(lexicons, key=lambda x: x.name))
        self._by_id = {r.id: r for r in self.rules}
        self._corr_by_id = {c.id: c for c in self.correlations}
        self._compiled: CompiledRules = compile_rules(self.rules, self.lexicons, scanner)
        self._index = {c.rule.id: c for c in self._compiled.rules}
        content = {
            "rules": [_canonical(r) for r in self.rules],
            "correlations": [_canonical(c) for c in self.correlations],
            "lexicons": [_canonical(x) for x in self.lexicons],
        }
        blob = json.dumps(
            content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
        self.hash: str = hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def __repr__(self) -> str:
        return (
            f"RuleSet({len(self.rules)} rules, {len(self.correlations)} correlations, "
            f"{len(self.lexicons)} lexicons, hash={self.hash[:12]})"
        )

    def __len__(self) -> int:
        return len(self.rules)

    def rule(self, rule_id: str) -> Rule:
        """Return the detection rule `rule_id` (KeyError when there is none)."""
        return self._by_id[rule_id]

    def correlation(self, rule_id: str) -> CorrelationRule:
        """Return the correlation rule `rule_id` (KeyError when there is none)."""
        return self._corr_by_id[rule_id]

    def lexicon(self, name: str) -> Lexicon:
        """Return the lexicon `name` (KeyError when there is none)."""
        for lex in self.lexicons:
            if lex.name == name:
                return lex
        raise KeyError(name)

    def presearch_phrases(self) -> dict[str, tuple[tuple[tuple[str, ...], bool], ...] | None]:
        """Per rule id: phrases (normalized tokens, last-token-is-a-prefix) at least one of
        which an item's title, summary or content must contain for the rule to be able to
        match it, or None when no such list exists (a rule with no indexable term, or whose
        necessary terms are searched in other fields, or are regex literals, found inside
        words). Every written form of each term is listed (Arabic clitic forms included), so
        a word index that holds what `normalize` makes of those fields finds every candidate:
        this is the presearcher's own clause, turned into a query for a search index
        (``monitor backtest`` uses it to evaluate only the items that can match)."""
        compiled = self._compiled
        text_fields = frozenset({"title", "summary", "content"})
        out: dict[str, tuple[tuple[tuple[str, ...], bool], ...] | None] = {}
        for crule in compiled.rules:
            chosen = None
            for clause in crule.clauses:
                forms = [f for tid in sorted(clause) for f in compiled.tid_forms[tid]]
                if all(compiled.tid_fields[tid] <= text_fields for tid in clause) and all(
                    f.kind == "phrase" and f.tokens for f in forms
                ):
                    chosen = tuple(dict.fromkeys((f.tokens, f.prefix) for f in forms))
                    break
            out[crule.rule.id] = chosen
        return out

    def unindexed(self) -> tuple[Rule, ...]:
        """Rules with no indexable term: evaluated for every item (``rules check`` warns)."""
        return tuple(self._compiled.rules[i].rule for i in self._compiled.always)

    def _view(self, item: Item) -> tuple[dict[str, Any], ItemView]:
        fields = item_fields(item)
        return fields, ItemView(fields, self._compiled)

    def match(self, item: Item) -> list[Match]:
        """Return the rules that match `item`, in rule-id order, with evidence and entities.

        `item` is a mapping with any of id, title, summary, content, author, tags, feed,
        source, url, lang, published, or an `ItemReceived`. Never raises for odd content:
        empty, huge (fields are cut at `MAX_FIELD_CHARS`) or binary junk give a clean result.
        """
        fields, view = self._view(item)
        return self._matches(fields, view)

    def match_with_entities(self, item: Item) -> tuple[list[Match], tuple[str, ...]]:
        """`match` and `entities` of `item` from one normalization of its text (the rule
        evaluator wants both for every item; `entities` alone would normalize it again)."""
        fields, view = self._view(item)
        matches = self._matches(fields, view)
        if matches:
            return matches, tuple(matches[0].entities)
        return matches, item_entities(view, self._compiled)

    def _matches(self, fields: dict[str, Any], view: ItemView) -> list[Match]:
        matched = match_item(view, self._compiled)
        if not matched:
            return []
        entities = item_entities(view, self._compiled)
        result = []
        for crule, memo in matched:
            rule = crule.rule
            result.append(
                Match(
                    rule_id=rule.id,
                    rule_version=rule.version,
                    level=rule.level,
                    title=rule.title,
                    entities=entities,
                    # Both on first read (see `Match`): a throttled repeat reads neither.
                    evidence=functools.partial(rule_evidence, view, crule, memo),
                    labels=dict(rule.labels),
                    annotations=functools.partial(_annotations, rule, fields, entities)
                    if rule.annotations
                    else {},
                    throttle=rule.throttle,
                    throttle_by=rule.throttle_by,
                )
            )
        return result

    def entities(self, item: Item) -> tuple[str, ...]:
        """Canonical ids of the place/actor lexicons found in the item's text, sorted."""
        _, view = self._view(item)
        return item_entities(view, self._compiled)

    def explain(self, rule_id: str, item: Item) -> Explanation:
        """Say which selections of `rule_id` matched `item`, where, and why the condition
        held or failed (KeyError when the rule does not exist)."""
        crule = self._index[rule_id]
        _, view = self._view(item)
        return explain(crule, view, self._compiled)


def _annotations(
    rule: Rule, fields: Mapping[str, Any], entities: tuple[str, ...]
) -> dict[str, str]:
    """`rule`'s annotation templates rendered for one item."""
    item = dict(fields)
    parts = (fields["title"], fields["summary"], fields["content"])
    item["text"] = "\n".join(t for t in parts if t)
    return render_annotations(rule, item, entities)

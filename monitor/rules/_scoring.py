"""Score a rule pack against a labelled corpus: how good is this pack on this data?

A corpus is JSON lines, one item per line, with the item's fields (title, summary, content,
source, url, lang...), ``labels`` (what a reader says the item is) and optionally
``uncertain_labels`` (labels the annotator was unsure of, assigned or not: the item is left
out of those labels' scores). A corpus label is scored against a rule when

- the rule's id is the label (``troop-movement``), or
- one of the rule's ``labels:`` values is the label (``detects: troop_movement``), or
- an explicit mapping says so (``--map troop_movement=my-rule``; explicit entries replace what
  the first two would give for that label).

For every (label, rule) pair and every language (plus ``all``) the report counts true
positives (labelled, rule fired), false positives (not labelled, fired) and false negatives
(labelled, not fired), with precision, recall and F1. The corpus is streamed: only the items
behind an error are kept, and only when errors are asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import ConfigError, SourceLocation
from ._ruleset import RuleSet

__all__ = [
    "ALL_LANGS",
    "CorpusItem",
    "EvalError",
    "EvalReport",
    "Score",
    "evaluate_corpus",
    "label_rules",
    "read_corpus",
]

#: The language key of the scores over every item, whatever its language.
ALL_LANGS = "all"


@attrs.frozen
class CorpusItem:
    """One labelled item: its fields (what the rules see) and what a reader says it is."""

    id: str
    fields: Mapping[str, Any]
    labels: frozenset[str]
    uncertain: frozenset[str]
    lang: str
    line: int = 0


def _label_set(value: Any, name: str, where: SourceLocation) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"'{name}' must be a list of label names", source=where)
    return frozenset(value)


def read_corpus(path: str | Path) -> Iterator[CorpusItem]:
    """Yield the items of a corpus file one at a time (the file is never loaded whole).

    Raises `ConfigError` with file:line for a line that is not a JSON object or whose labels
    are not lists of names; blank lines are skipped.
    """
    name = str(path)
    try:
        stream = Path(path).open("rb")  # noqa: SIM115 (closed by the `with` below)
    except OSError as exc:
        raise ConfigError(f"cannot read the corpus {name}: {exc.strerror or exc}") from exc
    with stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            where = SourceLocation(name, number)
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise ConfigError(
                    f"not a JSON line ({exc}); each line must be one JSON object", source=where
                ) from exc
            if not isinstance(record, dict):
                raise ConfigError(
                    f"expected a JSON object with 'labels', got {type(record).__name__}",
                    source=where,
                )
            yield corpus_item(record, number, where)


def corpus_item(record: Mapping[str, Any], line: int = 0, where: Any = None) -> CorpusItem:
    """Turn one corpus record into a `CorpusItem` (``lang`` defaults to ``und``)."""
    where = where or SourceLocation("<corpus>", line or None)
    labels = _label_set(record.get("labels"), "labels", where)
    uncertain = _label_set(record.get("uncertain_labels"), "uncertain_labels", where)
    lang = record.get("lang") or "und"
    return CorpusItem(
        id=str(record.get("id") or f"line-{line}"),
        fields=record,
        labels=labels,
        uncertain=uncertain,
        lang=str(lang).lower(),
        line=line,
    )


def label_rules(
    ruleset: RuleSet, labels: Iterable[str], explicit: Mapping[str, Iterable[str]] | None = None
) -> dict[str, tuple[str, ...]]:
    """Map each corpus label to the rule ids it is scored against (see the module docstring).

    Raises `ConfigError` when an explicit mapping names a rule that is not in the set.
    Labels that map to no rule are left out.
    """
    explicit = {k: tuple(v) for k, v in (explicit or {}).items()}
    known = {r.id for r in ruleset.rules}
    for label, rule_ids in explicit.items():
        for rule_id in rule_ids:
            if rule_id not in known:
                raise ConfigError(
                    f"--map {label}={rule_id}: there is no detection rule {rule_id!r} "
                    f"(rules: {', '.join(sorted(known)) or 'none'})"
                )
    mapping: dict[str, tuple[str, ...]] = {}
    for label in sorted(set(labels) | set(explicit)):
        if label in explicit:
            mapping[label] = explicit[label]
            continue
        rule_ids = tuple(r.id for r in ruleset.rules if r.id == label or label in r.labels.values())
        if rule_ids:
            mapping[label] = rule_ids
    return mapping


@attrs.define
class Score:
    """Counts for one label scored against one rule, in one language (or ``all``)."""

    label: str
    rule_id: str
    lang: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    skipped: int = 0  # items left out because the label is uncertain on them

    @property
    def precision(self) -> float | None:
        """tp / (tp + fp); None when the rule fired on nothing."""
        fired = self.tp + self.fp
        return self.tp / fired if fired else None

    @property
    def recall(self) -> float | None:
        """tp / (tp + fn); None when no item carries the label."""
        positives = self.tp + self.fn
        return self.tp / positives if positives else None

    @property
    def f1(self) -> float | None:
        """Harmonic mean of precision and recall; 0 when either is 0 or undefined while the
        other side has items; None when there is nothing to score (no label, no firing)."""
        if self.tp + self.fp + self.fn == 0:
            return None
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)

    def as_dict(self) -> dict[str, Any]:
        """The score as plain data (what ``--json`` prints)."""
        return {
            "label": self.label,
            "rule": self.rule_id,
            "lang": self.lang,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "skipped_uncertain": self.skipped,
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "f1": _round(self.f1),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@attrs.frozen
class EvalError:
    """One miss (``fn``) or false alarm (``fp``), with the item and what the rule saw."""

    kind: str
    label: str
    rule_id: str
    item: CorpusItem
    explanation: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The error as plain data (what ``--json --show-errors`` prints)."""
        fields = self.item.fields
        return {
            "kind": self.kind,
            "label": self.label,
            "rule": self.rule_id,
            "item": {
                "id": self.item.id,
                "lang": self.item.lang,
                "title": fields.get("title"),
                "summary": fields.get("summary"),
                "url": fields.get("url"),
            },
            "explanation": list(self.explanation),
        }


@attrs.frozen
class EvalReport:
    """Everything `evaluate_corpus` measured."""

    items: dict[str, int]  # per language, and ALL_LANGS
    mapping: dict[str, tuple[str, ...]]
    scores: tuple[Score, ...]
    errors: tuple[EvalError, ...]
    unmapped_fires: dict[str, int]  # rules no label maps to: how often each fired

    def score(self, label: str, rule_id: str, lang: str = ALL_LANGS) -> Score:
        """The score of `label` against `rule_id` in `lang` (KeyError when not scored)."""
        for s in self.scores:
            if (s.label, s.rule_id, s.lang) == (label, rule_id, lang):
                return s
        raise KeyError((label, rule_id, lang))

    def below(self, min_f1: Mapping[str, float]) -> list[Score]:
        """Scores whose F1 is below the bound for their language (key ``all`` or a language;
        a language's own bound wins over the ``*`` default). Undefined F1 is never below."""
        default = min_f1.get("*")
        out = []
        for s in self.scores:
            bound = min_f1.get(s.lang, default)
            if bound is not None and s.f1 is not None and s.f1 < bound:
                out.append(s)
        return out

    def as_dict(self) -> dict[str, Any]:
        """The whole report as plain data (what ``--json`` prints)."""
        return {
            "items": dict(self.items),
            "mapping": {k: list(v) for k, v in self.mapping.items()},
            "scores": [s.as_dict() for s in self.scores],
            "unmapped_fires": dict(self.unmapped_fires),
            "errors": [e.as_dict() for e in self.errors],
        }


def evaluate_corpus(
    ruleset: RuleSet,
    items: Iterable[CorpusItem],
    *,
    explicit: Mapping[str, Iterable[str]] | None = None,
    labels: Iterable[str] = (),
    show_errors: bool = False,
    langs: Iterable[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> EvalReport:
    """Match every item once and score each corpus label against the rules it maps to.

    The labels scored are those the corpus uses (in ``labels`` or ``uncertain_labels``) that
    map to a rule, plus every label in `labels` and `explicit` (so that a label no item
    carries, as on a general news stream, is still scored: every firing is a false alarm).
    Rules no scored label maps to are counted in ``unmapped_fires``. `langs` keeps only items
    in those languages. With `show_errors`, every miss and false alarm comes back with the
    rule's explanation. `progress(n)` is called with the items done, every 100 and at the end.

    Per item only the label sets and the ids of the rules that fired are kept (the item's
    text too with `show_errors`, and only when it carries a label or fired a rule), so a large
    corpus is streamed.
    """
    wanted_langs = {lang.lower() for lang in langs} if langs else None
    seen: set[str] = set(labels) | set(explicit or ())
    outcomes: list[tuple[CorpusItem | None, str, frozenset[str], frozenset[str], frozenset[str]]]
    outcomes = []
    counts: dict[str, int] = {ALL_LANGS: 0}
    done = 0
    for item in items:
        if wanted_langs is not None and item.lang not in wanted_langs:
            continue
        done += 1
        if progress is not None and done % 100 == 0:
            progress(done)
        counts[ALL_LANGS] += 1
        counts[item.lang] = counts.get(item.lang, 0) + 1
        fired = frozenset(m.rule_id for m in ruleset.match(item.fields))
        seen |= item.labels | item.uncertain
        keep = item if show_errors and (fired or item.labels) else None
        outcomes.append((keep, item.lang, item.labels, item.uncertain, fired))
    if progress is not None:
        progress(done)
    mapping = label_rules(ruleset, seen, explicit)
    scored_rules = {rid for rids in mapping.values() for rid in rids}
    unmapped = {r.id: 0 for r in ruleset.rules if r.id not in scored_rules}
    scores: dict[tuple[str, str, str], Score] = {}
    for label, rule_ids in mapping.items():
        for rule_id in rule_ids:
            for lang in (ALL_LANGS, *sorted(k for k in counts if k != ALL_LANGS)):
                scores[(label, rule_id, lang)] = Score(label, rule_id, lang)
    errors: list[EvalError] = []
    for kept, lang, truths, uncertain, fired in outcomes:
        for rule_id in fired:
            if rule_id in unmapped:
                unmapped[rule_id] += 1
        for label, rule_ids in mapping.items():
            for rule_id in rule_ids:
                cells = (scores[(label, rule_id, lang)], scores[(label, rule_id, ALL_LANGS)])
                if label in uncertain:
                    for cell in cells:
                        cell.skipped += 1
                    continue
                truth = label in truths
                hit = rule_id in fired
                kind = "tp" if truth and hit else "fn" if truth else "fp" if hit else None
                if kind is None:
                    continue
                for cell in cells:
                    setattr(cell, kind, getattr(cell, kind) + 1)
                if kept is not None and kind != "tp":
                    explanation = tuple(ruleset.explain(rule_id, kept.fields).lines())
                    errors.append(EvalError(kind, label, rule_id, kept, explanation))
    return EvalReport(
        items=counts,
        mapping=mapping,
        scores=tuple(scores.values()),
        errors=tuple(errors),
        unmapped_fires=unmapped,
    )

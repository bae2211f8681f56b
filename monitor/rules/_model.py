"""The rule model: frozen attrs classes the loader builds and the compiler reads.

Raw YAML dicts never leave the loader; everything downstream sees these classes. All are
frozen, so a compiled rule set can share them freely (between threads too). Locations are kept
out of equality (``eq=False``) so two rules compare by content, wherever they were written.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import SourceLocation

__all__ = [
    "FIELDS",
    "KEYWORD_FIELDS",
    "LEVELS",
    "STATUSES",
    "TEXT_FIELDS",
    "And",
    "CorrelationRule",
    "CorrelationTest",
    "FieldMatch",
    "Lexicon",
    "Node",
    "Not",
    "Or",
    "Quantified",
    "Ref",
    "Rule",
    "RuleTestCase",
    "Selection",
    "Slot",
    "Term",
]

#: Fields scanned as text (normalized, tokenized, matched on word boundaries).
TEXT_FIELDS = ("title", "summary", "content", "author", "url")
#: Fields matched as whole values, exactly but case-insensitively.
KEYWORD_FIELDS = ("feed", "source", "lang", "tags")
#: Every field a rule may name; ``text`` is title + summary + content.
FIELDS = ("title", "summary", "content", "text", "author", "tags", "feed", "source", "url", "lang")
LEVELS = ("informational", "low", "medium", "high", "critical")
STATUSES = ("experimental", "test", "stable", "deprecated")

_NOLOC = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class Term:
    """One searchable value after lexicon expansion.

    ``kind`` is ``phrase`` (normalized ``tokens``; ``prefix`` when the last token ends in
    ``*``), ``regex`` (``text`` is the pattern) or ``keyword`` (``text`` compared whole).
    ``cased`` terms must also match the letter case of ``text``. ``verb`` terms (a lexicon's
    ``verbs:``) take only the clitics a verb takes in Arabic (و، ف), never the article.
    """

    text: str
    kind: str = "phrase"
    tokens: tuple[str, ...] = ()
    prefix: bool = False
    cased: bool = False
    verb: bool = False


@attrs.frozen
class Slot:
    """One listed value: its alternatives (several when a ``%lexicon%`` was expanded)."""

    label: str
    terms: tuple[Term, ...]
    weight: float = 1.0


@attrs.frozen
class FieldMatch:
    """One ``field|modifiers: values`` entry of a selection.

    ``mode`` is ``any`` (one slot), ``all`` (every slot), ``near``/``onear`` (every slot within
    ``window`` words, in any / the listed order) or ``sentence`` (every slot in one sentence).
    ``min_count`` asks for that many occurrences; ``score`` makes it a weighted sum test.
    ``suffixes`` lets Arabic words carry an attached pronoun (see `_arabic`).
    """

    field: str
    key: str
    slots: tuple[Slot, ...]
    mode: str = "any"
    window: int | None = None
    min_count: int = 1
    score: float | None = None
    regex: bool = False
    ignore_case: bool = False
    cased: bool = False
    location: SourceLocation | None = _NOLOC
    suffixes: bool = False


@attrs.frozen
class Selection:
    """A named selection: OR over ``alternatives``, each an AND of field matches."""

    name: str
    alternatives: tuple[tuple[FieldMatch, ...], ...]
    location: SourceLocation | None = _NOLOC


# --- condition nodes -------------------------------------------------------------------------


@attrs.frozen
class Ref:
    """A reference to one selection by name."""

    name: str
    column: int = attrs.field(default=0, eq=False)


@attrs.frozen
class Not:
    """Negation."""

    arg: Node


@attrs.frozen
class And:
    """Conjunction of two or more nodes."""

    args: tuple[Node, ...]


@attrs.frozen
class Or:
    """Disjunction of two or more nodes."""

    args: tuple[Node, ...]


@attrs.frozen
class Quantified:
    """``1 of pattern`` / ``all of pattern`` (``them`` = every selection) before resolution."""

    quantifier: str
    pattern: str
    column: int = attrs.field(default=0, eq=False)


Node = Ref | Not | And | Or | Quantified


# --- rules -----------------------------------------------------------------------------------


@attrs.frozen
class RuleTestCase:
    """One embedded test item and whether the rule must match it."""

    expect_match: bool
    item: dict[str, Any] = attrs.field(hash=False)
    location: SourceLocation | None = _NOLOC


@attrs.frozen
class Rule:
    """A detection rule: selections, a condition over them, and alert metadata."""

    id: str
    title: str
    level: str
    detection: tuple[Selection, ...]
    condition: Node
    condition_text: str
    version: int = 1
    status: str = "experimental"
    description: str = ""
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    labels: dict[str, str] = attrs.field(factory=dict, hash=False)
    annotations: dict[str, str] = attrs.field(factory=dict, hash=False)
    throttle: int | None = None
    #: None: repeats are grouped by the alert's group; else the keys they are grouped by
    #: (``("story",)``, ``("place", "source")``, ``("none",)``: see `_documents.THROTTLE_BY`).
    throttle_by: tuple[str, ...] | None = None
    tests: tuple[RuleTestCase, ...] = ()
    #: False (``generate: false``): matches feed correlations but raise no alert of their own.
    generate: bool = True
    source: dict[str, Any] = attrs.field(factory=dict, eq=False, hash=False, repr=False)
    location: SourceLocation | None = _NOLOC

    def selection(self, name: str) -> Selection:
        """Return the selection called `name` (KeyError when absent)."""
        for sel in self.detection:
            if sel.name == name:
                return sel
        raise KeyError(name)


@attrs.frozen
class Lexicon:
    """Name variants of one place, actor or term; ``%name%`` expands to ``terms``."""

    name: str
    kind: str
    terms: tuple[str, ...]
    canonical: str | None = None
    title: str = ""
    cased: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    source: dict[str, Any] = attrs.field(factory=dict, eq=False, hash=False, repr=False)
    location: SourceLocation | None = _NOLOC


@attrs.frozen
class CorrelationTest:
    """One correlation scenario: timed items in, the alerts that must (only) come out."""

    name: str
    items: tuple[dict[str, Any], ...] = attrs.field(hash=False)
    alerts: tuple[dict[str, Any], ...] = attrs.field(hash=False)
    location: SourceLocation | None = _NOLOC


@attrs.frozen
class CorrelationRule:
    """A rule over matches of other rules in event time (count, distinct count, sequence)."""

    id: str
    title: str
    level: str
    type: str
    rules: tuple[str, ...]
    timespan: int
    version: int = 1
    description: str = ""
    group_by: tuple[str, ...] = ()
    #: Sigma's condition: gt/gte/lt/lte/eq (several = a range), ``field`` for value_count.
    condition: dict[str, Any] = attrs.field(factory=dict, hash=False)
    #: event_count only: bounds on the distinct values of ``field`` among the counted matches.
    distinct: dict[str, Any] = attrs.field(factory=dict, hash=False)
    #: False (``generate: false``): hits feed other correlations but raise no alert.
    generate: bool = True
    throttle: int | None = None
    labels: dict[str, str] = attrs.field(factory=dict, hash=False)
    annotations: dict[str, str] = attrs.field(factory=dict, hash=False)
    tags: tuple[str, ...] = ()
    tests: tuple[CorrelationTest, ...] = ()
    source: dict[str, Any] = attrs.field(factory=dict, eq=False, hash=False, repr=False)
    location: SourceLocation | None = _NOLOC

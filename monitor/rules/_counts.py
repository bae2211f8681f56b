"""Sigma correlation conditions: ``gt``, ``gte``, ``lt``, ``lte``, ``eq`` and ranges over counts.

A condition is a mapping of one or more comparisons, all of which must hold (Sigma: "to define
a range, use several in the mapping": ``{gt: 100, lte: 200}``). `Bounds` is the parsed, frozen
form the correlator evaluates; `correlation_condition` is the loader's side: it checks the
``condition`` (and our ``distinct`` extension) of one correlation rule against its type and
reports every key the type does not use, naming the keys it does.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._yaml import LocMap

__all__ = ["OPERATORS", "Bounds", "correlation_condition"]

#: The comparison operators of a condition, in Sigma's spelling.
OPERATORS = ("gt", "gte", "lt", "lte", "eq")
_SYMBOLS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "="}
#: What a count may be taken over (keyword facets and entity kinds).
COUNT_FIELDS = ("place", "actor", "source", "feed", "lang", "author", "story")


@attrs.frozen
class Bounds:
    """The comparisons of one condition; a count satisfies it when every one holds.

    `upper` says whether the condition caps the count (``lt``, ``lte`` or ``eq``): such a
    condition can only be decided once its window has closed, because a later match could
    still push the count over the cap.
    """

    gt: int | None = None
    gte: int | None = None
    lt: int | None = None
    lte: int | None = None
    eq: int | None = None

    @classmethod
    def of(cls, mapping: Any) -> Bounds:
        """The bounds written in a condition mapping (other keys, e.g. ``field``, ignored)."""
        mapping = mapping or {}
        return cls(**{op: int(mapping[op]) for op in OPERATORS if mapping.get(op) is not None})

    @property
    def upper(self) -> bool:
        return self.lt is not None or self.lte is not None or self.eq is not None

    @property
    def least(self) -> int:
        """The smallest count that can satisfy the lower bounds (at least 1)."""
        floors = [1]
        if self.gt is not None:
            floors.append(self.gt + 1)
        if self.gte is not None:
            floors.append(self.gte)
        if self.eq is not None:
            floors.append(self.eq)
        return max(floors)

    def holds(self, n: int) -> bool:
        """Whether a count of `n` satisfies every comparison."""
        return (
            (self.gt is None or n > self.gt)
            and (self.gte is None or n >= self.gte)
            and (self.lt is None or n < self.lt)
            and (self.lte is None or n <= self.lte)
            and (self.eq is None or n == self.eq)
        )

    def describe(self) -> str:
        """The comparisons as text, e.g. ``>= 3 and <= 10``."""
        values = [(op, getattr(self, op)) for op in OPERATORS]
        return " and ".join(f"{_SYMBOLS[op]} {v}" for op, v in values if v is not None)


def _count(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 0


def _bounds(b: Any, cond: LocMap, what: str, allowed: list[str]) -> dict[str, Any]:
    """Check one condition mapping: known keys, whole-number bounds, a satisfiable range."""
    for key in cond:
        if key == "field" and "field" not in allowed:
            b.error(
                f"{what} takes no 'field' (allowed: {', '.join(allowed)}): an event_count counts "
                "matches; to count distinct values use type value_count, or add "
                "distinct: {field: source, gte: 2} for both",
                cond.key_loc(key),
            )
        elif key not in allowed:
            b.error(
                f"unknown {what} field {key!r}; allowed: {', '.join(allowed)}", cond.key_loc(key)
            )
    ops = [op for op in OPERATORS if op in cond]
    if not ops:
        b.error(
            f"{what} needs a comparison: one of {', '.join(OPERATORS)} (e.g. gte: 3), or two "
            "for a range (gte: 3, lte: 10)",
            cond.loc,
        )
    for op in ops:
        if not _count(cond[op]):
            b.error(
                f"{what} {op} must be a whole number >= 0, not {cond[op]!r}", cond.value_loc(op)
            )
    if "eq" in ops and len(ops) > 1:
        b.error(f"{what}: eq cannot be combined with other comparisons", cond.value_loc("eq"))
    if ("gt" in ops and "gte" in ops) or ("lt" in ops and "lte" in ops):
        b.error(f"{what}: give gt or gte, lt or lte, not both", cond.loc)
    plain = {k: cond[k] for k in cond}
    if all(_count(plain[op]) for op in ops):
        bounds = Bounds.of(plain)
        if ops and not any(bounds.holds(n) for n in range(bounds.least, bounds.least + 2)):
            b.error(f"{what} {bounds.describe()} can never hold", cond.loc)
    return plain


def correlation_condition(
    b: Any, body: LocMap, ctype: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check ``condition`` and ``distinct`` of a correlation body of type `ctype`.

    `b` is the loader's `Builder` (errors are collected there). Returns the plain condition
    and the plain ``distinct`` mapping (both empty when absent or not allowed).
    """
    cond, distinct = body.get("condition"), body.get("distinct")
    counting = ctype in ("event_count", "value_count")
    if not counting:
        for key in ("condition", "distinct"):
            if key in body:
                b.error(
                    f"a {ctype} correlation takes no {key!r}: it fires when every listed rule "
                    "matched within timespan; event_count and value_count take a condition",
                    body.key_loc(key),
                )
        return {}, {}
    condition: dict[str, Any] = {}
    if not isinstance(cond, LocMap):
        field = "" if ctype == "event_count" else "field: source, "
        b.error(
            f"a {ctype} correlation needs 'condition: {{{field}gte: N}}' (or gt, lt, lte, eq, "
            f"or a range such as {{{field}gte: 3, lte: 10}})",
            body.value_loc("condition") if cond is not None else body.loc,
        )
    elif ctype == "event_count":
        condition = _bounds(b, cond, "event_count condition", list(OPERATORS))
    else:
        condition = _bounds(b, cond, "value_count condition", [*OPERATORS, "field"])
        if cond.get("field") not in COUNT_FIELDS:
            b.error(
                "a value_count correlation needs 'condition.field': what to count distinct "
                f"values of ({', '.join(COUNT_FIELDS)})",
                cond.value_loc("field") if "field" in cond else cond.loc,
            )
    if distinct is None:
        return condition, {}
    if ctype != "event_count":
        b.error(
            "'distinct' belongs to event_count (N matches from M distinct values); a "
            "value_count already counts distinct values of condition.field",
            body.key_loc("distinct"),
        )
        return condition, {}
    if not isinstance(distinct, LocMap):
        b.error(
            "'distinct' must be a mapping such as {field: source, gte: 2}",
            body.value_loc("distinct"),
        )
        return condition, {}
    plain = _bounds(b, distinct, "distinct", [*OPERATORS, "field"])
    if distinct.get("field") not in COUNT_FIELDS:
        b.error(
            "'distinct' needs 'field': what to count distinct values of "
            f"({', '.join(COUNT_FIELDS)})",
            distinct.value_loc("field") if "field" in distinct else distinct.loc,
        )
    return condition, plain

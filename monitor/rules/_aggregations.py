"""Aggregation rules: ElastAlert2's spike, flatline, new_term and cardinality rule types.

They are written as correlation rules (a ``correlation:`` body with one of these ``type``\\ s)
because, like correlations, they work on the matches of other rules, in event time, per group
(``group-by``); they live in ``RuleSet.correlations`` beside them (so ``rules test``, throttles,
backtests and references from other correlations treat them alike), but the alerting package
evaluates them with its own engine. This module holds their model and their loader; the loader
is strict: every field a type does not use is an error naming the fields it takes.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import SourceLocation
from ._build import _CORR_KEYS, _GROUP_KEYS, Builder, did_you_mean, plain
from ._documents import _correlation_tests
from ._model import LEVELS, CorrelationTest
from ._yaml import LocMap

__all__ = [
    "AGGREGATION_TYPES",
    "SPIKE_TYPES",
    "AggregationRule",
    "build_aggregation",
    "check_inputs",
    "is_aggregation",
]

#: The rule types this module builds (``correlation: {type: ...}``).
AGGREGATION_TYPES = ("spike", "flatline", "new_value", "cardinality")
SPIKE_TYPES = ("up", "down", "both")

_COMMON = ["type", "rules", "group-by", "group_by", "timespan"]
_BODY_KEYS: dict[str, list[str]] = {
    "spike": [*_COMMON, "spike_height", "spike_type", "threshold_cur", "threshold_ref"],
    "flatline": [*_COMMON, "threshold", "threshold_ref", "lookback"],
    "new_value": ["type", "rules", "group-by", "group_by", "fields", "terms_window_size", "warmup"],
    "cardinality": [*_COMMON, "cardinality_field", "max_cardinality", "min_cardinality"],
}
_NOLOC = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class AggregationRule:
    """A spike, flatline, new_value or cardinality rule over the matches of `rules`.

    It has every field of a `CorrelationRule` (so code listing correlations takes it as one;
    ``condition`` is always empty) plus the parameters of its type, in seconds and counts:

    * spike: ``spike_height`` (factor), ``spike_type`` (up/down/both), ``threshold_cur`` and
      ``threshold_ref`` (minimum matches in the current / reference window of `timespan`).
    * flatline: ``threshold`` (fewer matches than this in `timespan` is silence; 1: none) and
      ``threshold_ref`` matches in the ``lookback`` before the silence ("usually reports").
    * new_value: ``fields`` whose values are tracked; a value unseen for ``terms_window_size``
      (`timespan` holds the same) is new; nothing fires during ``warmup`` after the first match.
    * cardinality: distinct ``cardinality_field`` values in `timespan` above
      ``max_cardinality`` or below ``min_cardinality``.
    """

    id: str
    title: str
    level: str
    type: str
    rules: tuple[str, ...]
    timespan: int
    version: int = 1
    description: str = ""
    group_by: tuple[str, ...] = ()
    condition: dict[str, Any] = attrs.field(factory=dict, hash=False)
    throttle: int | None = None
    labels: dict[str, str] = attrs.field(factory=dict, hash=False)
    annotations: dict[str, str] = attrs.field(factory=dict, hash=False)
    tags: tuple[str, ...] = ()
    tests: tuple[CorrelationTest, ...] = ()
    #: Always True: an aggregation rule raises its alerts (``generate: false`` is not taken).
    generate: bool = True
    spike_height: float = 2.0
    spike_type: str = "up"
    threshold_cur: int = 0
    threshold_ref: int = 0
    threshold: int = 1
    lookback: int = 0
    fields: tuple[str, ...] = ()
    warmup: int = 0
    cardinality_field: str = ""
    max_cardinality: int | None = None
    min_cardinality: int | None = None
    source: dict[str, Any] = attrs.field(factory=dict, eq=False, hash=False, repr=False)
    location: SourceLocation | None = _NOLOC


def _count(b: Builder, body: LocMap, key: str, default: int | None, least: int) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        b.error(f"'{key}' must be a whole number of at least {least}", body.value_loc(key))
        return default
    return value


def _field(b: Builder, body: LocMap, key: str, value: str) -> None:
    if value == "story":
        # The evaluator clusters stories only for rule sets that group or count by them
        # through correlations' own fields; counting them here would silently count nothing.
        b.error(
            f"{key} cannot be 'story' (stories are not counted by this rule type yet); "
            "'group-by: [story]' works",
            body.value_loc(key),
        )
    elif value not in _GROUP_KEYS:
        b.error(
            f"{key} {value!r} is not a field{did_you_mean(value, _GROUP_KEYS)}", body.value_loc(key)
        )


def _type_params(b: Builder, body: LocMap, kind: str, timespan: int) -> dict[str, Any]:
    """The parameters of one type, checked; errors go to `b`."""
    p: dict[str, Any] = {}
    if kind == "spike":
        height = body.get("spike_height")
        if isinstance(height, bool) or not isinstance(height, int | float) or height <= 1:
            b.error(
                "a spike needs 'spike_height': the factor between the windows, a number > 1",
                body.value_loc("spike_height") if "spike_height" in body else body.loc,
            )
        else:
            p["spike_height"] = float(height)
        p["spike_type"] = b.choice(body, "spike_type", SPIKE_TYPES, "up")
        p["threshold_cur"] = _count(b, body, "threshold_cur", 0, 0)
        p["threshold_ref"] = _count(b, body, "threshold_ref", 0, 0)
    elif kind == "flatline":
        p["threshold"] = _count(b, body, "threshold", 1, 1)
        p["threshold_ref"] = _count(b, body, "threshold_ref", 1, 1)
        lookback = b.duration(body, "lookback")
        p["lookback"] = lookback if lookback is not None else 7 * timespan
        if lookback is not None and lookback < 1:
            b.error("'lookback' must be a positive duration", body.value_loc("lookback"))
    elif kind == "new_value":
        fields = b.text_list(body, "fields")
        if not fields:
            b.error(
                f"a new_value rule needs 'fields': what to watch for new values of "
                f"({', '.join(_GROUP_KEYS)})",
                body.value_loc("fields") if "fields" in body else body.loc,
            )
        for f in fields:
            _field(b, body, "fields", f)
        p["fields"] = fields
        warmup = b.duration(body, "warmup")
        p["warmup"] = timespan if warmup is None else warmup
    else:
        field = b.text(body, "cardinality_field")
        if not field:
            b.error(
                f"a cardinality rule needs 'cardinality_field' ({', '.join(_GROUP_KEYS)})",
                body.loc,
            )
        else:
            _field(b, body, "cardinality_field", field)
        p["cardinality_field"] = field
        p["max_cardinality"] = _count(b, body, "max_cardinality", None, 0)
        p["min_cardinality"] = _count(b, body, "min_cardinality", None, 1)
        if p["max_cardinality"] is None and p["min_cardinality"] is None:
            b.error("a cardinality rule needs 'max_cardinality' or 'min_cardinality'", body.loc)
    return p


def is_aggregation(doc: LocMap) -> bool:
    """Whether a document is a rule of this module: a ``correlation:`` of one of our types."""
    body = doc.get("correlation")
    return isinstance(body, LocMap) and body.get("type") in AGGREGATION_TYPES


def build_aggregation(b: Builder, doc: LocMap) -> AggregationRule | None:
    """Build one aggregation rule (see `is_aggregation`), or record its faults in `b` and
    return None. Rule references are checked later, across all files, as correlations' are."""
    before = len(b.errors)
    b.check_keys(doc, _CORR_KEYS, "rule")
    body = doc["correlation"]
    kind = str(body.get("type"))
    b.check_keys(body, _BODY_KEYS[kind], f"{kind} rule")
    rules = b.text_list(body, "rules")
    if not rules:
        b.error("'rules' must list the ids of the rules to aggregate", body.value_loc("rules"))
    group_key = "group-by" if "group-by" in body else "group_by"
    group_by = b.text_list(body, group_key)
    for g in group_by:
        if g not in _GROUP_KEYS:
            b.error(
                f"cannot group by {g!r}{did_you_mean(g, _GROUP_KEYS)}", body.value_loc(group_key)
            )
    span_key = "terms_window_size" if kind == "new_value" else "timespan"
    timespan = b.duration(body, span_key)
    if span_key not in body:
        example = "30d" if kind == "new_value" else "6h"
        b.error(f"'{span_key}' is required, e.g. {span_key}: {example}", body.loc)
    elif timespan is not None and timespan < 1:
        b.error(f"'{span_key}' must be a positive duration", body.value_loc(span_key))
    params = _type_params(b, body, kind, timespan or 0)
    tests = _correlation_tests(b, doc)
    labels = b.text_map(doc, "labels")
    annotations = b.templates(doc, "annotations")
    throttle = b.duration(doc, "throttle")
    version = b.version(doc)
    rule_id = b.ident(doc, f"{kind} rule")
    title = b.text(doc, "title", required=True)
    level = b.choice(doc, "level", LEVELS, "medium")
    if len(b.errors) > before:
        return None
    return AggregationRule(
        id=rule_id,
        title=title,
        level=level,
        type=kind,
        rules=rules,
        timespan=timespan or 0,
        version=version,
        description=b.text(doc, "description"),
        group_by=group_by,
        throttle=throttle,
        labels=labels,
        annotations=annotations,
        tags=b.text_list(doc, "tags"),
        tests=tests,
        source=plain(doc),
        location=doc.loc,
        **params,
    )


def check_inputs(b: Builder, correlations: Any, rules_by_id: dict[str, Any]) -> None:
    """An aggregation rule's alerts feed no other rule (their instants come from the passing
    of time, which a restart rebuilds only through their own records): refuse a correlation
    or aggregation rule that lists one."""
    for corr in correlations:
        for ref in corr.rules:
            if getattr(rules_by_id.get(ref), "type", None) in AGGREGATION_TYPES:
                b.error(
                    f"{corr.id!r} lists {ref!r}, a {rules_by_id[ref].type} rule: the alerts of "
                    "spike, flatline, new_value and cardinality rules feed no other rule; list "
                    "the rules it aggregates instead",
                    corr.location,
                )

"""Build detection rules and correlation rules from located documents (see `_build`)."""

from __future__ import annotations

import linecache
from typing import Any

from ..errors import SourceLocation
from ._build import (
    _CORR_BODY_KEYS,
    _CORR_KEYS,
    _CORR_TYPES,
    _GROUP_KEYS,
    _RULE_KEYS,
    ITEM_KEYS,
    Builder,
    did_you_mean,
    parse_duration,
    plain,
)
from ._condition import ConditionSyntaxError, parse_condition, referenced, resolve
from ._counts import correlation_condition
from ._model import (
    LEVELS,
    STATUSES,
    CorrelationRule,
    CorrelationTest,
    Quantified,
    Rule,
    RuleTestCase,
)
from ._yaml import LocList, LocMap

__all__ = ["build_correlation", "build_rule"]


def _walk_quantified(node: Any) -> list[Quantified]:
    if isinstance(node, Quantified):
        return [node]
    if hasattr(node, "arg"):
        return _walk_quantified(node.arg)
    if hasattr(node, "args"):
        return [q for a in node.args for q in _walk_quantified(a)]
    return []


def _condition_loc(detection: LocMap, column: int) -> SourceLocation:
    loc = detection.value_loc("condition")
    if loc.column is None or loc.line is None:
        return loc
    # A plain scalar starts at the mark; a quoted one a character later. The marks do not say
    # which, so look at the line (only on this error path).
    linecache.checkcache(loc.path)  # the file may have been edited since a previous load
    line = linecache.getline(loc.path, loc.line)
    quoted = line[loc.column - 1 : loc.column] in ("'", '"')
    return SourceLocation(loc.path, loc.line, loc.column + column - 1 + quoted)


def _test_item(b: Builder, value: Any, loc: SourceLocation) -> dict[str, Any] | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"summary": str(value)}
    if not isinstance(value, LocMap):
        b.error("a test item is a text (the summary) or a mapping of item fields", loc)
        return None
    for key in value:
        if key not in ITEM_KEYS and key != "at":
            b.error(
                f"unknown item field {key!r}{did_you_mean(str(key), ITEM_KEYS)}", value.key_loc(key)
            )
            return None
    return plain(value)


def _rule_tests(b: Builder, doc: LocMap) -> tuple[RuleTestCase, ...]:
    tests = doc.get("tests")
    if tests is None:
        return ()
    if not isinstance(tests, LocMap):
        b.error(
            "'tests' must be a mapping with 'match' and/or 'no_match' lists", doc.value_loc("tests")
        )
        return ()
    b.check_keys(tests, ["match", "no_match"], "tests")
    cases = []
    for key in ("match", "no_match"):
        items = tests.get(key)
        if items is None:
            continue
        if not isinstance(items, LocList):
            b.error(f"tests.{key} must be a list of items", tests.value_loc(key))
            continue
        for i, value in enumerate(items):
            item = _test_item(b, value, items.item_loc(i))
            if item is not None:
                cases.append(RuleTestCase(key == "match", item, items.item_loc(i)))
    return tuple(cases)


def build_rule(b: Builder, doc: LocMap) -> Rule | None:
    """Build one detection rule, or record its faults in `b` and return None."""
    before = len(b.errors)
    b.check_keys(doc, _RULE_KEYS, "rule")
    rule_id = b.ident(doc, "rule")
    title = b.text(doc, "title", required=True)
    level = b.choice(doc, "level", LEVELS, "medium")
    status = b.choice(doc, "status", STATUSES, "experimental")
    detection = doc.get("detection")
    if not isinstance(detection, LocMap):
        b.error(
            "'detection' must be a mapping of selections plus a 'condition'",
            doc.value_loc("detection"),
        )
        return None
    selections = []
    for name, body in detection.items():
        if name == "condition":
            continue
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            b.error(
                f"selection name {name!r} may only hold letters, digits, '_' and '-'",
                detection.key_loc(name),
            )
            continue
        if name.lower() in ("and", "or", "not", "of", "them", "all"):
            b.error(
                f"{name!r} is a condition keyword; rename the selection", detection.key_loc(name)
            )
            continue
        sel = b.selection(name, body, detection.key_loc(name))
        if sel is not None:
            selections.append(sel)
    names = [str(n) for n in detection if n != "condition"]
    cond_text = detection.get("condition")
    if isinstance(cond_text, LocList) and len(cond_text) == 1:
        cond_text = cond_text[0]
    if not isinstance(cond_text, str) or not cond_text.strip():
        b.error(
            "'detection' needs a 'condition', e.g. 'condition: sel and not noise'",
            detection.value_loc("condition") if "condition" in detection else detection.loc,
        )
        return None
    try:
        tree = parse_condition(cond_text)
    except ConditionSyntaxError as exc:
        b.error(f"condition: {exc}", _condition_loc(detection, exc.column))
        return None
    for q in _walk_quantified(tree):
        if not referenced(q, names):
            b.error(
                f"condition: '{q.quantifier} of {q.pattern}' matches no selection",
                _condition_loc(detection, q.column),
            )
    used = referenced(tree, names)
    for name in sorted(used - set(names)):
        b.error(
            f"condition names undefined selection {name!r}{did_you_mean(name, names)}",
            detection.value_loc("condition"),
        )
    for name in names:
        if name not in used:
            b.error(
                f"selection {name!r} is not used in the condition; use it or remove it",
                detection.key_loc(name),
            )
    tests = _rule_tests(b, doc)
    labels = b.text_map(doc, "labels")
    annotations = b.templates(doc, "annotations")
    throttle, throttle_by = _throttle(b, doc)
    version = b.version(doc)
    if len(b.errors) > before:
        return None
    return Rule(
        id=rule_id,
        title=title,
        level=level,
        status=status,
        version=version,
        detection=tuple(selections),
        condition=resolve(tree, names),
        condition_text=cond_text,
        description=b.text(doc, "description"),
        tags=b.text_list(doc, "tags"),
        references=b.text_list(doc, "references"),
        falsepositives=b.text_list(doc, "falsepositives"),
        labels=labels,
        annotations=annotations,
        throttle=throttle,
        throttle_by=throttle_by,
        generate=_generate(b, doc),
        tests=tests,
        source=plain(doc),
        location=doc.loc,
    )


#: What a detection rule's throttle can group repeats by (several at once: ``by: [place,
#: source]``): ``group``, the alert's group (its first place; the default), ``place`` and
#: ``actor`` (the match's first place or actor), ``story`` (the item's story: its reprints
#: across outlets), the item's keyword facets ``source``, ``feed``, ``lang`` and ``author``, or
#: ``none`` (one group for the whole rule: any repeat within the window folds).
THROTTLE_BY = ("group", "place", "actor", "story", "source", "feed", "lang", "author", "none")


def _throttle(b: Builder, doc: LocMap) -> tuple[int | None, tuple[str, ...] | None]:
    """``throttle: 6h``, or ``throttle: {window: 6h, by: story}`` / ``by: [place, source]``:
    (seconds, the group-by keys, or None for the default, the alert's group)."""
    value = doc.get("throttle")
    if not isinstance(value, LocMap):
        return b.duration(doc, "throttle"), None
    for extra in sorted(set(value) - {"window", "by"}):
        b.error(f"throttle has no key {extra!r}; use window and by", value.key_loc(extra))
    if value.get("window") is None:
        b.error("throttle needs a window, e.g. {window: 6h, by: story}", doc.value_loc("throttle"))
        return None, None
    by = b.text_list(value, "by") or ("group",)
    for key in by:
        if key not in THROTTLE_BY:
            b.error(
                f"throttle by {key!r} is not one of {', '.join(THROTTLE_BY)}"
                f"{did_you_mean(key, THROTTLE_BY)}",
                value.value_loc("by"),
            )
    if "none" in by and len(by) > 1:
        b.error("throttle by none groups nothing: it cannot be combined", value.value_loc("by"))
    if len(set(by)) != len(by):
        b.error(f"throttle by names a key twice: {', '.join(by)}", value.value_loc("by"))
    return b.duration(value, "window"), (None if by == ("group",) else by)


def _correlation_tests(b: Builder, doc: LocMap) -> tuple[CorrelationTest, ...]:
    tests = doc.get("tests")
    if tests is None:
        return ()
    if not isinstance(tests, LocList):
        b.error(
            "correlation 'tests' must be a list of {name, items, alerts}", doc.value_loc("tests")
        )
        return ()
    result = []
    for i, case in enumerate(tests):
        if not isinstance(case, LocMap):
            b.error(
                "a correlation test is a mapping with name, items and alerts", tests.item_loc(i)
            )
            continue
        b.check_keys(case, ["name", "items", "alerts"], "correlation test")
        items, alerts = case.get("items"), case.get("alerts", LocList())
        if not isinstance(items, LocList) or not items:
            b.error(
                "a correlation test needs 'items': a list of timed items",
                case.value_loc("items") if "items" in case else case.loc,
            )
            continue
        if not isinstance(alerts, list):
            b.error(
                "'alerts' must be a list (empty when nothing may fire)", case.value_loc("alerts")
            )
            continue
        plain_items = []
        for j, item in enumerate(items):
            parsed = _test_item(b, item, items.item_loc(j))
            if parsed is None:
                continue
            if parse_duration(parsed.get("at", 0)) is None:
                b.error(
                    f"item 'at' {parsed.get('at')!r} is not a duration like 0h, 40h, 90m",
                    item.value_loc("at") if isinstance(item, LocMap) else items.item_loc(j),
                )
            plain_items.append(parsed)
        for j, alert in enumerate(alerts):
            if not isinstance(alert, dict) or "rule" not in alert:
                b.error(
                    "each expected alert is a mapping with at least 'rule'",
                    alerts.item_loc(j) if isinstance(alerts, LocList) else case.loc,
                )
        result.append(
            CorrelationTest(
                b.text(case, "name", default=f"test {i + 1}"),
                tuple(plain_items),
                tuple(plain(alerts)),
                tests.item_loc(i),
            )
        )
    return tuple(result)


def _generate(b: Builder, doc: LocMap) -> bool:
    """``generate: false``: the rule feeds correlations but raises no alert of its own."""
    value = doc.get("generate", True)
    if not isinstance(value, bool):
        b.error("'generate' must be true or false", doc.value_loc("generate"))
        return True
    return value


def build_correlation(b: Builder, doc: LocMap) -> CorrelationRule | None:
    """Build one correlation rule; rule references are checked later, across all files."""
    before = len(b.errors)
    b.check_keys(doc, _CORR_KEYS, "correlation rule")
    rule_id = b.ident(doc, "correlation rule")
    title = b.text(doc, "title", required=True)
    level = b.choice(doc, "level", LEVELS, "medium")
    body = doc.get("correlation")
    if not isinstance(body, LocMap):
        b.error(
            "'correlation' must be a mapping with type, rules, timespan ...",
            doc.value_loc("correlation"),
        )
        return None
    b.check_keys(body, _CORR_BODY_KEYS, "correlation")
    ctype = b.choice(body, "type", _CORR_TYPES, "event_count")
    rules = b.text_list(body, "rules")
    if not rules:
        b.error("'rules' must list the ids of the rules to correlate", body.value_loc("rules"))
    if ctype.startswith("temporal") and len(rules) < 2:
        b.error(f"a {ctype} correlation needs at least two rules", body.value_loc("rules"))
    group_key = "group-by" if "group-by" in body else "group_by"
    group_by = b.text_list(body, group_key)
    for g in group_by:
        if g not in _GROUP_KEYS:
            b.error(
                f"cannot group by {g!r}{did_you_mean(g, _GROUP_KEYS)}", body.value_loc(group_key)
            )
    timespan = b.duration(body, "timespan")
    if "timespan" not in body:
        b.error("'timespan' is required, e.g. timespan: 72h", body.loc)
    condition, distinct = correlation_condition(b, body, ctype)
    tests = _correlation_tests(b, doc)
    labels = b.text_map(doc, "labels")
    annotations = b.templates(doc, "annotations")
    throttle = b.duration(doc, "throttle")
    version = b.version(doc)
    if len(b.errors) > before:
        return None
    return CorrelationRule(
        id=rule_id,
        title=title,
        level=level,
        type=ctype,
        rules=rules,
        timespan=timespan or 0,
        version=version,
        description=b.text(doc, "description"),
        group_by=group_by,
        condition=condition,
        distinct=distinct,
        generate=_generate(b, doc),
        throttle=throttle,
        labels=labels,
        annotations=annotations,
        tags=b.text_list(doc, "tags"),
        tests=tests,
        source=plain(doc),
        location=doc.loc,
    )

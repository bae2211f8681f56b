"""A tiny, safe template renderer for annotations: ``'Attack at {{ item.title }}'``.

Only ``{{ dotted.name }}`` placeholders, looked up in a fixed context; no expressions, no
loops, no attribute access on Python objects, so a rule file cannot run code (why not Jinja).
Placeholders are checked when a rule loads, so a typo is a load error, not an empty alert.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["PLACEHOLDER", "check_template", "render", "render_annotations"]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
_ITEM_FIELDS = frozenset(
    {
        "id",
        "title",
        "summary",
        "content",
        "text",
        "author",
        "tags",
        "feed",
        "source",
        "url",
        "lang",
        "published",
    }
)
_RULE_FIELDS = frozenset(["id", "title", "level", "version", "description"])


def check_template(template: str) -> str | None:
    """Return a message naming the first unknown placeholder in `template`, or None."""
    for m in PLACEHOLDER.finditer(template):
        parts = m.group(1).split(".")
        root = parts[0]
        ok = (
            (root == "item" and len(parts) == 2 and parts[1] in _ITEM_FIELDS)
            or (root == "rule" and len(parts) == 2 and parts[1] in _RULE_FIELDS)
            or (root == "entities" and len(parts) == 1)
            or (root == "labels" and len(parts) == 2)
        )
        if not ok:
            return (
                f"unknown placeholder {{{{ {m.group(1)} }}}}; use item.<field> "
                f"({', '.join(sorted(_ITEM_FIELDS))}), rule.<{'|'.join(sorted(_RULE_FIELDS))}>, "
                "entities or labels.<name>"
            )
    if "{{" in PLACEHOLDER.sub("", template):
        return "a '{{' is not closed by '}}' or holds more than a dotted name"
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def render(template: str, context: Mapping[str, Any]) -> str:
    """Replace each placeholder with its value from `context` (missing values render empty).

    `context` maps ``item``/``rule``/``labels`` to mappings and ``entities`` to a sequence.
    Long values are cut at 300 characters so an annotation stays a line, not an article.
    """

    def value(m: re.Match[str]) -> str:
        current: Any = context
        for part in m.group(1).split("."):
            current = current.get(part) if isinstance(current, Mapping) else None
        text = _text(current)
        return text if len(text) <= 300 else text[:299] + "…"

    return PLACEHOLDER.sub(value, template)


def render_annotations(
    rule: Any, item: Mapping[str, Any], entities: Iterable[str]
) -> dict[str, str]:
    """Every annotation template of `rule` (a detection or correlation rule) rendered with
    the context rules may name: ``item`` (the item's fields), ``rule`` (its id, title, level,
    version, description), ``labels`` and ``entities``."""
    context = {
        "item": item,
        "entities": list(entities),
        "labels": rule.labels,
        "rule": {name: getattr(rule, name) for name in sorted(_RULE_FIELDS)},
    }
    return {k: render(v, context) for k, v in rule.annotations.items()}

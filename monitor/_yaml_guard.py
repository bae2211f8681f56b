"""A bound on what YAML aliases may expand to, for every YAML file the project reads.

An alias (``*name``) re-uses a node written once. Nine levels of nine-way aliases are a file of
a few hundred bytes that stands for 387 million values ("billion laughs"): PyYAML builds it as
shared objects cheaply, but anything that walks the result as plain data (hashing a rule,
validating a feed list, printing a config) expands it and runs out of memory.

`check_aliases` walks the composed node graph once, iteratively and with memoised sizes, so its
own cost is linear in the nodes actually written. It refuses a document whose expanded size
exceeds what was written by more than `ALIAS_BUDGET` nodes, and a recursive alias (a node that
contains itself). Ordinary use of anchors (a shared `defaults: &d` merged with ``<<: *d`` a few
times) stays far below the budget.

PyYAML has no such limit of its own (its composer only refuses undefined aliases), so this is
written here; it sits beside `errors` because rules, feeds and alerts all read YAML.
"""

from __future__ import annotations

from collections.abc import Callable

import yaml

__all__ = ["ALIAS_BUDGET", "check_aliases"]

# How many values aliases may add beyond what the file writes out. A rule pack that shares a
# list of 500 words through 50 aliases adds 25,000; a bomb adds millions.
ALIAS_BUDGET = 100_000


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_aliases(
    root: yaml.Node | None,
    fail: Callable[[str, yaml.Mark | None], Exception],
    *,
    budget: int = ALIAS_BUDGET,
) -> None:
    """Raise `fail(message, mark)` when aliases in `root` expand beyond `budget` extra values or
    refer to a node that contains them.

    `fail` builds the caller's own error type (a `RuleError`, a `ConfigError`) from a message and
    the YAML mark of the offending node, so the error names file:line:column.
    """
    if root is None:
        return
    sizes: dict[int, int] = {}  # id(node) -> values it stands for once expanded
    written = 0  # distinct nodes, i.e. what the file actually writes
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[key] = size
            written += 1
            if size - written > budget:
                raise fail(
                    f"the YAML aliases here expand to more than {budget:,} values beyond what "
                    "the file writes (an alias bomb?); write the values out, or use fewer aliases",
                    node.start_mark,
                )
            continue
        if key in sizes:
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            child_key = id(child)
            if child_key in on_path:
                raise fail(
                    "a YAML alias refers to a node that contains it (a recursive alias); "
                    "remove the alias",
                    child.start_mark,
                )
            if child_key not in sizes:
                stack.append((child, False))

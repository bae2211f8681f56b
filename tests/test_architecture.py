"""The house rules of the package layout, checked on the source (no import side effects).

* Dependencies point one way: cli → app → feeds / alerting / alerts / projections → rules →
  log → events (STYLE.md). A package never imports one ranked above it.
* No import circles between modules, counting imports inside functions too (a lazy import is
  still a circle: it only moves the failure to run time).
* Nothing imports another package's private ``_module``; packages export what others need from
  their ``__init__``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "monitor"

#: Rank of each subpackage: a module may import only packages of a lower or equal rank (equal
#: only for itself and for the shared top-level helpers, rank 0).
RANK = {
    "_top": 0,  # monitor/errors.py, monitor/_files.py, ...: imported by anyone
    "events": 1,
    "log": 2,
    "rules": 3,
    "projections": 4,
    "alerting": 4,
    "feeds": 4,
    "alerts": 5,  # delivery reads alert views and sinks; it sits beside app's inputs
    "metrics": 5,
    "search": 5,
    "app": 6,
    "console": 7,  # the web console reads what app's users read; only cli imports it
    "cli": 8,
}


def _package_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "_top"
    head = parts[1]
    if (ROOT / head).is_dir():
        return head
    return "app" if head == "app" else "_top"


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module `module` imports (absolute names), with the line, including lazy ones."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("monitor"):
                continue
            yield target, node.lineno
            for alias in node.names:  # `from . import _x` imports a module
                yield f"{target}.{alias.name}", node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("monitor"):
                    yield alias.name, node.lineno


@pytest.fixture(scope="module")
def graph() -> dict[str, set[tuple[str, int]]]:
    modules = _modules()
    return {
        name: {(t, line) for t, line in _imports(name, path) if t in modules}
        for name, path in modules.items()
    }


#: The package's facade (``import monitor``) and ``python -m monitor`` sit above everything.
FACADES = frozenset({"monitor", "monitor.__main__"})


def test_packages_import_only_downwards(graph) -> None:
    wrong = []
    for module, targets in graph.items():
        if module in FACADES:
            continue
        own = _package_of(module)
        for target, line in targets:
            other = _package_of(target)
            if other == own or other == "_top":
                continue
            if RANK.get(other, 99) >= RANK.get(own, 99):
                wrong.append(f"{module}:{line} imports {target} ({own} must not import {other})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_private_module_is_imported_from_another_package(graph) -> None:
    wrong = []
    for module, targets in graph.items():
        for target, line in targets:
            last = target.rsplit(".", 1)[-1]
            private = last.startswith("_") and not last.startswith("__")
            other = _package_of(target)
            if private and other not in (_package_of(module), "_top"):
                wrong.append(f"{module}:{line} imports private {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_circles(graph) -> None:
    edges = {m: {t for t, _ in targets if t != m} for m, targets in graph.items()}
    # A package's __init__ importing its own modules is the usual re-export, not a circle back:
    # drop edges from a module to the __init__ of its own package.
    for module, targets in edges.items():
        parents = {module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)}
        targets -= parents
    cycles = _cycles(edges)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_checker_sees_a_circle() -> None:
    """The cycle finder itself: a circle of three is reported, a chain is not."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []

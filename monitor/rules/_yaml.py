"""Read rule files into plain values that remember where each value was written.

PyYAML's constructors drop node marks, so a validation error could only name the file. This
loader builds `LocMap` / `LocList` (dict and list subclasses) that keep the line and column of
every key and value, so every `RuleError` can point at the exact place to edit.

Two YAML 1.1 surprises are switched off because rule authors write words, not booleans:
``yes/no/on/off`` stay strings (only ``true``/``false`` are booleans), and a key written twice
in one mapping is an error instead of silently keeping the last value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from .._yaml_guard import check_aliases
from ..errors import RuleError, SourceLocation

__all__ = ["LocList", "LocMap", "read_documents"]


class LocMap(dict):  # type: ignore[type-arg]
    """A mapping read from YAML, with the location of itself, each key and each value."""

    loc: SourceLocation
    key_locs: dict[Any, SourceLocation]
    value_locs: dict[Any, SourceLocation]

    def key_loc(self, key: Any) -> SourceLocation:
        """Where `key` was written (the mapping's own location when unknown)."""
        return self.key_locs.get(key, self.loc)

    def value_loc(self, key: Any) -> SourceLocation:
        """Where the value of `key` was written (the mapping's own location when unknown)."""
        return self.value_locs.get(key, self.loc)


class LocList(list):  # type: ignore[type-arg]
    """A sequence read from YAML, with the location of itself and of each item."""

    loc: SourceLocation
    item_locs: list[SourceLocation]

    def item_loc(self, index: int) -> SourceLocation:
        """Where item `index` was written."""
        return self.item_locs[index] if index < len(self.item_locs) else self.loc


def _loc(path: str, mark: yaml.Mark | None) -> SourceLocation:
    if mark is None:
        return SourceLocation(path)
    return SourceLocation(path, mark.line + 1, mark.column + 1)


# libyaml's parser when PyYAML was built with it (about 10x faster on big rule packs).
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that records marks and refuses duplicate keys (collected, not raised)."""

    def __init__(self, stream: str, path: str) -> None:
        super().__init__(stream)
        self.path = path
        self.problems: list[RuleError] = []


# Only true/false are booleans: "no", "on", "off", "yes" are ordinary words in rules.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LocMap:
    loader.flatten_mapping(node)
    result = LocMap()
    result.loc = _loc(loader.path, node.start_mark)
    result.key_locs = {}
    result.value_locs = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            loader.problems.append(
                RuleError(
                    "a mapping key must be a plain word",
                    source=_loc(loader.path, key_node.start_mark),
                )
            )
            continue
        if key in result:
            loader.problems.append(
                RuleError(
                    f"key {key!r} is written twice in this mapping (first at line "
                    f"{result.key_locs[key].line}); keep one",
                    source=_loc(loader.path, key_node.start_mark),
                )
            )
            continue
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_locs[key] = _loc(loader.path, key_node.start_mark)
        result.value_locs[key] = _loc(loader.path, value_node.start_mark)
    return result


def _construct_list(loader: _Loader, node: yaml.SequenceNode) -> LocList:
    result = LocList(loader.construct_object(child, deep=True) for child in node.value)
    result.loc = _loc(loader.path, node.start_mark)
    result.item_locs = [_loc(loader.path, child.start_mark) for child in node.value]
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)  # type: ignore[arg-type]
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_list)  # type: ignore[arg-type]


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RuleError(
            f"the file is not UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            source=SourceLocation(path, line, column),
        ) from None


def read_documents(data: bytes, path: str) -> Iterator[tuple[Any, SourceLocation]]:
    """Yield each YAML document of a file with its start location.

    Raises:
        RuleError: the file is not UTF-8, is not valid YAML, or repeats a key in a mapping.
            Documents before the fault are yielded first, so a caller collecting errors still
            sees them.
    """
    text = _decode(data, path)
    if "\x00" in text:
        pos = text.index("\x00")
        line = text.count("\n", 0, pos) + 1
        raise RuleError(
            "the file contains a NUL byte; rule files are text",
            source=SourceLocation(path, line, pos - text.rfind("\n", 0, pos)),
        )
    loader = _Loader(text, path)
    try:
        while loader.check_node():
            node = loader.get_node()
            start = _loc(path, node.start_mark if node is not None else None)
            check_aliases(node, lambda message, mark: RuleError(message, source=_loc(path, mark)))
            document = loader.construct_document(node) if node is not None else None
            if loader.problems:
                raise loader.problems[0]
            yield document, start
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise RuleError(f"invalid YAML: {message}", source=_loc(path, mark)) from None
    except yaml.YAMLError as exc:
        raise RuleError(f"invalid YAML: {exc}", source=SourceLocation(path)) from None
    finally:
        loader.dispose()

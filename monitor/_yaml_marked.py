"""Configuration YAML (feed lists, monitor.yaml) read into plain values that remember where
each key and value was written.

PyYAML's constructors drop node marks; these keep them (`Marked.marks` for values,
`Marked.key_marks` for keys, `MarkedList.marks`) so every `ConfigError` names file:line:column.
Reading is bounded: the file size (the caller's `limit`) and what aliases may expand to
(`check_aliases`) are checked before any value is built. Rule files have their own reader
(`monitor.rules._yaml`), which collects problems instead of raising the first.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ._files import FileTooLarge, MiB, read_limited
from ._yaml_guard import check_aliases
from .errors import ConfigError, SourceLocation

__all__ = ["Marked", "MarkedList", "loc", "read_marked"]


class Marked(dict):  # type: ignore[type-arg]
    """A mapping that remembers where it and each of its values started in the file."""

    def __init__(self) -> None:
        super().__init__()
        self.mark: yaml.Mark | None = None
        self.marks: dict[str, yaml.Mark] = {}
        self.key_marks: dict[str, yaml.Mark] = {}


class MarkedList(list):  # type: ignore[type-arg]
    """A sequence that remembers where it and each of its items started in the file."""

    mark: yaml.Mark | None = None
    marks: list[yaml.Mark]


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps node marks, so errors can point at a line and column."""

    name: str = "<configuration>"


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Marked:
    loader.flatten_mapping(node)
    result = Marked()
    result.mark = node.start_mark
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise ConfigError(
                f"keys must be text, got {key!r}", source=loc(loader.name, key_node.start_mark)
            )
        if key in result:
            raise ConfigError(
                f"key {key!r} appears twice in this mapping; keep one",
                source=loc(loader.name, key_node.start_mark),
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.marks[key] = value_node.start_mark
        result.key_marks[key] = key_node.start_mark
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> MarkedList:
    result = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    result.mark = node.start_mark
    result.marks = [child.start_mark for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def loc(path: str, mark: yaml.Mark | None) -> SourceLocation:
    """The `SourceLocation` of a YAML mark in `path` (1-based line and column)."""
    if mark is None:
        return SourceLocation(str(path))
    return SourceLocation(str(path), mark.line + 1, mark.column + 1)


def read_marked(path: Path, *, what: str, limit: int) -> object:
    """Read the single YAML document at `path` into `Marked` / `MarkedList` values.

    `what` names the file in messages ("feed list", "configuration file").

    Raises:
        ConfigError: the file is missing, unreadable, larger than `limit` bytes, not UTF-8,
            not YAML, repeats a key, or holds an alias bomb; with file:line:column.
    """
    name = str(path)
    try:
        text = read_limited(path, limit).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", source=SourceLocation(name)) from None
    except FileTooLarge:
        raise ConfigError(
            f"the {what} is larger than {limit // MiB} MiB; check that this is the file you meant",
            source=SourceLocation(name),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the {what}: {exc}", source=SourceLocation(name)) from exc
    loader = _Loader(text)
    loader.name = name
    try:
        node = loader.get_single_node()
        check_aliases(node, lambda message, mark: ConfigError(message, source=loc(name, mark)))
        return loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"not valid YAML: {problem}", source=loc(name, mark)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=SourceLocation(name)) from exc
    finally:
        loader.dispose()

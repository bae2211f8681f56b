"""Where rules come from: rule folders and files, and the default pack installed with monitor.

A rule set is loaded from one or more *sources*. A source is a folder (searched recursively), a
single rule file, or the name ``default``: the rule pack that ships inside the package (the
repository's top-level ``rules/`` folder, installed as the package ``monitor._pack``). Only the
string ``"default"`` names the pack; a folder that happens to be called ``default`` is written
``./default`` (or passed as a `Path`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import attrs

__all__ = [
    "DEFAULT_PACK",
    "RuleSource",
    "RuleSources",
    "default_pack_path",
    "resolve_sources",
]

#: The name that stands for the rule pack installed with monitor.
DEFAULT_PACK = "default"
_PACKAGE = "monitor._pack"

#: What `load_rules` and `check_rules` accept: one source, or several in order.
RuleSources = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]

_extracted: Path | None = None


@attrs.frozen
class RuleSource:
    """One source of rules: the name it was given by (``default`` or the path as written) and
    the folder or file it resolves to."""

    name: str
    path: Path


def _copy_tree(node: Traversable, into: Path) -> None:
    for child in node.iterdir():
        if child.is_dir():
            (into / child.name).mkdir()
            _copy_tree(child, into / child.name)
        elif child.name.endswith((".yaml", ".yml")):
            (into / child.name).write_bytes(child.read_bytes())


def default_pack_path() -> Path:
    """Return the folder of the default rule pack, ready for `load_rules`.

    The pack is package data of ``monitor._pack``: in a wheel install a folder in
    site-packages, in an editable install the repository's ``rules/`` folder itself (so edits
    there are what ``default`` loads). Were monitor imported from a zip archive, the pack is
    copied once to a temporary folder, removed at exit.

    Raises:
        FileNotFoundError: the pack is not installed (a broken or partial install).
    """
    global _extracted
    try:
        pack = resources.files(_PACKAGE)
    except ModuleNotFoundError as exc:
        raise FileNotFoundError(
            f"the default rule pack is not installed (no package {_PACKAGE}); reinstall "
            "news-monitor, or give a rule folder with --rules"
        ) from exc
    if isinstance(pack, Path):
        return pack
    if _extracted is None:  # not on disk (zipimport): the loader reads real files
        folder = Path(tempfile.mkdtemp(prefix="monitor-pack-"))
        atexit.register(shutil.rmtree, folder, True)
        _copy_tree(pack, folder)
        _extracted = folder
    return _extracted


def resolve_sources(sources: RuleSources) -> tuple[RuleSource, ...]:
    """Resolve `sources` (one, or a sequence) to `RuleSource`s, in the order given.

    ``"default"`` becomes the installed pack; anything else is a path, not checked here (the
    loader reports a missing one with its name). A source given twice is kept once.

    Raises:
        FileNotFoundError: ``default`` is asked for and the pack is not installed.
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    resolved: list[RuleSource] = []
    seen: set[Path] = set()
    for source in sources:
        if isinstance(source, str) and source == DEFAULT_PACK:
            item = RuleSource(DEFAULT_PACK, default_pack_path())
        else:
            item = RuleSource(os.fspath(source), Path(source))
        key = item.path.resolve()
        if key not in seen:
            seen.add(key)
            resolved.append(item)
    return tuple(resolved)

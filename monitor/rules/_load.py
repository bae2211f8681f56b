"""Load rule folders: all or nothing, every fault reported with its location.

A rule set comes from one or more sources (folders, files, or ``default``, the installed pack;
see ``_sources``). They form one set: a lexicon from any of them serves the rules of all, and
rule ids and lexicon names are unique across all of them.

`check_rules` never raises for content problems: it returns a `CheckReport` with every error
and warning of every file, in file order, so one bad file never hides the faults of another.
`load_rules` raises `RuleSetError` holding all of them when there is any error, so a watcher
that reloads keeps its old rule set rather than running half of a new one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from .._files import FileTooLarge, MiB, read_limited
from ..errors import RuleError, RuleSetError, SourceLocation
from ._aggregations import build_aggregation, check_inputs, is_aggregation
from ._build import Builder, did_you_mean
from ._documents import build_correlation, build_rule
from ._model import CorrelationRule, Rule
from ._ruleset import RuleSet
from ._sources import RuleSource, RuleSources, resolve_sources
from ._yaml import LocMap, read_documents

__all__ = ["CheckReport", "check_rules", "load_rules", "rule_files"]

_SUFFIXES = (".yaml", ".yml")
# Bounds on what a rule folder may make the loader read (the default pack is 0.2 MiB, 10,000
# synthetic rules 2.6 MiB): a hostile or mistaken folder is refused before it fills memory.
MAX_RULE_FILE_BYTES = 16 * MiB
MAX_RULE_SET_BYTES = 128 * MiB


@attrs.frozen
class CheckReport:
    """The result of validating rule sources: errors (load refused) and warnings."""

    errors: tuple[RuleError, ...]
    warnings: tuple[RuleError, ...]
    files: tuple[str, ...] = ()
    ruleset: RuleSet | None = attrs.field(default=None, eq=False, repr=False)
    #: The sources as named (``default``, or the path as given), in order.
    sources: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the rule set would load."""
        return not self.errors


def rule_files(path: str | os.PathLike[str]) -> list[Path]:
    """Return the rule files under `path` (a file, or a folder searched recursively), sorted."""
    root = Path(path)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in _SUFFIXES and p.is_file())


def _documents(files: Iterable[Path], builder: Builder) -> list[tuple[LocMap, str]]:
    docs: list[tuple[LocMap, str]] = []
    total = 0
    for file in files:
        path = str(file)
        try:
            data = read_limited(file, MAX_RULE_FILE_BYTES)
        except FileTooLarge:
            builder.error(
                f"the file is larger than {MAX_RULE_FILE_BYTES // MiB} MiB; a rule file is "
                "text written by people: split it, or check that this is the file you meant",
                SourceLocation(path),
            )
            continue
        except OSError as exc:
            builder.error(f"cannot read the file: {exc.strerror or exc}", SourceLocation(path))
            continue
        total += len(data)
        if total > MAX_RULE_SET_BYTES:
            builder.error(
                f"the rule files read so far hold more than {MAX_RULE_SET_BYTES // MiB} MiB; "
                "point --rules at the folder you meant (a pack this large is not supported)",
                SourceLocation(path),
            )
            break
        try:
            for doc, start in read_documents(data, path):
                if doc is None:
                    continue
                if not isinstance(doc, LocMap):
                    builder.error(
                        "a document must be a mapping (a rule, a correlation rule or a lexicon)",
                        start,
                    )
                    continue
                kind = (
                    "lexicon"
                    if "lexicon" in doc
                    else "correlation"
                    if "correlation" in doc
                    else "rule"
                    if "detection" in doc
                    else None
                )
                if kind is None:
                    guess = (
                        did_you_mean(next(iter(doc), ""), ["detection", "correlation", "lexicon"])
                        if doc
                        else ""
                    )
                    builder.error(
                        "not a rule, a correlation rule or a lexicon: a document "
                        f"needs 'detection', 'correlation' or 'lexicon'{guess}",
                        start,
                    )
                    continue
                docs.append((doc, kind))
        except RuleError as exc:
            builder.errors.append(exc)
    return docs


def _files(sources: tuple[RuleSource, ...], builder: Builder) -> list[Path]:
    """Every rule file of every source, in source order; a file reached twice is read once."""
    files: list[Path] = []
    seen: set[Path] = set()
    for source in sources:
        if not source.path.exists():
            builder.error("no such file or folder", SourceLocation(source.name))
            continue
        found = rule_files(source.path)
        if not found:
            builder.error("no rule files (*.yaml, *.yml) found here", SourceLocation(source.name))
        for file in found:
            if (key := file.resolve()) not in seen:
                seen.add(key)
                files.append(file)
    return files


def _check(given: RuleSources, overrides: RuleSources = ()) -> CheckReport:
    builder = Builder()
    try:
        sources = resolve_sources(given)
        replacing = resolve_sources(overrides) if overrides else ()
    except FileNotFoundError as exc:
        builder.error(str(exc), SourceLocation("default"))
        return CheckReport(tuple(builder.errors), ())
    names = tuple(s.name for s in (*sources, *replacing))
    if not sources:
        builder.error("no rule sources given", SourceLocation("<rules>"))
        return CheckReport(tuple(builder.errors), ())
    files = _files((*sources, *replacing), builder)
    #: Files whose rules replace same-id rules of `sources` (see `load_rules`' `overrides`).
    override_files = {str(f) for f in _files(replacing, Builder())} if replacing else set()
    if builder.errors:  # a missing source: the set would not be the one asked for
        return CheckReport(tuple(builder.errors), (), tuple(str(f) for f in files), None, names)
    docs = _documents(files, builder)
    lexicons = [
        lex
        for doc, kind in docs
        if kind == "lexicon"
        if (lex := builder.build_lexicon(doc)) is not None
    ]
    rules: list[Rule] = []
    correlations: list[CorrelationRule] = []
    seen: dict[str, Any] = {}
    for doc, kind in docs:
        if kind == "lexicon":
            continue
        if kind == "rule":
            built: Any = build_rule(builder, doc)
        elif is_aggregation(doc):  # spike, flatline, new_value, cardinality
            built = build_aggregation(builder, doc)
        else:
            built = build_correlation(builder, doc)
        if built is None:
            continue
        earlier = seen.get(built.id)
        if (
            earlier is not None
            and override_files
            and str(doc.loc.path) in override_files
            and str(getattr(earlier.location, "path", "")) not in override_files
        ):
            # An override replaces the rule of the same id (a changed rule under test).
            kept = rules if isinstance(earlier, Rule) else correlations
            kept.remove(earlier)
            del seen[built.id]
        if built.id in seen:
            builder.error(
                f"duplicate id {built.id!r}, first defined at {seen[built.id].location};"
                " ids must be unique across all files",
                doc.value_loc("id"),
            )
            continue
        seen[built.id] = built
        (rules if isinstance(built, Rule) else correlations).append(built)
    for corr in correlations:
        for ref in corr.rules:
            if ref not in seen:
                loc = corr.location
                doc_body = next(
                    (
                        d["correlation"]
                        for d, k in docs
                        if k == "correlation" and d.get("id") == corr.id
                    ),
                    None,
                )
                if isinstance(doc_body, LocMap):
                    loc = doc_body.value_loc("rules")
                builder.error(
                    f"correlation {corr.id!r} refers to unknown rule {ref!r}"
                    f"{did_you_mean(ref, seen)}",
                    loc,
                )
    check_inputs(builder, correlations, seen)
    ruleset = None
    if not builder.errors:
        ruleset = RuleSet(rules, correlations, lexicons, sources=names)
        for rule in ruleset.unindexed():
            builder.warn(
                f"rule {rule.id!r} has no term that can be indexed (only regexes without "
                "a literal word of 3+ letters or digits, keyword fields or negations); it is "
                "evaluated for every item",
                rule.location,
            )
        for rule in rules:
            if not rule.tests:
                builder.warn(
                    f"rule {rule.id!r} has no tests; add 'tests: {{match: [...], "
                    "no_match: [...]}}'",
                    rule.location,
                )
    return CheckReport(
        tuple(builder.errors),
        tuple(builder.warnings),
        tuple(str(f) for f in files),
        ruleset,
        names,
    )


def check_rules(sources: RuleSources) -> CheckReport:
    """Validate every rule file of `sources` (see `load_rules`); never raises for content
    problems."""
    return _check(sources)


def load_rules(sources: RuleSources, *, overrides: RuleSources = ()) -> RuleSet:
    """Load and compile every rule file of `sources` as one rule set.

    `sources` is one source or a sequence of them: a folder (searched recursively), a rule
    file, or ``"default"``, the pack installed with monitor. Lexicons of every source serve
    the rules of every source; rule ids and lexicon names must be unique across all of them.
    ``RuleSet.sources`` records the sources by name.

    `overrides` are more sources whose rules and correlations *replace* those of `sources`
    with the same id instead of clashing with them (a backtest of changed rules against the
    active set: ``monitor backtest --add``); among themselves their ids must be unique too.

    Raises:
        RuleSetError: any file has any error; ``.errors`` lists them all with locations.
            Nothing is half-loaded.
    """
    report = _check(sources, overrides)
    if report.errors or report.ruleset is None:
        raise RuleSetError(report.errors)
    return report.ruleset

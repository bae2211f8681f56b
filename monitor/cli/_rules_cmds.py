"""``monitor rules check|test|explain`` and ``monitor match``: work on rule files, no log needed.

Exit codes follow `monitor.cli._main`: 0 fine, 1 a problem found (failing rule tests),
4 invalid input (rule files with errors, unreadable or malformed item lines).
"""

from __future__ import annotations

import json
import sys
from collections import deque
from pathlib import Path
from typing import IO, Any

import attrs
import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..alerting import (
    CorrelationExplanation,
    explain_correlation,
    explain_correlation_tests,
    run_tests,
)
from ..errors import ConfigError, RuleError, RuleSetError
from ..events import AlertRaised
from ..log import open_log
from ..rules import (
    ALL_LANGS,
    EvalReport,
    RuleSet,
    check_rules,
    did_you_mean,
    evaluate_corpus,
    load_rules,
    read_corpus,
)
from ._context import EXIT_INPUT, EXIT_PROBLEM, CliContext
from ._options import InputFile, rules_option, rules_sources
from ._progress import progress_bar
from ._render import console, is_quiet
from ._sarif import sarif_log

__all__ = ["match_command", "register", "rules_group"]


def _console(err: bool = False) -> Console:
    return console(err=err, soft_wrap=True)


def _problem_json(problem: RuleError) -> dict[str, Any]:
    """A rule error or warning as JSON: location (file:line:column), path, line, column,
    message (the shape `monitor config check --json` uses)."""
    source = problem.source
    return {
        "location": None if source is None else str(source),
        "path": None if source is None else source.path,
        "line": None if source is None else source.line,
        "column": None if source is None else source.column,
        "message": problem.message,
    }


def _load(sources: tuple[str, ...], *, as_json: bool = False) -> RuleSet:
    """Load rules or print every error (file:line:col) and exit 4; with `as_json`, print
    {"ok": false, "errors": [...]} on stdout instead."""
    try:
        return load_rules(sources)
    except RuleSetError as exc:
        if as_json:
            errors = [_problem_json(e) for e in exc.errors]
            click.echo(json.dumps({"ok": False, "errors": errors}, ensure_ascii=False))
            sys.exit(EXIT_INPUT)
        err = _console(err=True)
        for error in exc.errors:
            where = str(error.source or ", ".join(sources))
            err.print(f"{escape(where)}: [red]error[/]: {escape(error.message)}")
        err.print(f"[red]{len(exc.errors)} error(s)[/]: the rule set was not loaded")
        sys.exit(EXIT_INPUT)


@click.group("rules")
def rules_group() -> None:
    """Check, test and explain rule files (see the README, "Rules")."""


@rules_group.command("check")
@click.argument("sources", nargs=-1, type=click.Path())
@rules_option()
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 4).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option(
    "--sarif",
    "sarif_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help="Also write the errors and warnings as SARIF 2.1.0 to this file ('-': stdout, "
    "instead of the text), for GitHub code scanning and CI annotations.",
)
def check_command(
    sources: tuple[str, ...],
    rules: tuple[str, ...],
    strict: bool,
    as_json: bool,
    sarif_path: str | None,
) -> None:
    """Validate every rule file of SOURCES (and --rules) as one set [default: default].

    A source is a folder, a rule file or 'default' (the installed pack). Prints each error
    and warning as FILE:LINE:COLUMN: message, then a summary. Exits 0 when the rule set
    would load, 4 when it has errors (or warnings, with --strict).
    """
    if as_json and sarif_path == "-":
        raise click.UsageError("--json and --sarif - both print to stdout; pick one")
    checked = rules_sources(sources + rules)
    report = check_rules(checked)
    failed = bool(report.errors) or (strict and bool(report.warnings))
    if sarif_path is not None:
        text = json.dumps(
            sarif_log(report.errors, report.warnings, fallback=checked[0]),
            ensure_ascii=False,
            indent=2,
        )
        if sarif_path == "-":
            click.echo(text)
        else:
            try:
                Path(sarif_path).write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                raise click.FileError(sarif_path, exc.strerror or str(exc)) from None
    if as_json:
        rs = report.ruleset
        data = {
            "ok": not failed,
            "sources": list(checked),
            "files": list(report.files),
            "rules": None if rs is None else len(rs.rules),
            "correlations": None if rs is None else len(rs.correlations),
            "lexicons": None if rs is None else len(rs.lexicons),
            "hash": None if rs is None else rs.hash,
            "errors": [_problem_json(e) for e in report.errors],
            "warnings": [_problem_json(w) for w in report.warnings],
        }
        click.echo(json.dumps(data, ensure_ascii=False))
    if as_json or sarif_path == "-":
        if failed:
            sys.exit(EXIT_INPUT)
        return
    out = _console()
    for error in report.errors:
        out.print(f"{escape(str(error.source))}: [red]error[/]: {escape(error.message)}")
    for warning in report.warnings:
        out.print(f"{escape(str(warning.source))}: [yellow]warning[/]: {escape(warning.message)}")
    if report.errors:
        if not is_quiet():
            out.print(
                f"[red]{len(report.errors)} error(s)[/], {len(report.warnings)} warning(s) in "
                f"{len(report.files)} file(s): the rule set would NOT load"
            )
        sys.exit(EXIT_INPUT)
    rs = report.ruleset
    assert rs is not None
    if not is_quiet():
        out.print(
            f"[green]OK[/]: {len(report.files)} file(s), {len(rs.rules)} rule(s), "
            f"{len(rs.correlations)} correlation rule(s), {len(rs.lexicons)} lexicon(s), "
            f"{len(report.warnings)} warning(s); hash {rs.hash[:16]}"
        )
    if strict and report.warnings:
        sys.exit(EXIT_INPUT)


@rules_group.command("test")
@click.argument("sources", nargs=-1, type=click.Path())
@rules_option()
@click.option("--rule", "only", multiple=True, help="Only test this rule id (repeatable).")
@click.option("-v", "--verbose", is_flag=True, help="List every test, not only failures.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
def test_command(
    sources: tuple[str, ...],
    rules: tuple[str, ...],
    only: tuple[str, ...],
    verbose: bool,
    as_json: bool,
) -> None:
    """Run every rule's embedded tests of SOURCES (and --rules) [default: default], like a
    test runner.

    A rule's `match` items must raise it and its `no_match` items must not. Failures show the
    item text and why (the evaluated condition and each selection). Exits 1 when any test
    fails, 4 when the rules do not load.
    """
    ruleset = _load(rules_sources(sources + rules), as_json=as_json)
    report = run_tests(ruleset)
    results = [r for r in report.results if not only or r.rule_id in only]
    failures = [r for r in results if r.outcome == "failed"]
    if as_json:
        data = {
            "ok": not failures,
            "passed": sum(r.outcome == "passed" for r in results),
            "failed": len(failures),
            "not_run": sum(r.outcome == "not run" for r in results),
            "results": [
                {
                    "rule_id": r.rule_id,
                    "name": r.name,
                    "outcome": r.outcome,
                    "text": r.text,
                    "reason": r.reason,
                    "location": None if r.location is None else str(r.location),
                }
                for r in results
            ],
        }
        click.echo(json.dumps(data, ensure_ascii=False))
        if failures:
            sys.exit(EXIT_PROBLEM)
        return
    out = _console()
    quiet = is_quiet()
    by_rule: dict[str, list[Any]] = {}
    for result in results:
        by_rule.setdefault(result.rule_id, []).append(result)
    for rule_id, rule_results in by_rule.items():
        if quiet:
            break
        marks = "".join(
            {"passed": "[green].[/]", "failed": "[red]F[/]", "not run": "[yellow]s[/]"}[r.outcome]
            for r in rule_results
        )
        out.print(f"{escape(rule_id)} {marks}")
        if verbose:
            for r in rule_results:
                out.print(f"    {escape(r.name)}: {r.outcome}")
    for r in failures:
        out.print(
            f"\n[red]FAILED[/] {escape(r.rule_id)} {escape(r.name)}"
            f" ({escape(str(r.location or ''))})"
        )
        out.print(f"  item: {escape(r.text)}")
        for line in r.reason.splitlines():
            out.print(f"  {escape(line)}")
    passed = sum(r.outcome == "passed" for r in results)
    not_run = sum(r.outcome == "not run" for r in results)
    colour = "red" if failures else "green"
    summary = f"[{colour}]{passed} passed, {len(failures)} failed[/]"
    if not_run:
        summary += (
            f", [yellow]{not_run} not run[/] (correlation tests: no correlation test "
            "runner is available in this build)"
        )
    if not quiet:
        out.print("\n" + summary)
    if only and not results and not quiet:
        out.print(f"[yellow]no tests for {', '.join(only)}[/]")
    if failures:
        sys.exit(EXIT_PROBLEM)


@rules_group.command("explain")
@click.argument("rule_id")
@click.argument("text", required=False, default="")
@rules_option()
@click.option("--title", default="", help="The item's title.")
@click.option("--content", default="", help="The item's content (body).")
@click.option("--source", default=None, help="The item's source (publisher).")
@click.option("--feed", default=None, help="The item's feed id.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as one JSON object.")
@click.option(
    "--log",
    "from_log",
    is_flag=True,
    help="Correlation rules: explain its latest alerts in the log, not its tests.",
)
@click.option(
    "--limit", default=5, show_default=True, help="With --log: the latest N alerts of the rule."
)
@click.pass_obj
def explain_command(
    obj: CliContext,
    rule_id: str,
    text: str,
    rules: tuple[str, ...],
    title: str,
    content: str,
    source: str | None,
    feed: str | None,
    as_json: bool,
    from_log: bool,
    limit: int,
) -> None:
    """Explain why rule RULE_ID does or does not match TEXT (the item's summary).

    Shows the condition as evaluated, each selection's result, what was found where
    (character offsets in each field) and the entities found in the item.

    For a correlation rule: runs its tests (or, with --log, reads its latest alerts in the
    log) and shows, for each alert, the window (start, end, timespan), the condition and
    every match it counted with its item (title, feed, time) and evidence.
    """
    sources = rules_sources(rules)
    ruleset = _load(sources, as_json=as_json)
    correlation = next((c for c in ruleset.correlations if c.id == rule_id), None)
    if correlation is not None:
        _explain_correlation(obj, ruleset, correlation, from_log, limit, as_json)
        return
    try:
        ruleset.rule(rule_id)
    except KeyError:
        ids = [r.id for r in ruleset.rules] + [c.id for c in ruleset.correlations]
        click.echo(
            f"error: no rule {rule_id!r} in {', '.join(sources)}{did_you_mean(rule_id, ids)}",
            err=True,
        )
        sys.exit(EXIT_INPUT)
    item = {"title": title, "summary": text, "content": content, "source": source, "feed": feed}
    explanation = ruleset.explain(rule_id, item)
    if as_json:
        data = attrs.asdict(explanation)
        data["item"] = item
        click.echo(json.dumps(data, ensure_ascii=False, default=str))
        return
    out = _console()
    for line in explanation.lines():
        colour = (
            "green"
            if "true" in line.split(" - ")[0] or "MATCH" in line
            else "red"
            if line.endswith("false") or "no match" in line
            else None
        )
        out.print(f"[{colour}]{escape(line)}[/]" if colour else escape(line))


def _explain_correlation(
    obj: CliContext, ruleset: RuleSet, rule: Any, from_log: bool, limit: int, as_json: bool
) -> None:
    """``rules explain`` on a correlation rule: its alerts in the tests, or in the log."""
    groups: list[tuple[str, list[CorrelationExplanation]]]
    if from_log:
        log = open_log(obj.db, read_only=True)
        try:
            latest: deque[AlertRaised] = deque(maxlen=max(1, limit))
            for _r, evt in log.iter_events(types=("AlertRaised",)):
                if isinstance(evt, AlertRaised) and evt.rule_id == rule.id:
                    latest.append(evt)
            groups = [("log", [explain_correlation(log, a, ruleset) for a in latest])]
        finally:
            log.close()
    elif not rule.tests:
        click.echo(
            f"error: correlation {rule.id!r} has no tests to explain; add tests, or pass --log "
            "to explain its alerts in the log",
            err=True,
        )
        sys.exit(EXIT_INPUT)
    else:
        groups = explain_correlation_tests(ruleset, rule)
    if as_json:
        data = {
            "rule_id": rule.id,
            "from": "log" if from_log else "tests",
            "runs": [
                {"name": name, "alerts": [e.to_dict() for e in explained]}
                for name, explained in groups
            ],
        }
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    out = _console()
    for name, explained in groups:
        heading = "in the log" if from_log else f"test {name!r}"
        out.print(f"[bold]{escape(rule.id)}[/] {escape(heading)}: {len(explained)} alert(s)")
        for explanation in explained:
            for line in explanation.lines():
                out.print("  " + escape(line))
        out.print()


def _parse_pairs(values: tuple[str, ...], option: str) -> dict[str, list[str]]:
    """``label=rule`` (repeatable) as {label: [rule, ...]}; exit 2 on a malformed entry."""
    pairs: dict[str, list[str]] = {}
    for value in values:
        label, sep, rule_id = value.partition("=")
        if not sep or not label.strip() or not rule_id.strip():
            raise click.BadParameter(f"{value!r}: write LABEL=RULE-ID", param_hint=option)
        pairs.setdefault(label.strip(), []).append(rule_id.strip())
    return pairs


def _parse_bounds(values: tuple[str, ...], option: str) -> dict[str, float]:
    """``X`` or ``LANG=X`` (repeatable) as {lang or '*': X}; exit 2 on a malformed entry."""
    bounds: dict[str, float] = {}
    for value in values:
        lang, sep, number = value.rpartition("=")
        try:
            bound = float(number)
        except ValueError:
            raise click.BadParameter(
                f"{value!r}: write a number between 0 and 1, or LANG=NUMBER", param_hint=option
            ) from None
        if not 0.0 <= bound <= 1.0:
            raise click.BadParameter(f"{value!r}: must be between 0 and 1", param_hint=option)
        bounds[lang.strip().lower() if sep else "*"] = bound
    return bounds


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _print_eval(report: EvalReport, corpus: str, min_f1: dict[str, float]) -> None:
    out = _console()
    langs = ", ".join(f"{k} {v}" for k, v in sorted(report.items.items()) if k != ALL_LANGS)
    table = Table(
        title=f"{corpus}: {report.items[ALL_LANGS]} item(s) ({langs or 'none'})", expand=False
    )
    for column in ("label", "rule", "lang", "tp", "fp", "fn", "unsure", "P", "R", "F1"):
        table.add_column(column, justify="right" if column not in ("label", "rule") else "left")
    low = {id(s) for s in report.below(min_f1)} if min_f1 else set()
    previous = None
    for score in report.scores:
        first = (score.label, score.rule_id) != previous
        previous = (score.label, score.rule_id)
        f1 = _ratio(score.f1)
        table.add_row(
            escape(score.label) if first else "",
            escape(score.rule_id) if first else "",
            score.lang,
            str(score.tp),
            str(score.fp),
            str(score.fn),
            str(score.skipped),
            _ratio(score.precision),
            _ratio(score.recall),
            f"[red]{f1}[/]" if id(score) in low else f1,
            end_section=False,
        )
    out.print(table)
    fires = {k: v for k, v in report.unmapped_fires.items() if v}
    if fires:
        out.print(
            "rules no corpus label maps to (not scored), times fired: "
            + ", ".join(f"{escape(k)} {v}" for k, v in sorted(fires.items()))
        )
    for error in report.errors:
        item = error.item
        kind = "MISSED" if error.kind == "fn" else "FALSE ALARM"
        out.print(
            f"\n[red]{kind}[/] {escape(error.label)} / {escape(error.rule_id)}: "
            f"{escape(item.id)} {escape(f'[{item.lang}]')}"
            + (f" line {item.line}" if item.line else "")
        )
        for name in ("title", "summary", "content"):
            value = item.fields.get(name)
            if value:
                out.print(f"  {name}: {escape(str(value))}")
        if item.fields.get("url"):
            out.print(f"  url: {escape(str(item.fields['url']))}")
        for line in error.explanation:
            out.print(f"  | {escape(line)}")


@rules_group.command("eval")
@click.argument("corpus", type=InputFile("corpus"))
@rules_option()
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="LABEL=RULE",
    help="Score corpus label LABEL against rule RULE (repeatable; replaces the rules' own "
    "mapping for that label).",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    help="Also score LABEL when no item carries it (every firing is then a false alarm).",
)
@click.option(
    "--every-rule",
    is_flag=True,
    help="Score every detection rule under its own id as a label (a corpus labelled with rule "
    "ids, such as a general news stream where most items carry no label).",
)
@click.option("--lang", "langs", multiple=True, help="Only items in this language (repeatable).")
@click.option("--show-errors", is_flag=True, help="Print every miss and false alarm, explained.")
@click.option(
    "--min-f1",
    "min_f1",
    multiple=True,
    metavar="[LANG=]X",
    help="Exit 1 when an F1 is below X (for LANG only with LANG=X; repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def eval_command(
    corpus: str,
    rules: tuple[str, ...],
    maps: tuple[str, ...],
    labels: tuple[str, ...],
    every_rule: bool,
    langs: tuple[str, ...],
    show_errors: bool,
    min_f1: tuple[str, ...],
    as_json: bool,
) -> None:
    """Score the rules against the labelled CORPUS (JSON lines): tp, fp, fn, P, R, F1.

    Each line is an item (title, summary, content, source, url, lang...) with "labels" (a
    list of label names) and optionally "uncertain_labels" (left out of those labels' scores).
    A corpus label is scored against a rule whose id is the label, or whose `labels:` has the
    label as a value (`detects: troop_movement`), or that --map names. Scores are given per
    language and over all items ("all"). Exits 1 when --min-f1 is not met, 4 when the rules or
    the corpus cannot be read.
    """
    explicit = _parse_pairs(maps, "--map")
    bounds = _parse_bounds(min_f1, "--min-f1")
    ruleset = _load(rules_sources(rules))
    if every_rule:
        labels += tuple(r.id for r in ruleset.rules)
    try:
        with progress_bar("scoring") as update:
            report = evaluate_corpus(
                ruleset,
                read_corpus(corpus),
                explicit=explicit,
                labels=labels,
                show_errors=show_errors,
                langs=langs or None,
                progress=lambda n: update(n, None),
            )
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    below = report.below(bounds) if bounds else []
    if as_json:
        data = report.as_dict()
        data["corpus"] = corpus
        data["min_f1"] = bounds
        data["below_min_f1"] = [s.as_dict() for s in below]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_eval(report, corpus, bounds)
        if not report.mapping and not is_quiet():
            _console(err=True).print(
                "[yellow]no corpus label maps to a rule[/]: give rules `labels: {detects: "
                "LABEL}` or use --map LABEL=RULE"
            )
        for score in below:
            _console(err=True).print(
                f"[red]below --min-f1[/]: {escape(score.label)} / {escape(score.rule_id)} "
                f"{escape(f'[{score.lang}]')} F1 {_ratio(score.f1)}"
            )
    if below:
        sys.exit(EXIT_PROBLEM)


def _match_lines(stream: IO[bytes], name: str, ruleset: RuleSet) -> int:
    """Match each JSON line of `stream`, print one JSON line per item; return bad line count."""
    bad = 0
    write = sys.stdout.write
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw.decode("utf-8"))
            if not isinstance(item, dict):
                raise ValueError(f"expected a JSON object, got {type(item).__name__}")
        except (UnicodeDecodeError, ValueError) as exc:
            bad += 1
            click.echo(f"{name}:{number}: skipped, not a JSON object: {exc}", err=True)
            continue
        matches = ruleset.match(item)
        record = {
            "id": item.get("id"),
            "matches": [
                {
                    "rule": m.rule_id,
                    "level": m.level,
                    "entities": list(m.entities),
                    "evidence": [
                        {
                            "field": e.field,
                            "start": e.start,
                            "end": e.end,
                            "text": e.text,
                            "selection": e.selection,
                        }
                        for e in m.evidence
                    ],
                }
                for m in matches
            ],
        }
        write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return bad


@click.command("match")
@click.argument("file", type=InputFile("items file", allow_dash=True))
@rules_option()
def match_command(file: str, rules: tuple[str, ...]) -> None:
    """Match the items of FILE (JSON lines; '-' reads stdin) against the rules.

    Each input line is a JSON object with any of id, title, summary, content, author, tags,
    feed, source, url, lang, published. For each one, in order, prints one JSON line:
    {"id": ..., "matches": [{"rule", "level", "entities", "evidence": [{"field", "start",
    "end", "text", "selection"}]}]}. Offsets are characters in the original field text.
    A line that is not a JSON object is reported on stderr with its line number and skipped
    (no output line); the command goes on and exits 4 at the end.
    """
    ruleset = _load(rules_sources(rules))
    if file == "-":
        bad = _match_lines(sys.stdin.buffer, "<stdin>", ruleset)
    else:
        path = Path(file)
        try:
            stream = path.open("rb")
        except OSError as exc:
            click.echo(
                f"error: {file}: cannot read the items file: {exc.strerror or exc}", err=True
            )
            sys.exit(EXIT_INPUT)
        with stream:
            bad = _match_lines(stream, file, ruleset)
    if bad:
        click.echo(f"{bad} line(s) skipped", err=True)
        sys.exit(EXIT_INPUT)


def register(group: click.Group) -> None:
    """Attach ``rules`` (check, test, explain) and ``match`` to the ``monitor`` group."""
    group.add_command(rules_group)
    group.add_command(match_command)

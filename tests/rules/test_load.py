"""Loading and validation: every fault is reported with file, line and what to change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.errors import RuleError, RuleSetError
from monitor.rules import check_rules, load_rules

from .builders import FILES, LEXICONS, check, rule, write


def _only_error(name: str) -> RuleError:
    report = check_rules(FILES / name)
    assert len(report.errors) == 1, report.errors
    return report.errors[0]


@pytest.mark.parametrize(
    ("name", "line", "column", "words"),
    [
        ("unknown_field.yaml", 6, 5, ["unknown field 'titel'", "did you mean 'title'"]),
        ("unknown_modifier.yaml", 6, 5, ["unknown modifier 'nera'", "did you mean 'near'"]),
        ("undefined_selection.yaml", 7, 14, ["undefined selection 'noise'"]),
        ("unused_selection.yaml", 7, 3, ["selection 'extra' is not used"]),
        ("bad_regex.yaml", 8, 9, ["RE2 cannot compile regex '(a)\\\\1'"]),
        ("unknown_lexicon.yaml", 6, 18, ["unknown lexicon 'al_tamf'"]),
        ("invalid_yaml.yaml", 3, 10, ["invalid YAML"]),
        ("not_utf8.yaml", 2, 11, ["not UTF-8", "0xe9"]),
        ("bad_condition.yaml", 6, 22, ["condition: unexpected 'or'"]),
    ],
)
def test_each_fault_names_file_line_and_column(name, line, column, words):
    """Each kind of fault is one error located at the offending key, value or byte."""
    error = _only_error(name)
    assert error.source.path == str(FILES / name)
    assert (error.source.line, error.source.column) == (line, column)
    for word in words:
        assert word in error.message
    assert str(error).startswith(f"{FILES / name}:{line}:{column}: ")


def test_duplicate_id_across_files_points_at_the_second(tmp_path):
    """A duplicate id is reported at the second definition and names the first."""
    shutil.copy(FILES / "duplicate_a.yaml", tmp_path / "a.yaml")
    shutil.copy(FILES / "duplicate_b.yaml", tmp_path / "b.yaml")
    report = check_rules(tmp_path)
    [error] = report.errors
    assert error.source.path == str(tmp_path / "b.yaml")
    assert error.source.line == 2
    assert "duplicate id 'same-id'" in error.message
    assert f"{tmp_path / 'a.yaml'}:1:1" in error.message


def test_correlation_to_unknown_rule():
    """A correlation naming a rule that does not exist is an error with a suggestion."""
    error = _only_error("bad_correlation.yaml")
    assert error.source.line == 15
    assert "unknown rule 'official-denail'" in error.message


def test_rule_with_nothing_indexable_is_a_warning_only():
    """A regex-only rule loads, with a warning that it is evaluated for every item."""
    report = check_rules(FILES / "nothing_indexable.yaml")
    assert report.ok
    [warning] = report.warnings
    assert "no term that can be indexed" in warning.message
    assert warning.source.line == 1


def test_collect_all_mode_reports_every_fault_of_one_rule():
    """One rule with five faults yields five errors, each at its own line."""
    report = check_rules(FILES / "many_errors.yaml")
    found = sorted((e.source.line, e.message.split(";")[0][:40]) for e in report.errors)
    lines = [line for line, _ in found]
    assert lines == [3, 6, 8, 10, 12], found
    assert any("level 'severe'" in e.message for e in report.errors)
    assert any("window of at least 1" in e.message for e in report.errors)
    assert any("does not apply to keyword field 'feed'" in e.message for e in report.errors)
    assert any("not a duration" in e.message for e in report.errors)
    assert any("unknown placeholder {{ item.titel }}" in e.message for e in report.errors)


def test_one_bad_file_does_not_hide_faults_of_others(tmp_path):
    """Errors of two files are both reported, in file order."""
    shutil.copy(FILES / "unknown_field.yaml", tmp_path / "a.yaml")
    shutil.copy(FILES / "unknown_modifier.yaml", tmp_path / "b.yaml")
    report = check_rules(tmp_path)
    assert [Path(e.source.path).name for e in report.errors] == ["a.yaml", "b.yaml"]


def test_load_is_all_or_nothing(tmp_path):
    """load_rules raises RuleSetError holding every error when any file is bad."""
    write(tmp_path, rule("sel: {text: convoy}\ncondition: sel", "good"), "good.yaml")
    shutil.copy(FILES / "unknown_field.yaml", tmp_path / "bad.yaml")
    shutil.copy(FILES / "bad_regex.yaml", tmp_path / "worse.yaml")
    with pytest.raises(RuleSetError) as info:
        load_rules(tmp_path)
    assert len(info.value.errors) == 2
    assert "and 1 more" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_folder_and_empty_folder(tmp_path):
    """A path that does not exist or holds no rule files is an error, not a crash."""
    assert "no such file" in check_rules(tmp_path / "nope").errors[0].message
    assert "no rule files" in check_rules(tmp_path).errors[0].message


def test_lexicon_did_you_mean(tmp_path):
    """An unknown lexicon name suggests the closest defined one."""
    report = check(tmp_path, rule("sel: {text|expand: '%al_tamf%'}\ncondition: sel"))
    assert "did you mean 'al_tanf'" in report.errors[0].message


@pytest.mark.parametrize(
    ("detection", "words"),
    [
        ("sel: {text: '%al_tanf%'}\ncondition: sel", "add '|expand'"),
        ("sel: {text: 'de*ploy'}\ncondition: sel", "only allowed at the end"),
        ("sel: {text: '--'}\ncondition: sel", "no letters or digits"),
        ("sel: {text|i: convoy}\ncondition: sel", "'i' only applies to regular expressions"),
        ("sel: {text|near=x: [a, b]}\ncondition: sel", "is not a whole number"),
        ("sel: {text|near: [a, b]}\ncondition: sel", "needs a value"),
        ("sel: {text|all=3: [a, b]}\ncondition: sel", "takes no value"),
        ("sel: {text|near=3: [a]}\ncondition: sel", "at least two values"),
        ("sel: {text|near=3|all: [a, b]}\ncondition: sel", "cannot be combined"),
        ("sel: {text|re|near=3: [a, b]}\ncondition: sel", "'re' cannot be combined"),
        ("sel: {text|score=2: [a, b]}\ncondition: sel", "mapping of term to weight"),
        ("sel: {text|min=2|near=3: [a, b]}\ncondition: sel", "'min' cannot be combined"),
        ("sel: {text: convoy}\ncondition: 1 of noise*", "matches no selection"),
        ("sel: {text: convoy}\ncondition: sel*", "needs a quantifier"),
        ("sel: {text: convoy}\ncondition: (sel", "missing ')'"),
        ("sel: {text: convoy}\ncondition: ''", "needs a 'condition'"),
        ("sel: 12\ncondition: sel", "must be a mapping of field: values"),
        ("and: {text: convoy}\ncondition: and", "condition keyword"),
    ],
)
def test_value_and_modifier_faults(tmp_path, detection, words):
    """Misused values, modifiers and conditions are refused with a message saying what to do."""
    report = check(tmp_path, rule(detection))
    assert report.errors, detection
    assert any(words in e.message for e in report.errors), report.errors
    assert all(e.source.line is not None for e in report.errors)


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("lexicon: x\nkind: place\nterms: [a]\n", "needs 'canonical'"),
        ("lexicon: x\nkind: term\nterms: []\n", "at least one term"),
        ("lexicon: x\nkind: tool\nterms: [a]\n", "kind 'tool' is not valid"),
        ("lexicon: al_tanf\nkind: term\nterms: [a]\n", "defined twice"),
        ("title: nothing\n", "needs 'detection', 'correlation' or 'lexicon'"),
        ("- a\n- b\n", "a document must be a mapping"),
        (
            "id: c\ntitle: C\ncorrelation: {type: event_count, rules: [x], timespan: 1h}\n",
            "needs 'condition: {gte: N}'",
        ),
        (
            "id: c\ntitle: C\ncorrelation: {type: value_count, rules: [x], timespan: 1h,"
            " condition: {gte: 2}}\n",
            "condition.field",
        ),
        (
            "id: c\ntitle: C\ncorrelation: {type: temporal, rules: [x], timespan: 1h}\n",
            "at least two rules",
        ),
        (
            "id: c\ntitle: C\ncorrelation: {type: temporal, rules: [x, y], group-by: [town],"
            " timespan: 1h}\n",
            "cannot group by 'town'",
        ),
        (
            "id: c\ntitle: C\ncorrelation: {type: temporal, rules: [x, y]}\n",
            "'timespan' is required",
        ),
    ],
)
def test_lexicon_and_correlation_faults(tmp_path, document, words):
    """Lexicon and correlation documents are validated like rules."""
    write(tmp_path, LEXICONS, "lexicons.yaml")
    write(tmp_path, document, "doc.yaml")
    report = check_rules(tmp_path)
    assert any(words in e.message for e in report.errors), report.errors


def test_yes_and_no_stay_words(tmp_path):
    """YAML 1.1 booleans are not applied to rule values: `no` is the word "no"."""
    rs = check(tmp_path, rule("sel: {text: [no, on]}\ncondition: sel")).ruleset
    assert rs is not None
    assert [s.label for s in rs.rules[0].detection[0].alternatives[0][0].slots] == ["no", "on"]


def test_rule_defaults_and_metadata(tmp_path):
    """A loaded rule carries its metadata, durations in seconds, tests and labels."""
    text = rule(
        "sel: {text: convoy}\ncondition: sel",
        "meta",
        "version: 3\nstatus: stable\ntags: [syria]\nthrottle: 6h\nlabels: {topic: movement}\n"
        "tests:\n  match: [A convoy moved.]\n  no_match: [{title: Nothing here}]\n",
    )
    rs = check(tmp_path, text).ruleset
    r = rs.rule("meta")
    assert (r.version, r.status, r.tags, r.throttle, r.labels) == (
        3,
        "stable",
        ("syria",),
        21600,
        {"topic": "movement"},
    )
    assert [t.expect_match for t in r.tests] == [True, False]
    assert r.tests[0].item == {"summary": "A convoy moved."}
    assert r.tests[0].location.line == 10


def test_condition_column_in_a_quoted_condition(tmp_path):
    """A syntax error in a quoted condition points at the right column too."""
    write(tmp_path, rule('sel: {text: convoy}\ncondition: "sel and or sel"'))
    [error] = check_rules(tmp_path).errors
    assert (error.source.line, error.source.column) == (6, 23)


def test_lone_surrogate_in_a_value_is_an_error(tmp_path):
    """A broken \\u escape is refused at load (by the YAML parser or by the term check)."""
    report = check(tmp_path, rule('sel: {text: "a\\ud800b"}\ncondition: sel'))
    [error] = report.errors
    assert "lone surrogate" in error.message or "invalid Unicode" in error.message
    assert error.source.line == 5

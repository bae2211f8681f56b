"""The rules CLI: check, test, explain and match, with their exit codes and output shapes."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from monitor.cli import cli, main

from .builders import FILES, LEXICONS, rule, write

RULES = rule(
    "place: {text|expand: '%al_tanf%'}\nattack: {text|expand|near=8: ['%al_tanf%', "
    "'%attack_terms%']}\ncondition: place and attack",
    "tanf",
    "tests:\n  match: [Drones attacked the At Tanf garrison.]\n"
    "  no_match: [A quiet day at al-Tanf.]\n",
)


@pytest.fixture
def folder(tmp_path):
    """A valid rule folder."""
    write(tmp_path, RULES)
    write(tmp_path, LEXICONS, "lexicons.yaml")
    return tmp_path


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, list(args), input=stdin)


def test_check_ok(folder):
    """A valid folder: OK summary with counts and hash, exit 0."""
    result = run("rules", "check", str(folder))
    assert result.exit_code == 0, result.output
    assert "OK: 2 file(s), 1 rule(s), 0 correlation rule(s), 5 lexicon(s)" in result.output


def test_check_errors_exit_4_with_locations(tmp_path):
    """Errors print as file:line:col: error: message; exit 4."""
    shutil.copy(FILES / "unknown_modifier.yaml", tmp_path / "a.yaml")
    result = run("rules", "check", str(tmp_path))
    assert result.exit_code == 4
    assert f"{tmp_path / 'a.yaml'}:6:5: error: unknown modifier 'nera'" in result.output
    assert "would NOT load" in result.output


def test_check_strict_fails_on_warnings():
    """--strict turns warnings into exit 4."""
    path = str(FILES / "nothing_indexable.yaml")
    assert run("rules", "check", path).exit_code == 0
    result = run("rules", "check", "--strict", path)
    assert result.exit_code == 4 and "warning" in result.output


def test_test_passes(folder):
    """All tests pass: dots per rule and a summary, exit 0."""
    result = run("rules", "test", str(folder))
    assert result.exit_code == 0, result.output
    assert "tanf .." in result.output and "2 passed, 0 failed" in result.output


def test_test_failure_shows_text_and_why(folder):
    """A failing test exits 1 and prints the item and the evaluated condition."""
    write(folder, RULES.replace("A quiet day at al-Tanf.", "Rockets hit al-Tanf."))
    result = run("rules", "test", str(folder))
    assert result.exit_code == 1
    assert "FAILED tanf no_match[1]" in result.output
    assert "item: summary: Rockets hit al-Tanf." in result.output
    assert "place=true and attack=true -> true" in result.output


def test_test_on_invalid_rules_exits_4(tmp_path):
    """Rules that do not load: errors on stderr and exit 4."""
    shutil.copy(FILES / "bad_regex.yaml", tmp_path / "a.yaml")
    result = run("rules", "test", str(tmp_path))
    assert result.exit_code == 4
    assert "RE2 cannot compile" in result.output


def test_explain(folder):
    """explain prints the trace, the selections and offsets."""
    result = run("rules", "explain", "tanf", "Rockets struck At Tanf.", "--rules", str(folder))
    assert result.exit_code == 0, result.output
    assert "rule tanf: MATCH" in result.output
    assert "summary[15:22] 'At Tanf'" in result.output
    unknown = run("rules", "explain", "tamf", "x", "--rules", str(folder))
    assert unknown.exit_code == 4 and "did you mean 'tanf'" in unknown.output


def test_match_outputs_one_line_per_item_in_order(folder):
    """match prints {"id", "matches"} per input line; a bad line is skipped with its number."""
    lines = [
        json.dumps({"id": "1", "title": "Drone attack on al-Tanf"}),
        "",
        "{not json",
        json.dumps({"id": "2", "summary": "Nothing"}),
        json.dumps([1, 2]),
    ]
    result = CliRunner().invoke(
        cli, ["match", "--rules", str(folder), "-"], input="\n".join(lines) + "\n"
    )
    assert result.exit_code == 4
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["1", "2"]
    [m] = out[0]["matches"]
    assert (m["rule"], m["level"], m["entities"]) == ("tanf", "medium", ["place:al-tanf"])
    assert {"field": "title", "start": 6, "end": 12, "text": "attack", "selection": "attack"} in m[
        "evidence"
    ]
    assert out[1]["matches"] == []
    assert "<stdin>:3: skipped, not a JSON object" in result.stderr
    assert "<stdin>:5: skipped" in result.stderr


def test_match_from_file(folder, tmp_path):
    """match reads a JSON-lines file; a missing file is exit 4."""
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "x", "summary": "Rockets hit At Tanf"}) + "\n")
    result = run("match", "--rules", str(folder), str(items))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["matches"][0]["rule"] == "tanf"
    with pytest.raises(SystemExit) as missing:  # `main`, which maps ConfigError to exit 4
        main(["match", "--rules", str(folder), str(tmp_path / "none")])
    assert missing.value.code == 4


@pytest.mark.parametrize(
    "args", [["rules"], ["rules", "check"], ["rules", "test"], ["rules", "explain"], ["match"]]
)
def test_every_command_has_help(args):
    """--help works and describes the command."""
    result = run(*args, "--help")
    assert result.exit_code == 0 and len(result.output) > 100

"""`monitor rules check --sarif` and the --json of the rules and feeds commands."""

from __future__ import annotations

import json
import shutil

from ..rules.builders import FILES

RULE_FILE = FILES / "unknown_modifier.yaml"  # an error at 6:5: unknown modifier 'nera'
WARNING_FILE = FILES / "nothing_indexable.yaml"  # loads, with a warning


def _check_sarif_shape(log: dict) -> list[dict]:
    """Assert the SARIF 2.1.0 keys GitHub code scanning reads; return the results."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "news-monitor" and driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    for result in run["results"]:
        assert result["level"] in ("error", "warning")
        assert result["ruleId"] == rule_ids[result["ruleIndex"]]
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"]
        assert physical["region"]["startLine"] >= 1
        assert set(physical["region"]) <= {"startLine", "startColumn"}
    return run["results"]


def test_sarif_names_each_error_at_its_line_and_column(monitor, tmp_path):
    """An error becomes a result of level error at the file's relative URI, line 6 col 5;
    the exit code stays 4."""
    folder = tmp_path / "rules"
    folder.mkdir()
    shutil.copy(RULE_FILE, folder / "a.yaml")
    result = monitor("rules", "check", "rules", "--sarif", "out.sarif")
    assert result.code == 4
    assert "unknown modifier 'nera'" in result.out  # the text report is still printed
    results = _check_sarif_shape(json.loads((tmp_path / "out.sarif").read_text()))
    error = next(r for r in results if r["level"] == "error")
    assert "unknown modifier 'nera'" in error["message"]["text"]
    physical = error["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "rules/a.yaml"
    assert physical["region"] == {"startLine": 6, "startColumn": 5}


def test_sarif_on_stdout_and_warnings(monitor, tmp_path):
    """`--sarif -` prints only the SARIF log; a warning is a result of level warning; a set
    that loads exits 0 (4 with --strict)."""
    shutil.copy(WARNING_FILE, tmp_path / "w.yaml")
    result = monitor("rules", "check", "w.yaml", "--sarif", "-")
    assert result.code == 0
    results = _check_sarif_shape(json.loads(result.out))
    assert results and {r["level"] for r in results} == {"warning"}
    assert {r["ruleId"] for r in results} == {"rule-file-warning"}
    assert monitor("rules", "check", "w.yaml", "--sarif", "-", "--strict").code == 4


def test_sarif_of_a_clean_set_has_no_results(monitor):
    """The default pack checks clean: one run, no results."""
    result = monitor("rules", "check", "default", "--sarif", "-")
    assert result.code == 0
    assert _check_sarif_shape(json.loads(result.out)) == []


def test_rules_check_json(monitor, tmp_path):
    """--json: ok, counts, and each error with location, path, line, column and message."""
    good = json.loads(monitor("rules", "check", "default", "--json").out)
    assert good["ok"] is True and good["rules"] > 0 and good["errors"] == []
    shutil.copy(RULE_FILE, tmp_path / "a.yaml")
    result = monitor("rules", "check", "a.yaml", "--json")
    assert result.code == 4
    data = json.loads(result.out)
    assert data["ok"] is False and data["rules"] is None
    assert data["errors"][0]["location"] == "a.yaml:6:5"
    assert (data["errors"][0]["line"], data["errors"][0]["column"]) == (6, 5)


def test_rules_test_json(monitor):
    """`rules test --json` reports every test with its outcome and the counts."""
    result = monitor("rules", "test", "default", "--json")
    data = json.loads(result.out)
    assert result.code == (1 if data["failed"] else 0)
    assert data["passed"] == sum(r["outcome"] == "passed" for r in data["results"])
    assert {"rule_id", "name", "outcome", "text", "reason", "location"} <= set(data["results"][0])


def test_rules_test_json_when_rules_do_not_load(monitor, tmp_path):
    """Rules that do not load: {"ok": false, "errors": [...]} on stdout, exit 4."""
    shutil.copy(RULE_FILE, tmp_path / "a.yaml")
    result = monitor("rules", "test", "a.yaml", "--json")
    assert result.code == 4
    assert json.loads(result.out)["errors"][0]["line"] == 6


def test_rules_explain_json(monitor):
    """`rules explain --json`: the rule, whether it matched, the condition, each selection."""
    listing = json.loads(monitor("rules", "check", "default", "--json").out)
    assert listing["ok"]
    rule_id = json.loads(monitor("rules", "test", "default", "--json").out)["results"][0]["rule_id"]
    result = monitor("rules", "explain", rule_id, "nothing to see here", "--json")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert data["rule_id"] == rule_id and data["matched"] is False
    assert data["condition"] and isinstance(data["selections"], list)
    assert data["item"]["summary"] == "nothing to see here"


def test_feeds_check_json(monitor, tmp_path):
    """`feeds check --json`: ok and counts; an invalid list gives its errors, exit 4."""
    (tmp_path / "f.yaml").write_text(
        "feeds:\n  - {id: a, url: 'https://example.org/a'}\n", encoding="utf-8"
    )
    good = monitor("feeds", "check", "--feeds", "f.yaml", "--json")
    assert good.code == 0
    assert json.loads(good.out) == {
        "file": "f.yaml", "ok": True, "feeds": 1, "enabled": 1, "errors": []
    }  # fmt: skip
    (tmp_path / "f.yaml").write_text("feeds:\n  - {id: a, interval: soon}\n", encoding="utf-8")
    bad = monitor("feeds", "check", "--feeds", "f.yaml", "--json")
    assert bad.code == 4
    data = json.loads(bad.out)
    assert data["ok"] is False and data["errors"][0]["path"] == "f.yaml"

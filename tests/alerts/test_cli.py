"""`monitor alerts`, `monitor alerts show` and `monitor backtest` as a user runs them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from monitor.alerting import AlertEvaluator
from monitor.cli import cli
from monitor.cli._alerts_cmds import _latest
from monitor.errors import LogLockedError, LogReadOnlyError
from monitor.events import AlertSuperseded
from monitor.log import MemoryLog, open_log
from tests.alerts.conftest import RULEPACK
from tests.alerts.test_evaluator import STORY


@pytest.fixture
def db(tmp_path, ruleset, clock):
    """A SQLite log holding STORY and the alerts the test rule pack raised for it."""
    path = tmp_path / "m.db"
    with open_log(str(path)) as log:
        log.append_events(STORY)
        AlertEvaluator(log, ruleset, clock=clock).run()
    return str(path)


def run(db, *args):
    """Invoke the CLI in-process against `db`."""
    return CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)


def lines(result):
    """The JSON lines printed by a --json command."""
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def test_alerts_json_newest_first_with_filters(db):
    """--json lists alerts newest first; --rule, --level, --place and --limit filter them."""
    every = lines(run(db, "alerts", "--json", "--limit", "100"))
    times = [a["event_time"] for a in every]
    assert times == sorted(times, reverse=True) and len(every) >= 8
    assert {a["rule_id"] for a in lines(run(db, "alerts", "--json", "--rule", "movement"))} == {
        "movement"
    }
    high = lines(run(db, "alerts", "--json", "--level", "high", "--limit", "100"))
    assert high and all(a["level"] == "high" for a in high)
    qaim = lines(run(db, "alerts", "--json", "--place", "al-qaim", "--limit", "100"))
    assert qaim and all("place:al-qaim" in a["entities"] for a in qaim)
    assert len(lines(run(db, "alerts", "--json", "--limit", "2"))) == 2
    folded = [a for a in every if a["rule_id"] == "shelling"]
    assert sorted(a["folded"] for a in folded) == [0, 2]


def test_alerts_mark_an_alert_whose_item_was_revised_away(db):
    """An alert whose item a revision no longer matches stays listed, marked: `no_longer_matches`
    names the revision in --json (null otherwise) and the table says so."""
    every = lines(run(db, "alerts", "--json", "--limit", "100"))
    assert all(a["no_longer_matches"] is None for a in every)
    target = next(a for a in every if a["rule_id"] == "movement")
    with open_log(db) as log:
        log.append_events(
            [
                AlertSuperseded(
                    alert_id=target["alert_id"],
                    rule_id="movement",
                    item_id=target["item_ids"][0],
                    revision=1,
                    content_hash="c0ffee",
                    event_time=target["event_time"],
                )
            ]
        )
    marked = {a["alert_id"]: a for a in lines(run(db, "alerts", "--json", "--limit", "100"))}
    assert marked[target["alert_id"]]["no_longer_matches"] == 1
    assert sum(a["no_longer_matches"] is not None for a in marked.values()) == 1
    table = CliRunner().invoke(
        cli, ["--db", db, "alerts", "--limit", "100"], env={"COLUMNS": "250"}
    )
    assert "revision 1 of the item no longer matches" in " ".join(table.output.split())


def test_alerts_since(db):
    """--since keeps alerts at or after an ISO time; a bad value is a usage error."""
    late = lines(run(db, "alerts", "--json", "--since", "2026-03-01T20:00Z", "--limit", "100"))
    assert late and all(a["event_time"] >= "2026-03-01T20:00:00Z" for a in late)
    bad = CliRunner().invoke(cli, ["--db", db, "alerts", "--since", "yesterday-ish"])
    assert bad.exit_code == 2 and "24h or 7d" in bad.output


def test_alerts_table_shows_evidence(db):
    """The table names the rule, the group, the summary and the evidence terms."""
    wide = {"COLUMNS": "220"}
    result = CliRunner().invoke(cli, ["--db", db, "alerts", "--rule", "movement"], env=wide)
    assert result.exit_code == 0
    row = next(line for line in result.output.splitlines() if "Convoy rolls" in line)
    assert "movement" in row and "abu-kamal" in row and "Convoy title" in row
    empty = CliRunner().invoke(cli, ["--db", db, "alerts", "--rule", "nope"], env=wide)
    assert "No alerts match." in empty.output


def test_alerts_show_prefix_with_items_and_unknown_id(db):
    """show accepts a unique id prefix and prints evidence and item text; unknown ids fail."""
    first = lines(run(db, "alerts", "--json", "--rule", "movement", "--limit", "100"))[-1]
    result = run(db, "alerts", "show", first["alert_id"][:10])
    assert result.exit_code == 0
    assert first["alert_id"] in result.output and "Evidence" in result.output
    assert "Convoy rolls toward Abu Kamal crossing" in result.output
    data = json.loads(run(db, "alerts", "show", first["alert_id"], "--json").output)
    assert data["items"][0]["title"] == "Convoy rolls toward Abu Kamal crossing"
    missing = CliRunner().invoke(cli, ["--db", db, "alerts", "show", "ffffffffff"])
    assert missing.exit_code == 1 and "no alert with id" in missing.output


class ReadOnlyProjections(MemoryLog):
    """A memory log whose projection store refuses writes, like a user without write rights."""

    def commit_projection(self, *args, **kwargs):
        raise LogReadOnlyError("read-only")


class LockedProjections(MemoryLog):
    """A memory log whose writes time out, as while a busy writer holds the lock."""

    def commit_projection(self, *args, **kwargs):
        raise LogLockedError("the log is locked")


def test_alerts_stream_the_log_when_the_projection_cannot_be_written(ruleset, clock):
    """Without a writable projection, listing streams the log and gives the same answer."""
    normal, readonly, locked = MemoryLog(), ReadOnlyProjections(), LockedProjections()
    for log in (normal, readonly, locked):
        log.append_events(STORY)
        AlertEvaluator(log, ruleset, clock=clock).run()
    args = {"since": None, "rule": None, "level": None, "place": "deir-ez-zor"}
    expected = [a.alert_id for a, _, _ in _latest(normal, 5, **args)]
    assert [a.alert_id for a, _, _ in _latest(readonly, 5, **args)] == expected
    assert [a.alert_id for a, _, _ in _latest(locked, 5, **args)] == expected
    assert expected


def test_backtest_reports_new_and_gone_without_appending(db, ruleset, tmp_path):
    """A changed rule set: per-rule would-raise counts, new and gone; the log is untouched."""
    with open_log(db) as log:
        head = log.head()
    edited = tmp_path / "edited"
    edited.mkdir()
    for name in ("places.yaml", "rules.yaml"):
        (edited / name).write_text((RULEPACK / name).read_text())
    result = run(db, "backtest", "--rules", str(edited), "--json")
    report = json.loads(result.output)
    rows = {r["rule_id"]: r for r in report["rules"]}
    # items read and evaluated, plus those the search index showed no rule can match
    assert report["items"] + report["prefiltered"] == len(STORY)
    assert report["scan"] == "prefiltered by the search index"
    assert rows["movement"]["would_raise"] == rows["movement"]["active"] == 4
    assert rows["movement"]["new"] == rows["movement"]["gone"] == 0
    assert rows["denial"]["would_raise"] == 1 and rows["shelling-burst"]["gone"] == 1
    assert rows["movement-then-denial"]["would_raise"] == 0
    assert rows["movement-then-denial"]["gone"] == 1
    assert rows["shelling"]["would_suppress"] == 2
    assert rows["movement"]["examples"][0]["title"] == STORY[0].title
    with open_log(db) as log:
        assert log.head() == head
    windowed = json.loads(
        run(db, "backtest", "--rules", str(edited), "--json", "--until", "2026-03-01T03:30Z").output
    )
    assert windowed["items"] == 4
    table = run(db, "backtest", "--rules", str(edited))
    assert "would raise" in table.output and "examples" in table.output


def test_backtest_of_the_active_rules_changes_nothing(db, ruleset):
    """Backtesting the rule set that raised the alerts reports no new and no gone alerts."""
    report = json.loads(run(db, "backtest", "--rules", str(RULEPACK), "--json").output)
    assert all(r["new"] == 0 and r["gone"] == 0 for r in report["rules"])
    assert sum(r["would_raise"] for r in report["rules"]) > 8


def test_bad_rules_for_backtest_exit_4(db, tmp_path, capsys):
    """A rule folder with errors is refused with one error line naming file:line, exit 4."""
    from monitor.cli import main

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text(
        "id: x\ntitle: X\ndetection:\n  a:\n    text: [y]\n  condition: b\n"
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", db, "backtest", "--rules", str(bad)])
    assert exit_info.value.code == 4
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad / 'x.yaml'}:") and "Traceback" not in err


def test_backtest_lists_every_tested_rule_even_over_an_empty_log(tmp_path):
    """Rules that would raise nothing still get a row (all zeros)."""
    db = str(tmp_path / "empty.db")
    report = json.loads(run(db, "backtest", "--rules", str(RULEPACK), "--json").output)
    assert report["items"] == 0
    assert {r["rule_id"] for r in report["rules"]} == {
        "movement", "denial", "shelling", "movement-then-denial", "movement-corroborated",
        "shelling-burst", "any-order",
    }  # fmt: skip
    assert all(r["would_raise"] == r["active"] == 0 for r in report["rules"])


def test_rich_console_write_colours_the_level():
    """The CLI's console writer prints the sink's line with the level styled."""
    import io

    from rich.console import Console

    from monitor.alerts import ConsoleSettings, ConsoleSink, DeliveryContext
    from monitor.cli._alerts_cmds import rich_console_write
    from tests.alerts.test_sinks import NOW, make_alert

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=200)
    sink = ConsoleSink(ConsoleSettings(name="c"), write=rich_console_write(console))
    sink.deliver(make_alert(level="critical"), DeliveryContext(1, 1, NOW))
    output = buffer.getvalue()
    assert "CRITICAL" in output and "\x1b[" in output and "Troop or convoy movement" in output


def _rules_dir(tmp_path, name: str, text: str):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "rules.yaml").write_text(text)
    return folder


CHANGED_DENIAL = """\
id: denial
title: Official denial (narrower)
level: low
detection:
  deny:
    text: ["no truth"]
  condition: deny
"""

NEW_RULE = """\
id: convoy-only
title: Convoys
level: low
detection:
  sel:
    text: [convoy, convoys]
  condition: sel
"""


def test_backtest_add_compares_only_the_new_and_changed_rules(db, tmp_path):
    """--add: the active set plus a new rule and a changed one; only those two get rows, and
    the active rules they leave alone are not reported as gone (today's --replace would)."""
    added = _rules_dir(tmp_path, "added", NEW_RULE + "---\n" + CHANGED_DENIAL)
    report = json.loads(
        run(db, "backtest", "--rules", str(RULEPACK), "--add", str(added), "--json").output
    )
    rows = {r["rule_id"]: r for r in report["rules"]}
    assert set(rows) == {"convoy-only", "denial"}
    assert rows["convoy-only"]["would_raise"] > 0 and rows["convoy-only"]["active"] == 0
    assert rows["convoy-only"]["new"] == rows["convoy-only"]["would_raise"]
    assert rows["denial"]["active"] == 1 and rows["denial"]["gone"] >= 0
    replaced = json.loads(run(db, "backtest", "--replace", str(added), "--json").output)
    gone = {r["rule_id"] for r in replaced["rules"] if r["gone"]}
    assert "movement" in gone  # --replace drops the active rules the folder lacks


def test_backtest_add_of_an_unchanged_copy_reports_nothing(db, tmp_path):
    """Adding a rule identical to the active one changes nothing, so nothing is compared."""
    same = _rules_dir(tmp_path, "same", (RULEPACK / "rules.yaml").read_text())
    report = json.loads(
        run(db, "backtest", "--rules", str(RULEPACK), "--add", str(same), "--json").output
    )
    assert report["rules"] == []


def test_backtest_only_evaluates_the_given_rules_with_the_active_lexicons(db, tmp_path):
    """--only: the folder alone (it may use the active lexicons); active rules are neither
    evaluated nor reported as gone."""
    deir = NEW_RULE.replace("convoy-only", "deir").replace(
        "text: [convoy, convoys]", "text|expand: ['%t_deir%']"
    )
    only = _rules_dir(tmp_path, "only", NEW_RULE + "---\n" + deir)
    report = json.loads(
        run(db, "backtest", "--rules", str(RULEPACK), "--only", str(only), "--json").output
    )
    rows = {r["rule_id"]: r for r in report["rules"]}
    assert set(rows) == {"convoy-only", "deir"}
    assert rows["deir"]["would_raise"] > 0  # found through the active pack's lexicon
    assert all(r["gone"] == 0 for r in rows.values())


def test_backtest_modes_do_not_mix(db, tmp_path, capsys):
    from monitor.cli import main

    folder = _rules_dir(tmp_path, "x", NEW_RULE)
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", db, "backtest", "--add", str(folder), "--only", str(folder)])
    assert exit_info.value.code == 2
    assert "choose one of --add, --only and --replace" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", db, "backtest", "--add", str(tmp_path / "missing")])
    assert exit_info.value.code == 4

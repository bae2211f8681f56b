"""One duration grammar: the shared parser, what feed lists and rule files accepted before,
and every command-line option that takes a duration."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from monitor._durations import parse_duration
from monitor.cli import cli
from monitor.cli._config import walk
from monitor.cli._options import Duration
from monitor.feeds import parse_duration as feeds_parse_duration
from monitor.rules import parse_duration as rules_parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0), (2.5, 2.5), ("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("1.5h", 5400.0),
        ("7d", 604800.0), ("2w", 1209600.0), ("500ms", 0.5), ("1h30m", 5400.0),
        ("1d 12h", 129600.0), ("1H", 3600.0), (" 15 m ", 900.0), ("0s", 0.0),
    ],
)  # fmt: skip
def test_the_grammar(text, seconds):
    """Bare seconds, each unit, fractions, compounds, spaces and any case parse."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "soon", "-5m", -1, "5 minutes", "1h30", "h", True, None, "1.5.2h", "15mm"]
)
def test_nonsense_is_a_value_error_showing_the_forms(text):
    """Anything else is a ValueError whose message shows the accepted forms."""
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(text)


def test_unit_required_refuses_bare_numbers():
    """Where a bare number means something else (a year in --since), a unit is required."""
    assert parse_duration("24h", unit_required=True) == 86400.0
    for value in ("2026", 90):
        with pytest.raises(ValueError):
            parse_duration(value, unit_required=True)


@pytest.mark.parametrize("text", [90, "90s", "15m", "1h", "1.5h", "2d", "500ms", "10M"])
def test_what_feed_lists_accepted_still_parses(text):
    """Every form the feed lists' own parser accepted gives the same seconds."""
    assert feeds_parse_duration(text) == parse_duration(text)


@pytest.mark.parametrize(
    ("text", "seconds"), [(90, 90), ("90", 90), ("90s", 90), ("30m", 1800), ("6h", 21600),
                          ("2d", 172800), ("1w", 604800), ("1.5h", 5400), ("1h30m", 5400)],
)  # fmt: skip
def test_rule_files_take_the_same_grammar_in_whole_seconds(text, seconds):
    """The rules' parser keeps its contract (whole seconds, None when not a duration) over
    the shared grammar."""
    assert rules_parse_duration(text) == seconds
    assert rules_parse_duration("soon") is None
    assert rules_parse_duration(-5) is None


def test_every_duration_option_uses_the_duration_type():
    """Every option showing DURATION converts with `Duration`, and `monitor.yaml` finds it
    by that metavar."""
    found = []
    for path, command in walk(cli):
        for param in command.params:
            if isinstance(param, click.Option) and (
                isinstance(param.type, Duration) or param.metavar == "DURATION"
            ):
                assert isinstance(param.type, Duration), (path, param.name)
                assert param.metavar == "DURATION", (path, param.name)
                found.append((*path, param.name))
    assert ("watch", "checkpoint_every") in found
    assert ("watch", "drain_timeout") in found
    assert ("watch", "unhealthy_after") in found


def test_duration_option_errors_show_the_forms():
    """A bad duration on the command line is a usage error (exit 2) showing the forms."""
    result = CliRunner().invoke(cli, ["watch", "--drain-timeout", "soon"])
    assert result.exit_code == 2
    assert "expected a duration like 90s, 15m, 1.5h, 7d, 2w" in result.output


def test_checkpoint_every_keeps_its_lower_bound():
    """--checkpoint-every refuses less than a second (sign at most once a second)."""
    result = CliRunner().invoke(cli, ["watch", "--checkpoint-every", "500ms"])
    assert result.exit_code == 2 and "at most once a second" in result.output


def test_a_compound_duration_in_monitor_yaml_is_accepted(tmp_path, monkeypatch):
    """monitor.yaml takes the same grammar (`config check` reports no fault)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "monitor.yaml").write_text(
        "watch: {checkpoint_every: 1h30m, drain_timeout: 1.5s}\n", encoding="utf-8"
    )
    ok = CliRunner().invoke(cli, ["config", "check", "monitor.yaml", "--json"])
    assert '"errors": []' in ok.output, ok.output
    (tmp_path / "monitor.yaml").write_text("watch: {drain_timeout: soon}\n", encoding="utf-8")
    bad = CliRunner().invoke(cli, ["config", "check", "monitor.yaml"])
    assert bad.exit_code == 4
    assert "watch.drain_timeout: expected a duration like" in bad.output


def test_alerts_since_takes_the_grammar(tmp_path):
    """`alerts --since` takes any duration with a unit (1.5h, 1h30m, 2w) as "ago"."""
    db = str(tmp_path / "m.db")
    for since in ("1.5h", "1h30m", "2w", "90s", "2026-03-01"):
        result = CliRunner().invoke(cli, ["--db", db, "alerts", "--since", since, "--json"])
        assert result.exit_code == 0, (since, result.output)
    bad = CliRunner().invoke(cli, ["--db", db, "alerts", "--since", "90"])
    assert bad.exit_code == 2 and "24h or 7d" in bad.output

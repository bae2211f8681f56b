"""Hostile configuration files: alias bombs, recursive aliases and oversized files, in every
kind of file the project reads (rule files, lexicons, feed lists, OPML, sinks files).

Each case is refused with file:line:column, in bounded memory, before anything walks the
expanded data. Ordinary anchors (a merged `defaults`) keep working.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.alerts import load_sinks
from monitor.cli._main import cli
from monitor.errors import ConfigError, RuleError
from monitor.feeds import load_feeds
from monitor.rules._load import check_rules, load_rules

MiB = 1024 * 1024


def _bomb(indent: str, levels: int = 9) -> str:
    """A list of `levels` anchored lists, each holding nine aliases of the previous one:
    a few hundred bytes standing for 9**levels values."""
    lines = [f"{indent}- &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"{indent}- &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


RULE_HEAD = """\
id: bomb
title: An alias bomb under references
level: low
detection:
  troops: {text: [troops]}
  condition: troops
references:
"""


def _peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / MiB
    finally:
        tracemalloc.stop()


def test_rule_file_alias_bomb_is_refused_with_its_location(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(RULE_HEAD + _bomb("  "))

    def load() -> None:
        with pytest.raises(RuleError, match="alias bomb") as info:
            load_rules(path)
        assert info.value.source.path == str(path)
        assert info.value.source.line is not None and info.value.source.line > 7

    assert _peak_mib(load) < 40


def test_rules_check_reports_the_bomb_and_exits_4(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(RULE_HEAD + _bomb("  "))
    result = CliRunner().invoke(cli, ["rules", "check", str(path)])
    assert result.exit_code == 4
    assert f"{path}:" in result.output and "alias" in result.output
    report = check_rules(path)
    assert not report.ok


def test_lexicon_alias_bomb_is_refused(tmp_path: Path) -> None:
    (tmp_path / "lexicon.yaml").write_text(
        "lexicon: boom\nkind: term\ntitle: A bomb\nterms:\n" + _bomb("  ")
    )
    (tmp_path / "rule.yaml").write_text(
        "id: r\ntitle: R\nlevel: low\ndetection:\n  a: {text: [troops]}\n  condition: a\n"
    )
    with pytest.raises(RuleError, match="alias"):
        load_rules(tmp_path)


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text(RULE_HEAD + "  - &self [a, *self]\n")
    with pytest.raises(RuleError, match="recursive alias") as info:
        load_rules(path)
    assert info.value.source.line == 8


def test_feed_list_alias_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("defaults:\n  tags:\n" + _bomb("    ") + "feeds: []\n")

    def load() -> None:
        with pytest.raises(ConfigError, match="alias bomb") as info:
            load_feeds(path)
        assert info.value.source.path == str(path) and info.value.source.line is not None

    assert _peak_mib(load) < 40


def test_sinks_file_alias_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sinks.yaml"
    path.write_text("junk:\n" + _bomb("  ") + "sinks:\n  - type: console\n")
    with pytest.raises(ConfigError, match="alias bomb") as info:
        load_sinks(path)
    assert info.value.source.line is not None


def test_ordinary_anchors_still_load(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "defaults: &d {interval: 10m}\n"
        "feeds:\n"
        "  - {id: a, url: 'https://example.org/a.xml', <<: *d}\n"
        "  - {id: b, url: 'https://example.org/b.xml', <<: *d}\n"
    )
    loaded = load_feeds(feeds)
    assert [f.id for f in loaded.feeds] == ["a", "b"]
    rule = tmp_path / "rule.yaml"
    rule.write_text(
        "id: r\ntitle: R\nlevel: low\ndetection:\n"
        "  a: {text: &words [troops, convoy]}\n  b: {title: *words}\n  condition: a or b\n"
    )
    assert [r.id for r in load_rules(rule).rules] == ["r"]


def test_a_running_monitor_keeps_its_rules_when_a_bomb_is_dropped_in(
    tmp_path: Path, caplog
) -> None:
    """The watcher's reload path: a bomb written into the rules folder is refused in bounded
    memory, logged with its location, and the running rule set stays active."""
    from monitor.app import Monitor

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yaml").write_text(
        "id: good\ntitle: Good\nlevel: low\ndetection:\n  a: {text: [convoy]}\n  condition: a\n"
    )
    with Monitor.open("memory:", rules=rules) as monitor:
        (rules / "bomb.yaml").write_text(RULE_HEAD + _bomb("  "))
        reloaded: list[bool] = []
        peak = _peak_mib(lambda: reloaded.append(monitor.reload_rules(rules)))
        assert reloaded == [False] and peak < 40
        assert [r.id for r in monitor.ruleset.rules] == ["good"]
        assert "not reloaded" in caplog.text and "bomb.yaml:" in caplog.text


def _sparse(path: Path, size: int) -> Path:
    """A file of `size` zero bytes that takes no disk space."""
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def test_an_oversized_rule_file_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    from monitor.rules._load import MAX_RULE_FILE_BYTES

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yaml").write_text(
        "id: good\ntitle: Good\nlevel: low\ndetection:\n  a: {text: [convoy]}\n  condition: a\n"
    )
    big = _sparse(rules / "huge.yaml", 4 * MAX_RULE_FILE_BYTES)
    report = check_rules(rules)
    assert not report.ok
    [error] = [e for e in report.errors if e.source.path == str(big)]
    assert "larger than 16 MiB" in str(error)
    assert _peak_mib(lambda: check_rules(rules)) < MAX_RULE_FILE_BYTES / MiB + 24


def test_an_oversized_rule_folder_is_refused(tmp_path: Path, monkeypatch) -> None:
    from monitor.rules import _load

    monkeypatch.setattr(_load, "MAX_RULE_SET_BYTES", 1000)
    for n in range(5):
        (tmp_path / f"r{n}.yaml").write_text(
            f"id: r{n}\ntitle: R\nlevel: low\ndetection:\n  a: {{text: [convoy]}}\n"
            "  condition: a\n" + "# padding\n" * 30
        )
    with pytest.raises(RuleError, match="rule files read so far hold more than"):
        load_rules(tmp_path)


def test_an_oversized_sinks_file_is_refused(tmp_path: Path) -> None:
    from monitor.alerts._config import MAX_SINKS_FILE_BYTES

    path = _sparse(tmp_path / "sinks.yaml", MAX_SINKS_FILE_BYTES + 1)
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        load_sinks(path)


def test_oversized_feed_list_and_opml_files_are_refused(tmp_path: Path) -> None:
    from monitor.feeds import import_opml
    from monitor.feeds._config import MAX_FEED_LIST_BYTES
    from monitor.feeds._opml import MAX_OPML_BYTES

    feeds = _sparse(tmp_path / "feeds.yaml", MAX_FEED_LIST_BYTES + 1)
    with pytest.raises(ConfigError, match="feed list is larger than 16 MiB"):
        load_feeds(feeds)
    opml = _sparse(tmp_path / "subs.opml", MAX_OPML_BYTES + 1)
    with pytest.raises(ConfigError, match="OPML file is larger than 16 MiB"):
        import_opml(opml)

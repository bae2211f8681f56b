"""Rule sources: several folders as one set, shared lexicons, the installed pack by name."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.app import Monitor
from monitor.cli import cli
from monitor.cli._options import watch_paths
from monitor.log import MemoryLog
from monitor.rules import (
    DEFAULT_PACK,
    RuleSetError,
    _sources,
    check_rules,
    default_pack_path,
    load_rules,
    resolve_sources,
)

from .builders import LEXICONS, rule, write

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "feeds" / "samples" / "euphrates_wire.rss.xml"

#: A rule of the operator's own that uses a lexicon of the default pack (al_tanf).
MINE = rule(
    "sel: {text|expand|near=8: ['convoy*', '%al_tanf%']}\ncondition: sel",
    "mine-tanf-convoy",
    "tests:\n  match: [A second convoy heads to al-Tanf.]\n  no_match: [Quiet at al-Tanf.]\n",
)
CONVOY = {"title": "Second convoy in a week heads to al-Tanf from Jordan"}


@pytest.fixture
def mine(tmp_path: Path) -> Path:
    """A folder holding one rule and no lexicon."""
    folder = tmp_path / "mine"
    write(folder, MINE)
    return folder


def ids(ruleset, item=CONVOY) -> set[str]:
    return {m.rule_id for m in ruleset.match(item)}


# --- the library --------------------------------------------------------------------------


def test_a_lexicon_of_one_folder_serves_the_rules_of_another(tmp_path, mine):
    """A rule in one folder uses a lexicon defined in another, in either order."""
    lexicons = tmp_path / "lexicons"
    write(lexicons, LEXICONS)
    for order in ([lexicons, mine], [mine, lexicons]):
        ruleset = load_rules(order)
        assert ids(ruleset) == {"mine-tanf-convoy"}
        assert ruleset.sources == tuple(str(p) for p in order)


def test_default_by_name_is_the_installed_pack():
    """'default' loads the pack that ships with monitor (in this checkout: rules/)."""
    assert default_pack_path().samefile(REPO / "rules")
    ruleset = load_rules(DEFAULT_PACK)
    assert ruleset.sources == ("default",)
    assert "troop-movement" in {r.id for r in ruleset.rules}
    assert ruleset.hash == load_rules(REPO / "rules").hash


def test_default_plus_a_folder_of_ones_own(mine):
    """--rules default --rules mine: the pack's rules, the operator's, and its lexicons shared."""
    ruleset = load_rules(["default", mine])
    assert ruleset.sources == ("default", str(mine))
    assert "mine-tanf-convoy" in ids(ruleset)
    assert {"mine-tanf-convoy", "troop-movement"} <= {r.id for r in ruleset.rules}


def test_a_path_called_default_is_a_path(tmp_path, monkeypatch):
    """Only the string 'default' names the pack; Path('default') is a folder."""
    monkeypatch.chdir(tmp_path)
    assert check_rules(Path("default")).errors[0].message == "no such file or folder"
    write(tmp_path / "default", MINE)
    write(tmp_path / "default", LEXICONS, "lexicons.yaml")
    assert [r.id for r in load_rules(Path("default")).rules] == ["mine-tanf-convoy"]
    assert [r.id for r in load_rules("./default").rules] == ["mine-tanf-convoy"]


def test_duplicate_rule_ids_across_folders_name_both_places(tmp_path, mine):
    """The same id in two folders: the error sits at the second and names the first."""
    other = tmp_path / "other"
    second = write(other, "# a comment line\n" + MINE)
    with pytest.raises(RuleSetError) as info:
        load_rules(["default", mine, other])
    (error,) = info.value.errors
    assert "duplicate id 'mine-tanf-convoy'" in error.message
    assert str(error.source) == f"{second}:2:5"
    assert f"first defined at {mine / 'rules.yaml'}:1:1" in error.message


def test_duplicate_lexicon_names_across_folders_name_both_places(tmp_path):
    """A lexicon name defined in the pack and again in a folder: both locations."""
    write(tmp_path, "lexicon: al_tanf\nkind: term\nterms: [tanf]\n", "lex.yaml")
    report = check_rules(["default", tmp_path])
    (error,) = report.errors
    assert str(error.source) == f"{tmp_path / 'lex.yaml'}:1:10"
    assert "lexicon 'al_tanf' is defined twice (first at " in error.message
    assert f"{default_pack_path() / 'lexicons' / 'places_syria.yaml'}:20:" in error.message


def test_a_source_given_twice_is_loaded_once(mine):
    """The same folder twice (or the pack through its path) is no duplicate."""
    assert len(load_rules([mine, mine, str(mine) + "/", "default"]).rules) == 10
    assert len(load_rules(["default", default_pack_path()]).rules) == 9


def test_a_missing_source_among_several_is_named(tmp_path, mine):
    """Each missing source is reported by the name it was given."""
    report = check_rules(["default", mine, tmp_path / "gone"])
    assert [(str(e.source), e.message) for e in report.errors] == [
        (str(tmp_path / "gone"), "no such file or folder")
    ]
    assert report.sources == ("default", str(mine), str(tmp_path / "gone"))
    assert check_rules([]).errors[0].message == "no rule sources given"


def test_unknown_lexicon_with_no_lexicons_loaded_says_so(mine):
    """A folder that uses the pack's lexicons without the pack: no empty list, a way out."""
    (error,) = check_rules(mine).errors
    assert error.message.startswith("unknown lexicon 'al_tanf': no lexicon is loaded")
    assert "'default'" in error.message


def test_unknown_lexicon_lists_the_loaded_ones(tmp_path):
    """Few lexicons: all are listed, whether or not one is close."""
    write(tmp_path, LEXICONS, "lexicons.yaml")
    write(tmp_path, rule("sel: {text|expand: '%zzz%'}\ncondition: sel"))
    (error,) = check_rules(tmp_path).errors
    assert error.message == (
        "unknown lexicon 'zzz'; lexicons loaded (5): abu_kamal, al_tanf, attack_terms, irgc, isis"
    )


def test_unknown_lexicon_among_many_lists_the_closest(tmp_path):
    """The pack's 151 lexicons: the closest names first, and how many more there are."""
    write(tmp_path, rule("sel: {text|expand: '%abu_kamel%'}\ncondition: sel"))
    (error,) = check_rules(["default", tmp_path]).errors
    assert error.message.startswith(
        "unknown lexicon 'abu_kamel'; did you mean 'abu_kamal'? lexicons loaded (151), "
        "the closest first: abu_kamal, "
    )
    assert error.message.endswith(", and 139 more")


def test_the_pack_is_copied_out_when_not_on_disk(tmp_path, monkeypatch):
    """Imported from a zip, the pack is copied once to a folder the loader can read."""
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in (REPO / "rules").rglob("*"):
            if file.is_file():
                zf.write(file, f"monitor/_pack/{file.relative_to(REPO / 'rules')}")
    monkeypatch.setattr(_sources, "_extracted", None)
    monkeypatch.setattr(
        _sources.resources, "files", lambda _name: zipfile.Path(archive, "monitor/_pack/")
    )
    folder = default_pack_path()
    assert folder != REPO / "rules" and default_pack_path() == folder
    assert not (folder / "__init__.py").exists()
    assert load_rules("default").hash == load_rules(REPO / "rules").hash


def test_a_missing_pack_is_a_located_error(monkeypatch):
    """No monitor._pack (a broken install): check_rules says what to do, never crashes."""

    def missing(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(_sources.resources, "files", missing)
    (error,) = check_rules("default").errors
    assert "the default rule pack is not installed" in error.message


def test_the_rule_set_event_records_every_source(mine):
    """RulesetLoaded.source (and Monitor.rules_source) name all sources, in order."""
    with Monitor(MemoryLog(), rules=["default", mine]) as m:
        m.ingest([CONVOY])
        events = [e for _, e in m.log.iter_events(types=["RulesetLoaded"])]
        assert m.rules_source == f"default, {mine}"
    assert [e.source for e in events] == [f"default, {mine}"]


def test_watch_paths_cover_every_source(mine):
    """The watcher reloads when any source changes: each one is watched."""
    assert watch_paths(("default", str(mine))) == [default_pack_path(), mine]
    assert watch_paths(None) == []
    assert [s.name for s in resolve_sources(["default", mine])] == ["default", str(mine)]


# --- the command line ---------------------------------------------------------------------


def run(*args: str, stdin: str | None = None, code: int = 0):
    result = CliRunner(env={"COLUMNS": "250"}).invoke(cli, list(args), input=stdin)
    assert result.exit_code == code, result.output
    return result.output


def test_cli_rules_check_and_test_take_several_sources(mine):
    """`rules check --rules default --rules DIR` loads both; DIR alone lacks the lexicon."""
    out = run("rules", "check", "--rules", "default", "--rules", str(mine))
    assert "OK: 18 file(s), 10 rule(s), 2 correlation rule(s), 151 lexicon(s)" in out
    assert "OK: 18 file(s)" in run("rules", "check", "default", str(mine))
    assert "OK: 17 file(s), 9 rule(s)" in run("rules", "check")
    assert "unknown lexicon 'al_tanf'" in run("rules", "check", str(mine), code=4)
    assert "mine-tanf-convoy .." in run("rules", "test", "--rules", "default", "--rules", str(mine))


def test_cli_match_with_several_sources(mine):
    """`match -` with --rules default --rules DIR raises the operator's rule."""
    out = run("match", "-", "--rules", "default", "--rules", str(mine), stdin=json.dumps(CONVOY))
    assert "mine-tanf-convoy" in {m["rule"] for m in json.loads(out)["matches"]}
    default_only = json.loads(run("match", "-", stdin=json.dumps(CONVOY)))
    assert "mine-tanf-convoy" not in {m["rule"] for m in default_only["matches"]}


def test_cli_ingest_with_several_sources_and_by_default(tmp_path, mine, monkeypatch):
    """`ingest` takes several --rules; without any it uses the pack, not ./rules."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "rules", "this folder is not picked up: [", "broken.yaml")
    items = tmp_path / "items.jsonl"
    attack = {"title": "Drones strike US convoy near al-Tanf base"}
    items.write_text(json.dumps(attack) + "\n", encoding="utf-8")
    db = str(tmp_path / "a.db")
    out = run("--db", str(tmp_path / "b.db"), "ingest", "--json", str(items))
    pack_only = len(json.loads(out)["alerts"])  # al-tanf-attack, troop-movement
    assert pack_only >= 1
    out = run(
        "--db", db, "ingest", "--json", "--rules", "default", "--rules", str(mine), str(items)
    )
    assert len(json.loads(out)["alerts"]) == pack_only + 1  # and mine-tanf-convoy
    assert run("--db", db, "ingest", "--rules", "x", "--no-rules", str(items), code=2)


def test_cli_watch_once_with_several_sources_and_by_default(tmp_path, mine, monkeypatch):
    """`watch --once` with --rules default --rules DIR, and with no --rules at all."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wire.xml").write_bytes(SAMPLE.read_bytes())
    feeds = write(tmp_path, "feeds:\n  - id: wire\n    path: wire.xml\n", "feeds.yaml")
    both = run(
        "--db", str(tmp_path / "a.db"), "watch", "--once", "--json", "--feeds", str(feeds),
        "--rules", "default", "--rules", str(mine),
    )  # fmt: skip
    raised = {a["rule_id"] for a in json.loads(both)["alerts"]}
    assert "mine-tanf-convoy" in raised and "troop-movement" in raised
    plain = run("--db", str(tmp_path / "b.db"), "watch", "--once", "--json", "--feeds", str(feeds))
    assert {a["rule_id"] for a in json.loads(plain)["alerts"]} == raised - {"mine-tanf-convoy"}

"""`monitor items search|list|show|history|reindex`: output, --json, exit codes."""

from __future__ import annotations

import json

import pytest

from monitor.cli._main import main
from monitor.events import AlertRaised, Evidence
from monitor.log import open_log

from .conftest import T0, item

ITEMS = [
    item(1, "US troops near al-Tanf", "A drone attack hit the garrison.", lang="en"),
    item(2, "Troops leave Deir ez-Zor", "Convoy on the road.", feed="other", lang="en"),
    item(3, "وصل الجيش", "وصل والجيش إلى المدينة", lang="ar"),
]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "m.db"
    with open_log(path) as log:
        log.append_events(ITEMS)
        log.append_events(
            [
                AlertRaised(
                    alert_id="alert-1",
                    rule_id="al-tanf-attack",
                    title="Possible attack on al-Tanf",
                    item_ids=(ITEMS[0].item_id,),
                    evidence=(Evidence(field="summary", start=2, end=7, text="drone"),),
                    event_time=T0,
                )
            ]
        )
    return str(path)


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_search_json(db, capsys):
    code, out, err = run(capsys, "--db", db, "items", "search", "troops", "--json")
    assert code == 0, err
    page = json.loads(out)
    assert {h["item_id"] for h in page["hits"]} == {ITEMS[0].item_id, ITEMS[1].item_id}
    assert all("[troops]" in h["snippet"] for h in page["hits"])
    assert page["next_cursor"] is None


def test_search_table_and_filters(db, capsys):
    code, out, _ = run(capsys, "--db", db, "items", "search", "الجيش", "--lang", "ar")
    assert code == 0
    assert ITEMS[2].item_id in out and ITEMS[0].item_id not in out
    code, out, _ = run(
        capsys, "--db", db, "items", "search", "troops", "--rule", "al-tanf-attack", "--json"
    )
    assert [h["item_id"] for h in json.loads(out)["hits"]] == [ITEMS[0].item_id]


def test_search_pages_with_the_cursor(db, capsys):
    args = ["--db", db, "items", "search", "troops", "--sort", "newest", "--limit", "1"]
    code, out, _ = run(capsys, *args, "--json")
    first = json.loads(out)
    assert code == 0 and first["hits"][0]["item_id"] == ITEMS[1].item_id
    code, out, _ = run(capsys, *args, "--json", "--cursor", first["next_cursor"])
    assert json.loads(out)["hits"][0]["item_id"] == ITEMS[0].item_id


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ('"al tanf', "unbalanced quote"),
        ("(troops", "never closed"),
        ("NOT troops", "NOT needs something"),
        ("x" * 5000, "the limit is"),
    ],
)
def test_malformed_query_exits_4_with_one_line(db, capsys, query, fragment):
    code, out, err = run(capsys, "--db", db, "items", "search", query)
    assert code == 4
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]


def test_bad_time_is_a_usage_error(db, capsys):
    code, _, err = run(capsys, "--db", db, "items", "search", "troops", "--since", "soon")
    assert code == 2 and "--since" in err


def test_list_newest_first(db, capsys):
    code, out, _ = run(capsys, "--db", db, "items", "list", "--json")
    assert code == 0
    assert [h["item_id"] for h in json.loads(out)["hits"]] == [i.item_id for i in ITEMS[::-1]]
    code, out, _ = run(capsys, "--db", db, "items", "list", "--feed", "other")
    assert code == 0 and ITEMS[1].item_id in out and ITEMS[0].item_id not in out


def test_show_item_with_its_alert(db, capsys):
    code, out, _ = run(capsys, "--db", db, "items", "show", ITEMS[0].item_id, "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["item"]["title"] == ITEMS[0].title
    assert [a["alert_id"] for a in shown["alerts"]] == ["alert-1"]
    assert shown["alerts"][0]["evidence"][0]["text"] == "drone"
    assert len(shown["revisions"]) == 1
    code, out, _ = run(capsys, "--db", db, "items", "show", ITEMS[0].item_id)
    assert code == 0 and "al-tanf-attack" in out and "drone" in out


def test_show_unknown_item_exits_1(db, capsys):
    code, _, err = run(capsys, "--db", db, "items", "show", "nope")
    assert code == 1 and "no item nope" in err


def test_history_moved_with_the_group(db, capsys):
    code, out, _ = run(capsys, "--db", db, "items", "history", ITEMS[1].item_id, "--json")
    assert code == 0 and json.loads(out.splitlines()[0])["title"] == ITEMS[1].title


def test_reindex_gives_the_same_results(db, capsys):
    before = run(capsys, "--db", db, "items", "search", "troops OR الجيش", "--json")[1]
    code, _, _ = run(capsys, "--db", db, "items", "reindex")
    assert code == 0
    assert run(capsys, "--db", db, "items", "search", "troops OR الجيش", "--json")[1] == before


@pytest.mark.parametrize("command", ["search", "list", "show", "history", "reindex"])
def test_help(capsys, command):
    code, out, _ = run(capsys, "items", command, "--help")
    assert code == 0 and "Usage: monitor items " + command in out

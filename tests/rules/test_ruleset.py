"""RuleSet: identity hash, lookups, thread-safe sharing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from monitor.rules import RuleSet, load_rules

from .builders import LEXICONS, rule, write

A = rule("sel: {text: convoy}\ncondition: sel", "a")
B = rule("sel: {text: drone}\ncondition: sel", "b")


def test_hash_is_stable_across_file_order_and_layout(tmp_path):
    """The same rules in other files, order and formatting give the same hash."""
    write(tmp_path / "one", A + "---\n" + B + "---\n" + LEXICONS)
    write(tmp_path / "two", B, "z.yaml")
    write(tmp_path / "two", A.replace("sel: {text: convoy}", "sel:\n    text: convoy"), "a.yaml")
    write(tmp_path / "two", LEXICONS, "m.yaml")
    assert load_rules(tmp_path / "one").hash == load_rules(tmp_path / "two").hash


def test_hash_changes_with_content(tmp_path):
    """Changing one value changes the hash."""
    write(tmp_path / "one", A)
    write(tmp_path / "two", A.replace("convoy", "convoys"))
    assert load_rules(tmp_path / "one").hash != load_rules(tmp_path / "two").hash


def test_lookups_and_order(tmp_path):
    """rules are sorted by id; rule() and lexicon() find by name; unknown ids raise KeyError."""
    write(tmp_path, B + "---\n" + A + "---\n" + LEXICONS)
    rs = load_rules(tmp_path)
    assert [r.id for r in rs.rules] == ["a", "b"] and len(rs) == 2
    assert rs.rule("b").title == "Test rule"
    assert rs.lexicon("irgc").canonical == "actor:irgc"
    with pytest.raises(KeyError):
        rs.rule("c")
    assert [m.rule_id for m in rs.match({"summary": "drone and convoy"})] == ["a", "b"]


def test_built_from_models_and_shared_between_threads(tmp_path):
    """A RuleSet can be built from model objects and used from many threads at once."""
    write(tmp_path, A + "---\n" + B)
    loaded = load_rules(tmp_path)
    rs = RuleSet(loaded.rules, scanner="token")
    items = [{"summary": f"convoy {i}" if i % 2 else f"drone {i}"} for i in range(200)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda it: [m.rule_id for m in rs.match(it)], items))
    assert results == [["a"] if i % 2 else ["b"] for i in range(200)]

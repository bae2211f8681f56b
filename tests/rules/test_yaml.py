"""Located YAML: every key and value knows its line and column."""

from __future__ import annotations

import pytest

from monitor.errors import RuleError
from monitor.rules._yaml import LocList, LocMap, read_documents


def test_marks_for_keys_values_and_items():
    """Keys, values and list items carry 1-based line and column."""
    data = b"a: 1\nb:\n  - x\n  - {c: d}\n"
    [(doc, start)] = list(read_documents(data, "f.yaml"))
    assert isinstance(doc, LocMap) and isinstance(doc["b"], LocList)
    assert (start.line, start.column) == (1, 1)
    assert (doc.key_loc("b").line, doc.value_loc("a").column) == (2, 4)
    assert doc["b"].item_loc(1).line == 4
    assert doc["b"][1].value_loc("c").column == 9


def test_several_documents():
    """Documents separated by --- are yielded in order, empty ones as None."""
    docs = [d for d, _ in read_documents(b"a: 1\n---\n---\nb: 2\n", "f")]
    assert docs == [{"a": 1}, None, {"b": 2}]


def test_only_true_false_are_booleans():
    """yes/no/on/off stay strings; true/false are booleans."""
    [(doc, _)] = list(read_documents(b"v: [yes, no, on, off, true, False]\n", "f"))
    assert doc["v"] == ["yes", "no", "on", "off", True, False]


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        (b"a: 1\na: 2\n", 2, "written twice"),
        (b"a: [1\n", 2, "invalid YAML"),
        (b"ok: 1\nbad: \xff\n", 2, "not UTF-8"),
        (b"a: 1\n\x00\n", 2, "NUL byte"),
    ],
)
def test_faults_are_rule_errors_with_lines(data, line, words):
    """Duplicate keys, syntax errors, bad encodings and NUL bytes name their line."""
    with pytest.raises(RuleError) as info:
        list(read_documents(data, "f.yaml"))
    assert info.value.source.line == line
    assert words in info.value.message


def test_byte_order_mark_is_accepted():
    """A UTF-8 BOM at the start of the file is ignored."""
    [(doc, _)] = list(read_documents("\ufeffa: é\n".encode(), "f"))
    assert doc == {"a": "é"}

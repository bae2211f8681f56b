"""explain: which selections matched, where, and why the condition held or failed."""

from __future__ import annotations

import pytest

from .builders import rule, rules


@pytest.fixture
def rs(tmp_path):
    """One rule with a near entry and a negated selection."""
    return rules(
        tmp_path,
        rule(
            "place: {text|expand: '%al_tanf%'}\n"
            "attack: {text|expand|near=5: ['%al_tanf%', '%attack_terms%']}\n"
            "drill: {text: [drill, exercise]}\n"
            "condition: place and attack and not drill",
            "tanf",
        ),
    )


def test_explains_a_match(rs):
    """A match shows the trace, each selection's verdict and evidence offsets."""
    text = "Rockets struck the At Tanf garrison."
    ex = rs.explain("tanf", {"summary": text})
    assert ex.matched
    assert ex.trace == "place=true and attack=true and not drill=false -> true"
    attack = next(s for s in ex.selections if s.name == "attack")
    assert attack.fields[0].detail == "all found within 5 words"
    assert {text[e.start : e.end] for e in attack.fields[0].evidence} == {"struck", "At Tanf"}
    assert ex.entities == ("place:al-tanf",)
    assert "rule tanf: MATCH" in str(ex)


def test_explains_a_failure(rs):
    """A failure says what was missing or too far apart."""
    far = "Rockets were fired, and a long time later, one two three four, al-Tanf was quiet."
    ex = rs.explain("tanf", {"summary": far})
    assert not ex.matched
    attack = next(s for s in ex.selections if s.name == "attack")
    assert attack.fields[0].detail == "all found, but never within 5 words of each other"
    ex = rs.explain("tanf", {"summary": "A drill at al-Tanf"})
    assert "drill=true" in ex.trace
    assert "missing '%attack_terms%'" in ex.selections[1].fields[0].detail


def test_unknown_rule_is_a_key_error(rs):
    """Explaining a rule that does not exist raises KeyError."""
    with pytest.raises(KeyError):
        rs.explain("nope", {})

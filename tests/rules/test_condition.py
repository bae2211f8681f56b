"""The condition grammar: precedence, quantifiers, errors with columns."""

from __future__ import annotations

import pytest

from monitor.rules._condition import ConditionSyntaxError, parse_condition, referenced, resolve
from monitor.rules._model import And, Not, Or, Quantified, Ref


def test_precedence_not_and_or():
    """not binds tighter than and, which binds tighter than or (Sigma's precedence)."""
    assert parse_condition("a or b and not c") == Or((Ref("a"), And((Ref("b"), Not(Ref("c"))))))


def test_parentheses_and_case_insensitive_keywords():
    """Parentheses group; keywords are case-insensitive."""
    assert parse_condition("(a OR b) AND c") == And((Or((Ref("a"), Ref("b"))), Ref("c")))


def test_quantifiers_resolve_against_names():
    """`1 of x*` is an Or, `all of them` an And, of the matching selections."""
    names = ["sel_a", "sel_b", "noise"]
    tree = parse_condition("1 of sel_* and not all of them")
    assert tree == And((Quantified("1", "sel_*"), Not(Quantified("all", "them"))))
    assert resolve(tree, names) == And(
        (Or((Ref("sel_a"), Ref("sel_b"))), Not(And((Ref("sel_a"), Ref("sel_b"), Ref("noise")))))
    )
    assert referenced(tree, names) == set(names)


def test_single_match_quantifier_is_a_plain_ref():
    """A pattern that matches one selection resolves to that selection."""
    assert resolve(parse_condition("all of x*"), ["x1"]) == Ref("x1")


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("a and", 6, "ends too early"),
        ("a b", 3, "unexpected 'b'"),
        ("(a or b", 8, "missing ')'"),
        ("a and ) b", 7, "unexpected ')'"),
        ("1 of", 5, "needs a selection pattern"),
        ("a & b", 3, "unexpected character '&'"),
        ("sel*", 1, "needs a quantifier"),
        ("of x", 1, "'of' must follow"),
        ("", 1, "empty"),
    ],
)
def test_errors_carry_the_column(text, column, words):
    """Every syntax error says where in the condition it is and what is wrong."""
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition(text)
    assert info.value.column == column
    assert words in str(info.value)

"""The presearcher: which rules are evaluated for an item, and why that is safe."""

from __future__ import annotations

from monitor.rules._match import ItemView, candidates, item_fields
from monitor.rules._model import Term
from monitor.rules._scan import term_key

from .builders import rule, rules


def _candidates(rs, **item):
    view = ItemView(item_fields(item), rs._compiled)
    return {rs._compiled.rules[i].rule.id for i in candidates(view, rs._compiled)}


def test_rules_without_hit_terms_are_not_evaluated(tmp_path):
    """Only rules whose necessary terms occur become candidates."""
    rs = rules(
        tmp_path,
        "\n---\n".join(
            [
                rule("sel: {text: convoy}\ncondition: sel", "a"),
                rule("sel: {text: drone}\ncondition: sel", "b"),
            ]
        ),
    )
    assert _candidates(rs, summary="A convoy.") == {"a"}
    assert _candidates(rs, summary="Nothing.") == set()


def test_and_needs_every_clause(tmp_path):
    """A conjunction is a candidate only when each of its parts has a hit."""
    rs = rules(tmp_path, rule("a: {text: convoy}\nb: {text: [moved, left]}\ncondition: a and b"))
    assert _candidates(rs, summary="A convoy.") == set()
    assert _candidates(rs, summary="A convoy left.") == {"r"}


def test_all_and_near_make_one_clause_per_value(tmp_path):
    """In `all` and `near` entries every value is necessary."""
    rs = rules(tmp_path, rule("s: {text|near=5: [convoy, border]}\ncondition: s"))
    assert [len(c) for c in rs._compiled.rules[0].clauses] == [1, 1]
    assert _candidates(rs, summary="border") == set()


def test_negation_and_regex_only_rules_are_always_evaluated(tmp_path):
    """`not x` alone and rules of regexes without a literal have no clause: evaluated for
    every item."""
    rs = rules(
        tmp_path,
        "\n---\n".join(
            [
                rule("sel: {text: drill}\ncondition: not sel", "neg"),
                rule("sel: {text|re: 'c.nv.y'}\ncondition: sel", "rx"),
                rule("sel: {text: convoy}\nx: {text|re: 'x'}\ncondition: sel or x", "or-rx"),
            ]
        ),
    )
    assert {r.id for r in rs.unindexed()} == {"neg", "rx", "or-rx"}
    assert _candidates(rs, summary="Nothing") == {"neg", "rx", "or-rx"}


def test_or_takes_the_union(tmp_path):
    """A disjunction is reached from a hit of either branch."""
    rs = rules(
        tmp_path, rule("a: {text: convoy}\nb: {title|all: [drone, strike]}\ncondition: a or b")
    )
    assert _candidates(rs, summary="drone") == {"r"}
    assert _candidates(rs, summary="convoy") == {"r"}


def test_equal_terms_share_one_id(tmp_path):
    """al-Tanf and Al Tanf are one term for the scanner."""
    rs = rules(tmp_path, rule("a: {text: [al-Tanf, AL TANF, At Tanf]}\ncondition: a"))
    tids = {tid for tid, _ in rs._compiled.rules[0].selections["a"][0][0].slots[0].phrases}
    other = {tid for s in rs._compiled.rules[0].selections["a"][0][0].slots for tid, _ in s.phrases}
    assert len(tids) == 1 and len(other) == 2
    assert term_key(Term("x", tokens=("de",), prefix=True)) == " de"


def test_a_regex_with_a_literal_is_presearched(tmp_path):
    """`convoy\\s+\\d+` can only match where "convoy" occurs: the rule is indexed by it."""
    rs = rules(tmp_path, rule("sel: {text|re: 'Convoy\\s+\\d+'}\ncondition: sel"))
    assert rs.unindexed() == ()
    assert _candidates(rs, summary="Nothing moved.") == set()
    assert _candidates(rs, summary="The CONVOY 12 moved.") == {"r"}
    assert [m.rule_id for m in rs.match({"summary": "Convoy 12 moved."})] == ["r"]
    # Inside a word too: the literal is a substring, not a word.
    assert _candidates(rs, summary="reconvoyed") == {"r"}


def test_a_regex_is_not_run_in_a_field_without_its_literal(tmp_path):
    """The literal is checked per field: a title without it is not searched."""
    rs = rules(tmp_path, rule("sel: {title|re: 'convoy\\s+\\d+'}\ncondition: sel"))
    assert rs.match({"title": "Quiet day", "summary": "convoy 12"}) == []
    assert [m.rule_id for m in rs.match({"title": "convoy 12"})] == ["r"]


def test_a_regex_on_a_keyword_field_is_not_presearched(tmp_path):
    """Keyword fields are not scanned, so their regexes keep running for every item."""
    rs = rules(tmp_path, rule("sel: {tags|re: 'convoy'}\ncondition: sel"))
    assert [r.id for r in rs.unindexed()] == ["r"]
    assert [m.rule_id for m in rs.match({"tags": ["convoy"]})] == ["r"]

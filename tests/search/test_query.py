"""The query language: each operator, the rendering for both backends, lexicon expansion, and
every malformed or hostile input giving a clear `QueryError`."""

from __future__ import annotations

import time

import pytest

from monitor.rules import load_rules, normalize_tokens
from monitor.search import (
    MAX_DEPTH,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    And,
    Not,
    Or,
    Phrase,
    QueryError,
    parse_query,
    to_fts5,
    to_tsquery,
)


@pytest.fixture(scope="module")
def pack():
    return load_rules("default")


def test_a_word_is_a_phrase_of_its_normalized_token():
    assert parse_query("Troops") == Phrase(("troops",))
    assert parse_query("Ñandú") == Phrase(("nandu",))


def test_a_hyphenated_word_and_a_quoted_phrase_are_phrases():
    assert parse_query("al-Tanf") == Phrase(("al", "tanf"))
    assert parse_query('"US  Forces"') == Phrase(("us", "forces"))


def test_prefix_on_a_word_and_on_a_phrase():
    assert parse_query("deploy*") == Phrase(("deploy",), prefix=True)
    assert parse_query('"us forc"*') == Phrase(("us", "forc"), prefix=True)


def test_juxtaposition_and_AND_are_the_same():
    a, b = Phrase(("a1",)), Phrase(("b1",))
    assert parse_query("a1 b1") == parse_query("a1 AND b1") == And((a, b))


def test_or_binds_looser_than_and():
    a, b, c = Phrase(("a1",)), Phrase(("b1",)), Phrase(("c1",))
    assert parse_query("a1 b1 OR c1") == Or((And((a, b)), c))
    assert parse_query("a1 (b1 OR c1)") == And((a, Or((b, c))))


def test_not_and_minus_subtract():
    a, b = Phrase(("a1",)), Phrase(("b1",))
    assert parse_query("a1 NOT b1") == And((a, Not(b)))
    assert parse_query("a1 -b1") == And((a, Not(b)))


def test_lower_case_operators_are_words():
    assert parse_query("war and peace") == And(
        (Phrase(("war",)), Phrase(("and",)), Phrase(("peace",)))
    )


def test_arabic_word_expands_to_its_clitic_forms():
    node = parse_query("الجيش")
    assert isinstance(node, Or)
    forms = {p.tokens[0] for p in node.parts}
    assert {"الجيش", "والجيش", "بالجيش", "للجيش", "فالجيش"} <= forms


def test_diacritised_arabic_normalizes_like_the_rules():
    assert parse_query("الْجَيْش") == parse_query("الجيش")
    assert parse_query("أمريكية") == parse_query("امريكيه")


def test_lexicon_reference_expands_every_spelling(pack):
    node = parse_query("@places.al_tanf", pack)
    assert isinstance(node, Or)
    rendered = to_fts5(node)
    for spelling in pack.lexicon("al_tanf").terms:
        assert '"' + " ".join(normalize_tokens(spelling.rstrip("*"))) in rendered
    assert parse_query("@al_tanf", pack) == node


def test_lexicon_errors_name_the_fix(pack):
    with pytest.raises(QueryError, match="no rules are loaded"):
        parse_query("@places.al_tanf")
    with pytest.raises(QueryError, match="no lexicon 'al_tanff'"):
        parse_query("@places.al_tanff", pack)
    with pytest.raises(QueryError, match="is a place lexicon, not actors"):
        parse_query("@actors.al_tanf", pack)
    with pytest.raises(QueryError, match="unknown lexicon kind 'cities'"):
        parse_query("@cities.al_tanf", pack)


def test_fts5_rendering_quotes_every_token():
    node = parse_query('(troops OR "al tanf") NOT drone* -strike')
    assert to_fts5(node) == '(((("troops" OR "al tanf")) NOT "drone" *) NOT "strike")'


def test_tsquery_rendering():
    node = parse_query('(troops OR "al tanf") NOT drone*')
    assert to_tsquery(node) == "(('troops' | ('al' <-> 'tanf')) & !'drone':*)"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"al tanf', "unbalanced quote at column 1"),
        ("troops (al tanf", "'(' at column 8 is never closed"),
        ("troops)", "unexpected ')' at column 7"),
        ("", "the query is empty"),
        ("   ", "the query is empty"),
        ("troops OR", "ends after an operator"),
        ("AND troops", "AND at column 1 has nothing before it"),
        ("NOT troops", "NOT needs something to subtract from"),
        ("troops OR NOT drone", "NOT needs something to subtract from"),
        ("a*", "too short"),
        ("dep*loy", "'*' inside"),
        ("& | ;", "no letters or digits"),
        ('""', "holds no words"),
    ],
)
def test_malformed_queries_are_clear_errors(query, message):
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_query(query)


def test_fts_syntax_characters_are_never_operators():
    # FTS5 would read these as column filters, NEAR groups and the initial-token marker.
    node = parse_query("title:troops NEAR(a b) ^start {x}")
    rendered = to_fts5(node)
    assert "NEAR(" not in rendered and ":" not in rendered and "^" not in rendered
    assert rendered == '("title troops" AND "near" AND ("a" AND "b") AND "start" AND "x")'


def test_hostile_input_is_bounded():
    with pytest.raises(QueryError, match=f"the limit is {MAX_QUERY_CHARS:,}"):
        parse_query("troops " * 1000)
    with pytest.raises(QueryError, match="nests deeper"):
        parse_query("(" * (MAX_DEPTH + 5) + "a1" + ")" * (MAX_DEPTH + 5))
    started = time.perf_counter()
    with pytest.raises(QueryError):
        parse_query('"' * 1999)
    assert time.perf_counter() - started < 5  # a sanity bound, not a benchmark


def test_expansion_is_capped(pack):
    many = " OR ".join(["الجيش"] * (MAX_TERMS // 10))
    with pytest.raises(QueryError, match=f"more than {MAX_TERMS} words"):
        parse_query(many, pack)

"""The literal a regex needs: right when given, and None whenever in doubt."""

from __future__ import annotations

import pytest
import re2
from hypothesis import given
from hypothesis import strategies as st

from monitor.rules._literals import required_literal


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"convoy\s+\d+", "convoy"),
        (r"\bDrone\s+strikes?", "strike"),
        (r"(?i)al.tanf", "tanf"),
        (r"troops?\s+(moved|left)\s+toward", "toward"),
        (r"convoys?", "convoy"),
        (r"abcd{2,3}", "abc"),
        (r"abcd+", "abc"),
        (r"[[:alpha:]xyzw]+ab", None),
        (r"[[:digit:]]+\s+rockets", "rockets"),
        (r"(?:al|el)-?tanf", "tanf"),
        (r"[\]abcdef]zz", None),
        (r"^\d{2,}$", None),
    ],
)
def test_literal_is_the_longest_required_run(pattern, literal):
    assert required_literal(pattern) == literal


@pytest.mark.parametrize(
    "pattern",
    [
        r"convoy|drone",  # a top-level alternative needs neither
        r"\x41BCD",  # escapes whose length is not tracked
        r"\pLconvoy",
        r"\QA.B\Econvoy",
        r"(unclosed convoy",
        r"[unclosed convoy",
        r"ab",  # too short to be worth presearching
        "",
    ],
)
def test_doubtful_patterns_give_no_literal(pattern):
    assert required_literal(pattern) is None


_ATOMS = st.sampled_from(
    (
        *("convoy", "tanf", "ab", "x", r"\s+", r"\d", ".", "?", "*", "+", "{2}", "|", "(", ")"),
        *("[a-z]", "[^ ]", r"\b", "(?i)", "(?:", "^", "$", "CONVOY", "s?"),
    )
)


@given(
    st.lists(_ATOMS, max_size=8).map("".join),
    st.text(alphabet="convoytanfCONVOY 12.ab", max_size=30),
)
def test_a_match_always_contains_the_literal(pattern, text):
    """Soundness: wherever RE2 finds a match, the literal is in the case-folded text."""
    literal = required_literal(pattern)
    try:
        regex = re2.compile(pattern)
    except re2.error:
        return
    if literal is not None and regex.search(text):
        assert literal in text.casefold()

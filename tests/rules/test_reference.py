"""The compiled engine agrees with the slow reference evaluator on random rules and texts."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.rules import RuleSet, load_rules

from .reference import field_holds, rule_matches

WORDS = ["alpha", "bravo", "al-Tanf", "convoy", "convoys", "deploy", "deployed", "IS", "is"]
FILLER = ["the", "of", "x1", "near", "Gen"]
REGEXES = [
    r"convoys?\s+\w+",
    r"(?i)al.tanf",
    r"depl[a-z]*ed",
    r"[A-Z]{2}",
    r"bravo|alpha",
    r"con(voy)?s",
    r"Gen\.?\s*x1",
    r"x1",
]
SEPARATORS = [" ", " ", " ", ", ", ". ", " - ", "—", "’s ", "\n\n", "! ", " (", ") "]
VALUES = [
    "alpha",
    "bravo",
    "al tanf",
    "AL-TANF",
    "convoy",
    "deploy*",
    "con*",
    "IS",
    "alpha bravo",
    "convoy deployed",
    "al-Tanf convoy*",
]

word = st.sampled_from(WORDS + FILLER)
styled = st.tuples(word, st.sampled_from([str, str.upper, str.title, str.lower])).map(
    lambda p: p[1](p[0])
)
texts = st.lists(st.tuples(styled, st.sampled_from(SEPARATORS)), max_size=14).map(
    lambda parts: "".join(w + s for w, s in parts)
)
items = st.fixed_dictionaries({"title": texts, "summary": texts})

modifiers = st.sampled_from(
    [
        "",
        "|all",
        "|near=1",
        "|near=3",
        "|onear=2",
        "|onear=5",
        "|sentence",
        "|min=2",
        "|all|min=2",
        "|cased",
        "|all|cased",
        "|near=4|cased",
    ]
)


@st.composite
def field_entries(draw: st.DrawFn) -> tuple[str, object]:
    field = draw(st.sampled_from(["title", "summary", "text"]))
    if draw(st.integers(0, 7)) == 0:
        # Regexes with and without a presearchable literal (see monitor.rules._literals).
        regexes = draw(st.lists(st.sampled_from(REGEXES), min_size=1, max_size=2, unique=True))
        return f"{field}|re" + draw(st.sampled_from(["", "|i"])), regexes
    if draw(st.integers(0, 9)) == 0:
        weights = draw(
            st.dictionaries(
                st.sampled_from(VALUES), st.sampled_from([-2, 1, 2]), min_size=1, max_size=3
            )
        )
        return f"{field}|score={draw(st.sampled_from([1, 2, 3]))}", weights
    mods = draw(modifiers)
    least = 2 if any(m in mods for m in ("near", "onear", "sentence")) else 1
    values = draw(st.lists(st.sampled_from(VALUES), min_size=least, max_size=3, unique=True))
    return field + mods, values


@st.composite
def rule_texts(draw: st.DrawFn, index: int) -> str:
    names = [f"s{i}" for i in range(draw(st.integers(1, 3)))]
    lines = [f"id: rule-{index}", "title: Random rule", "level: low", "detection:"]
    for name in names:
        entries = draw(st.lists(field_entries(), min_size=1, max_size=2, unique_by=lambda e: e[0]))
        lines.append(f"  {name}:")
        lines.extend(f"    {key}: {json.dumps(value)}" for key, value in entries)
    condition = draw(conditions(names))
    lines.append(f"  condition: {condition}")
    return "\n".join(lines) + "\n"


@st.composite
def conditions(draw: st.DrawFn, names: list[str]) -> str:
    parts = list(names)
    draw(st.randoms()).shuffle(parts)
    text = parts[0]
    for name in parts[1:]:
        op = draw(st.sampled_from(["and", "or", "and not"]))
        text = f"({text}) {op} {name}" if draw(st.booleans()) else f"{text} {op} {name}"
    return f"not ({text})" if draw(st.integers(0, 5)) == 0 else text


@st.composite
def rule_sets(draw: st.DrawFn) -> str:
    count = draw(st.integers(1, 4))
    return "\n---\n".join(draw(rule_texts(i)) for i in range(count))


def _load(text: str) -> RuleSet:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.yaml"
        path.write_text(text, encoding="utf-8")
        return load_rules(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets(), st.lists(items, min_size=1, max_size=4))
def test_engine_agrees_with_reference(text: str, sample: list[dict[str, str]]) -> None:
    """For random rules and texts, every rule matches exactly when the reference says so."""
    ruleset = _load(text)
    for item in sample:
        got = {m.rule_id for m in ruleset.match(item)}
        for rule in ruleset.rules:
            want = rule_matches(rule, item)
            assert (rule.id in got) == want, (rule.id, text, item)


@settings(max_examples=150, deadline=None)
@given(rule_texts(0), items)
def test_every_entry_agrees_with_reference(text: str, item: dict[str, str]) -> None:
    """Per term entry: the explanation's verdict for each field entry equals the reference's."""
    ruleset = _load(text)
    rule = ruleset.rules[0]
    explanation = ruleset.explain(rule.id, item)
    verdicts = [fe.matched for sel in explanation.selections for fe in sel.fields]
    expected = [
        field_holds(item, fm)
        for sel in rule.detection
        for group in sel.alternatives
        for fm in group
    ]
    assert verdicts == expected, (text, item)


@settings(max_examples=150, deadline=None)
@given(rule_sets(), st.lists(items, min_size=1, max_size=3))
def test_scanners_agree(text: str, sample: list[dict[str, str]]) -> None:
    """Every scanner (Aho-Corasick, RE2 set, word dict) gives identical matches."""
    aho = _load(text)
    others = [
        RuleSet(aho.rules, aho.correlations, aho.lexicons, scanner=name)
        for name in ("token", "re2set")
    ]
    for item in sample:
        expected = aho.match(item)
        for other in others:
            assert other.match(item) == expected


@settings(max_examples=150, deadline=None)
@given(rule_sets(), st.lists(items, min_size=1, max_size=3))
def test_ascii_evidence_agrees_with_the_general_path(text: str, sample: list[dict[str, str]]):
    """ASCII fields take a shortcut to evidence offsets (`_ascii_spans`); a trailing middle
    dot (a separator, not a word) makes the same text non-ASCII, which takes the general
    word-map path: both must give the same evidence."""
    ruleset = _load(text)
    for item in sample:
        wider = {name: value + " \u00b7" for name, value in item.items()}
        assert ruleset.match(wider) == ruleset.match(item)


_BOUNDARY_RULES = "\n---\n".join(
    f"id: t{i}\ntitle: T\ndetection:\n  s: {{text: {json.dumps(value)}}}\n  condition: s\n"
    for i, value in enumerate(["convoy", "al-Tanf", "deploy*", "Deir ez-Zor"])
)
_BOUNDARY = _load(_BOUNDARY_RULES)
_SEPARATORS = st.sampled_from([" ", "-", "—", "’", "\n", ".", "«", "\u200b", "、", "!"])


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=20), st.sampled_from(range(4)), st.text(max_size=20), _SEPARATORS, _SEPARATORS
)
def test_a_term_in_any_surrounding_text_obeys_word_boundaries(before, index, after, left, right):
    """A term matches inside arbitrary text exactly when its words appear as whole words;
    set off by separators it always matches."""
    rule = _BOUNDARY.rules[index]
    term = rule.detection[0].alternatives[0][0].slots[0].terms[0]
    written = term.text + ("ment" if term.prefix else "")
    for text in (before + written + after, before + left + written + right + after):
        got = rule.id in {m.rule_id for m in _BOUNDARY.match({"summary": text})}
        assert got == rule_matches(rule, {"summary": text}), text
    separated = before + left + written + right + after
    assert rule.id in {m.rule_id for m in _BOUNDARY.match({"summary": separated})}

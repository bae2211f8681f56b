"""Per-item sharing between rules changes nothing: random packs × random items.

The matcher computes word positions, a lexicon's occurrences, sentence maps and an entry's
verdict once per item and shares them among every candidate rule (`CSlot.key`,
`CField.key`), and the presearcher picks the rarest clause of each branch. Packs here are
shaped like the default pack (lexicons through ``|expand``, ``near``/``onear``/``sentence``
pairs, ``and not`` exclusions, ``min``, ``score``, regexes, Arabic), with many rules naming
the same lexicons so that sharing happens. Two references:

* matches: the slow reference evaluator (`tests.rules.reference`), rule by rule;
* evidence and entities: the same rule compiled alone (a pack of one rule and the lexicons),
  where nothing is shared with any other rule: the straightforward per-rule evaluation.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.rules import RuleSet, load_rules

from .reference import rule_matches

WORDS = ["convoy", "troops", "tanf", "attack", "drone", "denied", "drill", "base", "قوات", "رتل"]
FILLER = ["the", "of", "near", "Gen", "12", "x1"]
SEPARATORS = [" ", " ", " ", ", ", ". ", " - ", "\n\n", "! ", "؟ ", "، "]
LEXICONS = {
    "force": ["troops", "convoy", "قوات", "forces"],
    "move": ["convoy", "moved", "drone attack", "رتل"],
    "place": ["tanf", "al tanf", "base", "التنف"],
    "hit": ["attack", "drone", "struck"],
    "deny": ["denied", "deny", "نفى"],
    "drill": ["drill", "exercise"],
}
REGEXES = [r"convoy\s+\d+", r"(?i)tanf", r"[A-Z]{2}", r"drone|attack"]

word = st.sampled_from(WORDS + FILLER + [w.title() for w in WORDS[:5]])
texts = st.lists(st.tuples(word, st.sampled_from(SEPARATORS)), max_size=24).map(
    lambda parts: "".join(w + s for w, s in parts)
)
items = st.fixed_dictionaries({"title": texts, "summary": texts, "content": texts})
lexicon_refs = st.sampled_from([f"%{name}%" for name in LEXICONS])


@st.composite
def entries(draw: st.DrawFn) -> tuple[str, object]:
    field = draw(st.sampled_from(["text", "text", "title", "summary"]))
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return f"{field}|re", [draw(st.sampled_from(REGEXES))]
    if kind == 1:
        weights = draw(
            st.dictionaries(st.sampled_from(WORDS), st.sampled_from([-1, 1, 2]), min_size=1)
        )
        return f"{field}|score=2", weights
    suffixes = draw(st.sampled_from(["", "", "|suffixes"]))
    if kind == 2:
        return f"{field}|expand{suffixes}|min=2", [draw(lexicon_refs)]
    if kind <= 4:
        return f"{field}|expand{suffixes}", [draw(lexicon_refs), draw(st.sampled_from(WORDS))]
    mod = draw(st.sampled_from(["|near=2", "|near=6", "|onear=3", "|sentence", "|all"]))
    values = draw(st.lists(lexicon_refs, min_size=2, max_size=3, unique=True))
    return f"{field}|expand{suffixes}{mod}", values


@st.composite
def rule_texts(draw: st.DrawFn, index: int) -> str:
    names = [f"s{i}" for i in range(draw(st.integers(1, 4)))]
    lines = [f"id: rule-{index}", "title: Random rule", "level: low", "detection:"]
    for name in names:
        found = draw(st.lists(entries(), min_size=1, max_size=2, unique_by=lambda e: e[0]))
        lines.append(f"  {name}:")
        lines.extend(f"    {key}: {json.dumps(value, ensure_ascii=False)}" for key, value in found)
    condition = names[0]
    for name in names[1:]:
        op = draw(st.sampled_from(["and", "or", "and not"]))
        condition = (
            f"({condition}) {op} {name}" if draw(st.booleans()) else f"{condition} {op} {name}"
        )
    lines.append(f"  condition: {condition}")
    return "\n".join(lines) + "\n"


def _lexicons() -> str:
    docs = []
    for name, terms in LEXICONS.items():
        doc = {"lexicon": name, "kind": "term", "terms": terms}
        if name == "place":
            doc.update(kind="place", canonical="place:tanf")
        docs.append("\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in doc.items()))
    return "\n---\n".join(docs) + "\n"


def _load(rules: str) -> RuleSet:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "lexicons.yaml").write_text(_lexicons(), encoding="utf-8")
        Path(folder, "rules.yaml").write_text(rules, encoding="utf-8")
        return load_rules(Path(folder))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(2, 8).flatmap(lambda n: st.tuples(*(rule_texts(i) for i in range(n)))),
    st.lists(items, min_size=1, max_size=4),
)
def test_shared_evaluation_matches_per_rule_evaluation(rules, sample):
    """Every rule matches exactly when the reference says so, and a match's evidence and
    entities equal those of the same rule evaluated alone."""
    pack = _load("---\n".join(rules))
    alone = {rule.id: RuleSet([rule], lexicons=pack.lexicons) for rule in pack.rules}
    for item in sample:
        got = {m.rule_id: m for m in pack.match(item)}
        for rule in pack.rules:
            assert (rule.id in got) == rule_matches(rule, item), (rule.id, rules, item)
            solo = alone[rule.id].match(item)
            assert [m.rule_id for m in solo] == ([rule.id] if rule.id in got else [])
            if solo:
                assert got[rule.id].evidence == solo[0].evidence, (rule.id, rules, item)
                assert got[rule.id].entities == solo[0].entities


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(2, 6).flatmap(lambda n: st.tuples(*(rule_texts(i) for i in range(n)))),
    st.lists(items, min_size=1, max_size=3),
)
def test_explain_agrees_with_shared_evaluation(rules, sample):
    """`explain` (one rule, its own view) gives the verdict the shared evaluation gave."""
    pack = _load("---\n".join(rules))
    for item in sample:
        got = {m.rule_id for m in pack.match(item)}
        for rule in pack.rules:
            assert pack.explain(rule.id, item).matched == (rule.id in got)

"""Matching: the modifiers' meaning, evidence offsets, entities, item forms, bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.events import Evidence, ItemReceived
from monitor.rules import MAX_FIELD_CHARS

from .builders import matched, rule, rules


@pytest.fixture
def movement(tmp_path):
    """A rule set exercising every modifier, one rule per modifier."""
    text = "\n---\n".join(
        [
            rule("sel: {text: [convoy, al-Tanf]}\ncondition: sel", "any"),
            rule("sel: {text: deploy*}\ncondition: sel", "prefix"),
            rule("sel: {text|all: [convoy, moved]}\ncondition: sel", "all"),
            rule("sel: {text|near=3: [convoy, Abu Kamal]}\ncondition: sel", "near"),
            rule("sel: {text|onear=3: [convoy, Abu Kamal]}\ncondition: sel", "onear"),
            rule("sel: {text|sentence: [convoy, denied]}\ncondition: sel", "sentence"),
            rule("sel: {text|min=2: convoy}\ncondition: sel", "min"),
            rule("sel: {text|score=3: {attack: 2, drone: 1, drill: -5}}\ncondition: sel", "score"),
            rule("sel: {text|re: 'convoy\\s+of\\s+\\d+'}\ncondition: sel", "re"),
            rule("sel: {text|re|i: 'CONVOY\\s+OF'}\ncondition: sel", "re-i"),
            rule("sel: {title|cased: IS}\ncondition: sel", "cased"),
            rule("sel: {text|expand: '%abu_kamal%'}\ncondition: sel", "expand"),
            rule("sel: {feed: [wire-a, wire-b]}\nw: {text: convoy}\ncondition: sel and w", "feed"),
            rule("sel: {tags: Syria}\nw: {text: convoy}\ncondition: sel and w", "tags"),
            rule("sel: {source: north*}\nw: {text: convoy}\ncondition: sel and w", "src"),
            rule("sel: {title: convoy}\ncondition: sel", "title-only"),
            rule("- convoy\n- armour\ncondition: keywords", "kw")
            .replace("  - ", "  keywords:\n    - ", 1)
            .replace("\n  - armour", "\n    - armour"),
        ]
    )
    return rules(tmp_path, text)


def test_plain_values_obey_word_boundaries(movement):
    """`convoy` matches the word in any case and spelling, but not "convoys" or "reconvoy"."""
    assert "any" in matched(movement, summary="A CONVOY moved.")
    assert "any" in matched(movement, summary="Drones hit AT-TANF... no, al‑Tanf.")
    assert "any" not in matched(movement, summary="Three convoys and a reconvoy passed.")


def test_prefix_wildcard(movement):
    """`deploy*` matches deploy, deployed, redeploy not."""
    assert "prefix" in matched(movement, summary="Troops were deployed.")
    assert "prefix" in matched(movement, summary="They deploy.")
    assert "prefix" not in matched(movement, summary="Troops were redeployed.")


def test_all(movement):
    """`all` needs every value."""
    assert "all" in matched(movement, summary="The convoy moved east.")
    assert "all" not in matched(movement, summary="The convoy stayed.")


def test_all_across_fields(movement):
    """`text|all` values may be found in different fields of the item."""
    assert "all" in matched(movement, title="Convoy seen", summary="It moved east.")


def test_near_and_onear(movement):
    """near: within N words, any order; onear: also in the listed order."""
    assert {"near", "onear"} <= set(matched(movement, summary="A convoy near Abu Kamal."))
    got = matched(movement, summary="Abu Kamal: a convoy.")
    assert "near" in got and "onear" not in got
    far = matched(movement, summary="A convoy left, and much later one two three Abu Kamal.")
    assert "near" not in far and "onear" not in far


def test_near_is_within_one_field(movement):
    """Proximity is measured inside one field: title end and summary start are not near."""
    assert "near" not in matched(movement, title="Convoy", summary="Abu Kamal quiet.")


def test_sentence(movement):
    """`sentence` needs every value in one sentence."""
    assert "sentence" in matched(movement, summary="Officials denied a convoy was there.")
    assert "sentence" not in matched(movement, summary="A convoy came. Officials denied it.")
    assert "sentence" in matched(movement, summary="Maj. Gen. Lee denied the U.S. convoy story.")


def test_a_phrase_across_a_sentence_end_is_in_neither_sentence(tmp_path):
    """A phrase whose words straddle a sentence's end ("al-Tanf", a blank line, "convoy")
    occurs in no one sentence (found by the reference property test)."""
    text = rule('sel: {title|sentence: ["al-Tanf convoy*", "al tanf"]}\ncondition: sel', "s")
    assert "s" not in matched(rules(tmp_path, text), title="al-Tanf\n\nconvoy ")
    assert "s" in matched(rules(tmp_path, text), title="al-Tanf convoy left al-Tanf")


def test_min(movement):
    """`min=2` counts occurrences."""
    assert "min" in matched(movement, summary="One convoy, then another convoy.")
    assert "min" not in matched(movement, summary="One convoy.")


def test_score(movement):
    """`score` sums the weights of the terms present (once each), negatives included."""
    assert "score" in matched(movement, summary="A drone attack.")
    assert "score" not in matched(movement, summary="An attack.")
    assert "score" not in matched(movement, summary="A drone attack during a drill.")


def test_regex_runs_on_the_original_text(movement):
    """`re` is case-sensitive by default, `re|i` is not; both see the original text."""
    assert "re" in matched(movement, summary="A convoy of 40 trucks.")
    assert "re" not in matched(movement, summary="A Convoy of 40 trucks.")
    assert "re-i" in matched(movement, summary="A Convoy Of trucks.")


def test_cased(movement):
    """`cased` keeps letter case: IS the group, not the verb."""
    assert "cased" in matched(movement, title="IS fighters seen")
    assert "cased" not in matched(movement, title="This is fine")


def test_expand(movement):
    """`expand` matches any alias of the lexicon."""
    for name in ("Abu Kamal", "Al-Bukamal", "ALBU KAMAL"):
        assert "expand" in matched(movement, summary=f"Near {name} today.")


def test_keyword_fields_match_whole_values(movement):
    """feed/tags/source match whole values case-insensitively; `*` is a prefix there."""
    assert "feed" in matched(movement, feed="WIRE-A", summary="convoy")
    assert "feed" not in matched(movement, feed="wire-abc", summary="convoy")
    assert "tags" in matched(movement, tags=["news", "syria"], summary="convoy")
    assert "src" in matched(movement, source="NorthPress", summary="convoy")


def test_field_scoping(movement):
    """A title-only rule ignores the summary."""
    assert "title-only" not in matched(movement, summary="convoy")
    assert "title-only" in matched(movement, title="convoy")


def test_keyword_list_selection(movement):
    """A selection that is a plain list of words searches `text`."""
    assert "kw" in matched(movement, content="Armour was seen.")


def test_evidence_offsets_are_in_the_original_field(movement):
    """Evidence spans index the original text, not the normalized one."""
    text = "« Ｃｏｎｖｏｙ » near Al‑Bukamal."
    [m] = [m for m in movement.match({"summary": text}) if m.rule_id == "expand"]
    [ev] = m.evidence
    assert ev == Evidence(
        field="summary", start=ev.start, end=ev.end, text="Al‑Bukamal", selection="sel"
    )
    assert text[ev.start : ev.end] == "Al‑Bukamal"


def test_evidence_of_near_is_the_winning_window(movement):
    """near evidence shows the occurrences that were close, not far ones."""
    text = "A convoy left. Ten words later there was another convoy at Abu Kamal."
    [m] = [m for m in movement.match({"summary": text}) if m.rule_id == "near"]
    spans = [(e.start, e.end) for e in m.evidence]
    assert spans == [
        (text.rindex("convoy"), text.rindex("convoy") + 6),
        (text.index("Abu"), text.index("Abu") + 9),
    ]


def test_entities_from_place_and_actor_lexicons(tmp_path):
    """Entities are the canonical ids of place/actor lexicons found; term lexicons are not."""
    rs = rules(tmp_path, rule("sel: {text: convoy}\ncondition: sel"))
    item = {"title": "Convoy near Albu Kamal", "summary": "IRGC and IS fighters; drone attack"}
    [m] = rs.match(item)
    assert m.entities == ("actor:irgc", "actor:isis", "place:abu-kamal")
    assert rs.entities({"summary": "this is quiet"}) == ()


def test_item_received_event_is_accepted(tmp_path):
    """An ItemReceived works like a mapping: authors -> author, feed_id -> feed."""
    rs = rules(tmp_path, rule("a: {author: Youssef}\nf: {feed: np}\ncondition: a and f", "x"))
    item = ItemReceived(
        item_id="i1",
        feed_id="np",
        received=datetime(2026, 1, 1, tzinfo=UTC),
        title="t",
        authors=("Stella Youssef",),
    )
    assert [m.rule_id for m in rs.match(item)] == ["x"]


def test_annotations_labels_throttle(tmp_path):
    """A match carries labels, rendered annotations, throttle seconds and the rule version."""
    extra = (
        "version: 2\nthrottle: 30m\nlabels: {topic: movement}\n"
        "annotations:\n  summary: 'Seen: {{ item.title }} ({{ entities }}) by {{ rule.id }}'\n"
    )
    rs = rules(tmp_path, rule("sel: {text: convoy}\ncondition: sel", "x", extra))
    [m] = rs.match({"title": "Convoy at Abu Kamal"})
    assert (m.rule_version, m.throttle, m.labels) == (2, 1800, {"topic": "movement"})
    assert m.annotations == {"summary": "Seen: Convoy at Abu Kamal (place:abu-kamal) by x"}


@pytest.mark.timeout(60)
def test_huge_item_is_bounded(movement):
    """A 10 MB item gives a clean result; text beyond the cap is not scanned."""
    chunk = "Nothing to see here today, said the officials. "
    big = chunk * (10_000_000 // len(chunk)) + " convoy moved"
    assert len(big) > MAX_FIELD_CHARS
    assert matched(movement, content=big) == []
    assert "any" in matched(movement, content="convoy " + big)


@pytest.mark.parametrize(
    "item",
    [
        {},
        {"title": None, "summary": "", "tags": None},
        {"title": "\x00\x01\ud800\udfff\ufffe", "summary": b"\xff\xfe convoy"},
        {"summary": "".join(chr(c) for c in range(0, 0x3000, 7))},
        {"title": 12345, "tags": "syria", "author": ["a", "b"]},
    ],
)
def test_odd_items_never_crash(movement, item):
    """Empty, binary, surrogate, non-string and odd-typed fields give a clean result."""
    result = movement.match(item)
    assert isinstance(result, list)


def test_binary_junk_still_matches_real_words(movement):
    """Junk around a word does not stop the word from matching."""
    assert "any" in matched(movement, summary="\x00\x07��convoy\x1b[0m")

"""The default rule pack (``rules/``): it loads cleanly, has the rules and lexicons the product
promises, its embedded tests pass, and it flags the seed article the way the design says."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.alerting import run_tests
from monitor.rules import RuleSet, check_rules, load_rules

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "rules"
SEED_DIR = Path(__file__).resolve().parents[3] / "shared" / "seed"
SEED_FILE = "000_56a50a943bd684b9.txt"

REQUIRED_RULES = ("troop-movement", "official-denial", "al-tanf-attack")
MORE_RULES = (
    "border-crossing-activity",
    "coalition-base-attack",
    "isis-cell-activity",
    "militia-weapons-transfer",
    "strike-on-militia",
    "turkish-strike",
)
CORRELATIONS = ("movement-corroborated", "movement-then-denial")

# Spelling variants an analyst meets in wire copy, and the entity each must resolve to.
VARIANTS = {
    "place:abu-kamal": ["Abu Kamal", "Al-Bukamal", "Albu Kamal", "Bukamal", "البوكمال"],
    "place:deir-ez-zor": [
        "Deir ez-Zor",
        "Deir al-Zour",
        "Dayr az Zawr",
        "Deir Ezzor",
        "DEIR EZ-ZOR",
    ],
    "place:al-tanf": ["al-Tanf", "At Tanf", "Al-Tanaf", "Tanf garrison", "AL\u2011TANF", "التنف"],
    "place:al-qaim": ["al-Qaim", "Al Qa'im", "Al Qa\u2019im", "Husaybah"],
    "place:palmyra": ["Palmyra", "Tadmur"],
    "place:latakia": ["Latakia", "Lattakia"],
    "place:hmeimim": ["Hmeimim", "Khmeimim"],
    "place:kobani": ["Kobani", "Kobane", "Ain al-Arab"],
    "place:ain-al-asad": ["Ain al-Asad", "Ayn al-Asad", "Al-Asad air base"],
    "place:tower-22": ["Tower 22"],
    "place:conoco": ["Conoco gas field"],
    "place:al-omar": ["al-Omar oil field", "Green Village"],
    "actor:irgc": ["IRGC", "Islamic Revolutionary Guard Corps", "Revolutionary Guards"],
    "actor:quds-force": ["Quds Force", "Qods Force"],
    "actor:sdf": ["SDF", "Syrian Democratic Forces"],
    "actor:centcom": ["CENTCOM", "US Central Command"],
    "actor:coalition": ["CJTF-OIR", "Operation Inherent Resolve", "US-led coalition"],
    "actor:isis": ["ISIS", "ISIL", "Daesh", "Islamic State", "IS"],
    "actor:hezbollah": ["Hezbollah", "Hizballah"],
    "actor:kataib-hezbollah": ["Kataib Hezbollah", "Kata'ib Hizballah"],
    "actor:nujaba": ["Harakat al-Nujaba"],
    "actor:kataib-sayyid-al-shuhada": ["Kataib Sayyid al-Shuhada"],
    "actor:islamic-resistance-in-iraq": ["Islamic Resistance in Iraq"],
    "actor:pmf": ["Popular Mobilization Forces", "Hashd al-Shaabi", "PMF"],
    "actor:syrian-government-forces": ["Syrian government forces", "SAA", "regime forces"],
    "actor:russian-forces": ["Russian forces", "Russian military police"],
    "actor:turkish-forces": ["Turkish forces", "Turkish army"],
    "actor:syrian-national-army": ["Syrian National Army"],
    "actor:maghawir-al-thawra": ["Maghawir al-Thawra", "Syrian Free Army"],
}


@pytest.fixture(scope="module")
def pack() -> RuleSet:
    return load_rules(RULES_DIR)


def _seed_item() -> dict[str, str]:
    path = SEED_DIR / SEED_FILE
    if not path.is_file():
        pytest.skip(f"seed article not found at {path} (the shared folder beside the checkout)")
    lines = path.read_text(encoding="utf-8").splitlines()
    author = lines[0].removeprefix("By ").strip() if lines[0].startswith("By ") else ""
    body = [line for line in lines[1:] if line.strip()]
    return {"title": body[0], "content": "\n\n".join(body[1:]), "author": author}


def test_pack_checks_without_errors_or_warnings() -> None:
    """`check_rules` on rules/ reports no error and no warning (nothing unindexable, unused...)."""
    report = check_rules(RULES_DIR)
    assert report.ok, "\n".join(str(e) for e in report.errors)
    assert not report.warnings, "\n".join(str(w) for w in report.warnings)


def test_pack_has_the_promised_rules(pack: RuleSet) -> None:
    """The three required rules, five more for this region and both correlations are present."""
    ids = {rule.id for rule in pack.rules}
    assert set(REQUIRED_RULES) <= ids
    assert set(MORE_RULES) <= ids
    assert {c.id for c in pack.correlations} == set(CORRELATIONS)
    for corr in pack.correlations:
        assert set(corr.rules) <= ids, f"{corr.id} listens to an unknown rule"
        assert list(corr.group_by) == ["place"], f"{corr.id} should group by place"


def test_every_rule_has_ten_match_and_ten_no_match_tests(pack: RuleSet) -> None:
    """Each detection rule embeds at least 10 must-match and 10 must-not-match examples."""
    for rule in pack.rules:
        matches = sum(case.expect_match for case in rule.tests)
        no_matches = sum(not case.expect_match for case in rule.tests)
        assert matches >= 10 and no_matches >= 10, f"{rule.id}: {matches}/{no_matches}"


def test_correlation_rules_have_firing_and_silent_tests(pack: RuleSet) -> None:
    """Each correlation rule has a test that must fire and at least two that must not."""
    for corr in pack.correlations:
        firing = [t for t in corr.tests if t.alerts]
        silent = [t for t in corr.tests if not t.alerts]
        assert firing and len(silent) >= 2, f"{corr.id}: {len(firing)} firing, {len(silent)} silent"


def test_all_embedded_tests_pass(pack: RuleSet) -> None:
    """`monitor.alerting.run_tests` runs every detection and correlation test of the pack: none
    fails or is left unrun."""
    report = run_tests(pack)
    failures = "\n".join(f"{r.rule_id} {r.name}: {r.reason}" for r in report.failures())
    assert report.failed == 0, failures
    assert report.not_run == 0
    expected = sum(len(rule.tests) for rule in pack.rules)
    expected += sum(len(corr.tests) for corr in pack.correlations)
    assert report.passed == expected


def test_seed_article_raises_movement_and_denial(pack: RuleSet) -> None:
    """The seed article (US convoys near al-Qaim/Abu Kamal, then official denials) raises
    troop-movement and official-denial, about Abu Kamal among other places."""
    matches = {m.rule_id: m for m in pack.match(_seed_item())}
    assert "troop-movement" in matches and "official-denial" in matches, sorted(matches)
    assert "place:abu-kamal" in matches["troop-movement"].entities
    denial_text = " ".join(e.text for e in matches["official-denial"].evidence).lower()
    assert any(w in denial_text for w in ("denied", "not preparing", "dismissed the rumors"))


@pytest.mark.parametrize(
    "text",
    [
        "The al-Tanf garrison lies near the point where Syria, Iraq and Jordan meet.",
        "Rukban camp, inside the 55-km zone around At Tanf, received a rare aid delivery.",
        "US instructors trained new recruits at al-Tanf this month, the coalition said.",
        "Coalition and partner forces held a live-fire exercise near al-Tanf on Tuesday.",
    ],
)
def test_al_tanf_named_without_attack_does_not_fire(pack: RuleSet, text: str) -> None:
    """Naming al-Tanf (even beside fire in a drill) does not raise al-tanf-attack."""
    assert "place:al-tanf" in pack.entities({"summary": text})
    assert "al-tanf-attack" not in {m.rule_id for m in pack.match({"summary": text})}


def test_lexicons_cover_forty_places_and_the_main_actors(pack: RuleSet) -> None:
    """At least 40 place lexicons with canonical ids, and the actor lexicons analysts need."""
    places = [lex for lex in pack.lexicons if lex.kind == "place"]
    actors = {lex.canonical for lex in pack.lexicons if lex.kind == "actor"}
    assert len(places) >= 40
    assert all(lex.canonical and lex.canonical.startswith("place:") for lex in places)
    assert {c for c in VARIANTS if c.startswith("actor:")} <= actors
    canonicals = [lex.canonical for lex in pack.lexicons if lex.canonical]
    assert len(canonicals) == len(set(canonicals)), "two lexicons share a canonical id"


@pytest.mark.parametrize(
    ("canonical", "variant"), [(c, v) for c, vs in VARIANTS.items() for v in vs]
)
def test_name_variant_resolves_to_its_entity(pack: RuleSet, canonical: str, variant: str) -> None:
    """Each transliteration variant, inside a sentence, yields the canonical entity id."""
    item = {"summary": f"Local sources said that {variant} was mentioned in the statement."}
    assert canonical in pack.entities(item)


def test_lowercase_is_is_not_the_islamic_state(pack: RuleSet) -> None:
    """The verb "is" never tags an item with the Islamic State (only capital "IS" does)."""
    assert "actor:isis" not in pack.entities({"summary": "The road is closed and it is quiet."})

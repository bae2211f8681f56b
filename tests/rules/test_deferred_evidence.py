"""A match's evidence and annotations are computed when first read, not for every match: a
throttled repeat never reads them. Reading gives the same values as before, and equality,
`repr` and pickling (backtest workers send matches between processes) see the values."""

from __future__ import annotations

import pickle

import pytest

import monitor.rules._ruleset as ruleset_module
from monitor import Monitor
from monitor.log import MemoryLog
from monitor.rules import Match, load_rules
from tests.conftest import REPO

RULES = REPO / "rules"


def _item(n: int) -> dict[str, str]:
    return {
        "id": f"m{n}",
        "title": f"US convoy moves toward Abu Kamal crossing ({n})",
        "summary": "A column of armoured vehicles was seen heading to the border.",
        "source": "wire-a",
        "feed": "wire-a",
        "published": f"2026-03-01T08:{n:02d}:00Z",
    }


@pytest.fixture
def evidence_calls(monkeypatch) -> list[str]:
    """The rule ids the rule engine locates evidence for, in order."""
    calls: list[str] = []
    real = ruleset_module.rule_evidence
    monkeypatch.setattr(
        ruleset_module,
        "rule_evidence",
        lambda view, crule, memo: calls.append(crule.rule.id) or real(view, crule, memo),
    )
    return calls


def test_evidence_and_annotations_are_computed_on_first_read_only(evidence_calls):
    calls = evidence_calls
    ruleset = load_rules(RULES)
    (match,) = [m for m in ruleset.match(_item(1)) if m.rule_id == "troop-movement"]
    assert calls == []
    assert [e.text for e in match.evidence] == ["US convoy"]
    assert match.annotations["summary"].startswith("Troop movement reported: US convoy")
    assert calls == ["troop-movement"]
    match.evidence  # noqa: B018  (read again: computed once)
    assert calls == ["troop-movement"]


def test_a_deferred_match_equals_prints_and_pickles_as_its_values():
    ruleset = load_rules(RULES)
    deferred = ruleset.match(_item(1))[0]
    eager = Match(
        rule_id=deferred.rule_id,
        rule_version=deferred.rule_version,
        level=deferred.level,
        title=deferred.title,
        entities=deferred.entities,
        evidence=tuple(ruleset.match(_item(1))[0].evidence),
        labels=deferred.labels,
        annotations=dict(ruleset.match(_item(1))[0].annotations),
        throttle=deferred.throttle,
        throttle_by=deferred.throttle_by,
    )
    assert ruleset.match(_item(1))[0] == eager
    assert repr(ruleset.match(_item(1))[0]) == repr(eager)
    assert "evidence=(Evidence(" in repr(eager)
    copied = pickle.loads(pickle.dumps(ruleset.match(_item(1))[0]))
    assert copied == eager and copied.evidence == eager.evidence


def test_throttled_repeats_never_compute_evidence(evidence_calls, clock):
    """Five reports of one movement within the throttle: one alert, whose evidence is
    located; the four repeats are stored without any being computed."""
    with Monitor(MemoryLog(), rules=RULES, clock=clock) as app:
        report = app.ingest([_item(n) for n in range(5)])
        raised = [a for a in report.alerts if a.rule_id == "troop-movement"]
        assert len(raised) == 1 and raised[0].evidence
    assert evidence_calls.count("troop-movement") == 1

"""A detection rule's throttle groups under the rule's control, and folds its repeats compactly.

``throttle: {window: 6h, by: [place, source]}`` (any of group, place, actor, story, source,
feed, lang, author, or none); repeats beyond the first few of an alert are counted in
`RepeatsFolded` records, and everything a restart or a replay needs is still in the log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerting import AlertEvaluator, backtest, explain_correlation
from monitor.alerting._evaluator import FOLD_AFTER, unfolded_repeats
from monitor.events import AlertRaised, ItemReceived, item_id
from monitor.log import MemoryLog
from monitor.projections import AlertTimeline, ProjectionRunner, RuleHits
from monitor.rules import load_rules

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

LEXICON = """\
lexicon: t_tanf
kind: place
canonical: place:al-tanf
terms: [al-Tanf, Tanf]
---
lexicon: t_deir
kind: place
canonical: place:deir-ez-zor
terms: [Deir ez-Zor]
---
lexicon: t_irgc
kind: actor
canonical: actor:irgc
terms: [IRGC, Revolutionary Guard]
"""


def rule(by: str) -> str:
    return f"""\
id: shelling
title: Shelling
level: high
detection:
  sel:
    text: [shelling, shelled]
  condition: sel
throttle: {{window: 6h, by: {by}}}
"""


def clock() -> datetime:
    return T0


def news(n: int, text: str, *, source: str, hours: float = 0.0, lang: str = "en") -> ItemReceived:
    feed = f"{source}-feed"
    published = T0 + timedelta(hours=hours)
    return ItemReceived(
        item_id=item_id(feed, guid=f"g{n}"),
        feed_id=feed,
        guid=f"g{n}",
        received=published,
        published=published,
        title=text,
        source=source,
        lang=lang,
    )


def evaluate(tmp_path, by: str, items: list[ItemReceived], **options) -> MemoryLog:
    (tmp_path / "lexicons.yaml").write_text(LEXICON)
    (tmp_path / "rule.yaml").write_text(rule(by))
    log = MemoryLog()
    log.append_events(items)
    AlertEvaluator(log, load_rules(tmp_path), clock=clock, **options).run()
    return log


def raised(log) -> list[AlertRaised]:
    return [e for _, e in log.iter_events(types=("AlertRaised",))]


def repeats(log) -> set[str]:
    """Every folded repeat's item id, sampled (`AlertSuppressed`) or counted (`RepeatsFolded`)."""
    out: set[str] = set()
    for _, evt in log.iter_events(types=("AlertSuppressed", "RepeatsFolded")):
        out.update(evt.item_ids)
    return out


ITEMS = [
    news(1, "Shelling near al-Tanf reported", source="wire"),
    news(2, "Tanf garrison shelled overnight", source="wire", hours=1),  # same place, source
    news(3, "Shelling near al-Tanf, witnesses say", source="local", hours=2),  # other source
    news(4, "Deir ez-Zor shelled by artillery", source="wire", hours=3),  # other place
    news(5, "IRGC positions shelled near al-Tanf", source="local", hours=4),
]


@pytest.mark.parametrize(
    ("by", "alerts"),
    [
        # the default: the alert's group, its first place
        ("group", {"g1", "g4"}),
        ("place", {"g1", "g4"}),
        ("[place, source]", {"g1", "g3", "g4"}),
        ("source", {"g1", "g3"}),
        ("feed", {"g1", "g3"}),
        ("none", {"g1"}),
        # items without an actor are one group (the empty value); the IRGC item is another
        ("actor", {"g1", "g5"}),
        ("[actor, place]", {"g1", "g4", "g5"}),
    ],
)
def test_throttle_groups_by_the_rules_keys(tmp_path, by, alerts) -> None:
    log = evaluate(tmp_path, by, ITEMS)
    guids = {i.item_id: i.guid for i in ITEMS}
    assert {guids[a.item_ids[0]] for a in raised(log)} == alerts
    # every other match is a repeat folded into one of them: nothing lost, nothing twice
    assert repeats(log) == {i.item_id for i in ITEMS} - {a.item_ids[0] for a in raised(log)}


def test_outside_the_window_the_group_raises_again(tmp_path) -> None:
    items = [ITEMS[0], news(9, "Shelling near al-Tanf resumes", source="wire", hours=7)]
    log = evaluate(tmp_path, "[place, source]", items)
    assert len(raised(log)) == 2


def wire_copies(count: int) -> list[ItemReceived]:
    """One wire story about al-Tanf run by `count` outlets, five minutes apart."""
    return [
        news(n, "Shelling near al-Tanf reported", source=f"outlet-{n}", hours=n / 12)
        for n in range(count)
    ]


def test_repeats_past_the_sample_are_counted_in_one_record_per_page(tmp_path) -> None:
    """40 copies: one alert, 3 repeats kept as `AlertSuppressed`, 36 counted in records."""
    items = wire_copies(40)
    log = evaluate(tmp_path, "place", items, page_size=20)
    (alert,) = raised(log)
    sampled = [e for _, e in log.iter_events(types=("AlertSuppressed",))]
    folds = [e for _, e in log.iter_events(types=("RepeatsFolded",))]
    assert len(sampled) == 3
    assert [len(f.item_ids) for f in folds] == [16, 20]  # one record per page of 20 items
    assert {f.folded_into for f in [*sampled, *folds]} == {alert.alert_id}
    assert repeats(log) == {i.item_id for i in items[1:]}
    ProjectionRunner(log, [AlertTimeline(), RuleHits()]).run()
    listing = AlertTimeline.get(log, alert.alert_id)
    assert listing["suppressed"] == 39
    assert listing["outlets"] == sorted(f"outlet-{n}" for n in range(40))  # reported by 40
    assert RuleHits.get(log, "shelling")["suppressed"] == 39
    # 40 items gave 6 alert records instead of 40
    assert len(sampled) + len(folds) + 1 == 6


def test_a_restart_keeps_counting_and_throttling_exactly(tmp_path) -> None:
    """Stopped half way and restarted (a new process), the evaluator folds into the same alert
    and stores the same repeats as one run did."""
    items = wire_copies(30)
    whole = evaluate(tmp_path, "place", items, page_size=7)
    (tmp_path / "rule.yaml").write_text(rule("place"))
    rules = load_rules(tmp_path)
    log = MemoryLog()
    log.append_events(items)
    AlertEvaluator(log, rules, clock=clock, page_size=4).run(until=11)
    AlertEvaluator(log, rules, clock=clock, page_size=9).run()
    assert raised(log) == raised(whole)
    assert repeats(log) == repeats(whole)
    sampled = [e for _, e in log.iter_events(types=("AlertSuppressed",))]
    assert len(sampled) == 3  # the sample is not taken again after the restart


def test_two_evaluators_folding_overlapping_pages_count_each_repeat_once(tmp_path) -> None:
    """Two evaluators over one log with other page splits store overlapping fold records; the
    listing still counts every repeat once."""
    items = wire_copies(25)
    (tmp_path / "lexicons.yaml").write_text(LEXICON)
    (tmp_path / "rule.yaml").write_text(rule("place"))
    rules = load_rules(tmp_path)
    log = MemoryLog()
    log.append_events(items)
    AlertEvaluator(log, rules, clock=clock, name="a", page_size=6).run()
    AlertEvaluator(log, rules, clock=clock, name="b", page_size=10).run()
    folds = [e for _, e in log.iter_events(types=("RepeatsFolded",))]
    assert sum(len(f.item_ids) for f in folds) > 21  # they overlap
    ProjectionRunner(log, [AlertTimeline()]).run()
    (alert,) = raised(log)
    assert AlertTimeline.get(log, alert.alert_id)["suppressed"] == 24


CORROBORATED = """\
id: shelling-corroborated
title: Shelling corroborated
level: critical
correlation:
  type: value_count
  rules: [shelling]
  group-by: [place]
  timespan: 12h
  condition: {gte: %d, field: source}
"""


def test_a_rule_a_correlation_listens_to_lists_each_folded_repeat(tmp_path) -> None:
    """A correlation counts each repeat, so a restart must find each one in the log: past
    the sample, the page's fold lists every repeat's time, entities and facets, read back as
    the `AlertSuppressed` it stands for."""
    (tmp_path / "corr.yaml").write_text(CORROBORATED % 3)
    log = evaluate(tmp_path, "place", wire_copies(12))
    sample = [e for _, e in log.iter_events(types=("AlertSuppressed",))]
    folds = [e for _, e in log.iter_events(types=("RepeatsFolded",))]
    assert len(sample) == FOLD_AFTER
    listed = [r for f in folds for r in unfolded_repeats(f)]
    assert [r.item_ids for r in sample + listed] == [(i.item_id,) for i in wire_copies(12)[1:]]
    assert [r.facets["source"] for r in listed] == [f"outlet-{n}" for n in range(4, 12)]
    assert all(r.entities == ("place:al-tanf",) for r in listed)
    (alert,) = [e for e in raised(log) if e.rule_id == "shelling"]
    assert all(r.folded_into == alert.alert_id for r in listed)


def test_a_restart_counts_the_folded_repeats_again(tmp_path) -> None:
    """Eight outlets corroborate: the correlation fires at the eighth copy whether or not
    the evaluator restarted after the sixth, when two copies were only in a fold."""
    (tmp_path / "corr.yaml").write_text(CORROBORATED % 8)
    items = wire_copies(10)
    one = evaluate(tmp_path, "place", items)
    two = MemoryLog()
    rules = load_rules(tmp_path)
    two.append_events(items[:6])
    AlertEvaluator(two, rules, clock=clock).run()
    assert [e.rule_id for e in raised(two)] == ["shelling"]
    assert [r for _, e in two.iter_events(types=("RepeatsFolded",)) for r in e.matches]
    two.append_events(items[6:])
    AlertEvaluator(two, rules, clock=clock).run()
    corroborated = [e for e in raised(one) if e.rule_id == "shelling-corroborated"]
    assert [e.event_time for e in corroborated] == [i.published for i in items[7:]]
    assert [e for e in raised(two) if e.rule_id == "shelling-corroborated"] == corroborated


def test_explain_finds_the_repeats_in_a_fold(tmp_path) -> None:
    """`alerts explain` on the correlation lists each of the eight copies it counted, with its
    item, the five folded ones too."""
    (tmp_path / "corr.yaml").write_text(CORROBORATED % 8)
    items = wire_copies(8)
    log = evaluate(tmp_path, "place", items)
    (alert,) = [e for e in raised(log) if e.rule_id == "shelling-corroborated"]
    explained = explain_correlation(log, alert)
    assert [c.rule_id for c in explained.contributors] == ["shelling"] * 8
    assert [c.items for c in explained.contributors] == [(i,) for i in items]
    assert [c.raised for c in explained.contributors] == [True] + [False] * 7


def test_backtests_count_every_repeat(tmp_path) -> None:
    """A backtest keeps each repeat (fold_after=None), so its counts are per match."""
    (tmp_path / "lexicons.yaml").write_text(LEXICON)
    (tmp_path / "rule.yaml").write_text(rule("place"))
    log = MemoryLog()
    log.append_events(wire_copies(12))
    report = backtest(log, load_rules(tmp_path), clock=clock)
    (row,) = [r for r in report.rules if r.rule_id == "shelling"]
    assert row.would_raise == 1 and row.would_suppress == 11


def test_replay_gives_the_same_alerts_and_repeats(tmp_path) -> None:
    items = ITEMS + wire_copies(15)
    first = evaluate(tmp_path, "[place, source]", items, page_size=5)
    again = evaluate(tmp_path, "[place, source]", items, page_size=5)
    assert raised(first) == raised(again)
    kinds = ("AlertSuppressed", "RepeatsFolded")
    assert [e for _, e in first.iter_events(types=kinds)] == [
        e for _, e in again.iter_events(types=kinds)
    ]


def test_repeat_counts_of_closed_alerts_are_dropped_and_sampling_stays_exact(
    tmp_path, monkeypatch
) -> None:
    """The evaluator counts each alert's stored repeats (the sample) only while repeats can
    still fold into it: after 20 bursts, 13 hours apart, it holds the counts of the open
    group, not of 20 alerts, and stores exactly what it stores when it keeps every count."""
    bursts = [
        news(10 * b + n, "Shelling near al-Tanf reported", source=f"o{n}", hours=13 * b + n / 12)
        for b in range(20)
        for n in range(5)
    ]
    monkeypatch.setattr("monitor.alerting._evaluator._SAMPLE_COUNTS_SLACK", 10**9)
    kept = evaluate(tmp_path, "place", bursts, page_size=7)  # bursts straddle pages
    monkeypatch.setattr("monitor.alerting._evaluator._SAMPLE_COUNTS_SLACK", 0)
    (tmp_path / "rule.yaml").write_text(rule("place"))
    log = MemoryLog()
    log.append_events(bursts)
    evaluator = AlertEvaluator(log, load_rules(tmp_path), clock=clock, page_size=7)
    evaluator.run()
    assert len(evaluator._sampled) <= 2  # the open group's alert (20 without dropping)
    assert len(raised(log)) == 20
    sampled = [e for _, e in log.iter_events(types=("AlertSuppressed",))]
    assert len(sampled) == 20 * 3  # three of each alert's four repeats, the fourth folded
    stored = [(r.type, r.data) for r in log.read(0) if r.type != "RulesetLoaded"]
    assert stored == [(r.type, r.data) for r in kept.read(0) if r.type != "RulesetLoaded"]

"""Alerts carry their story; a rule's throttle can fold the reprints of one story."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.alerting import AlertEvaluator
from monitor.errors import RuleSetError
from monitor.events import AlertRaised, AlertSuppressed
from monitor.log import MemoryLog
from monitor.projections import ProjectionRunner, Stories
from monitor.rules import load_rules

from .conftest import WIRE_PARAGRAPHS, WIRE_TITLE, item, other_events, wire_and_reprints

RULES = """\
id: convoy
title: Convoy movement
level: medium
detection:
  sel:
    text: [convoy, convoys]
  condition: sel
throttle: {window: 6h, by: story}
---
id: convoy-each
title: Convoy movement, every item
level: low
detection:
  sel:
    text: [convoy, convoys]
  condition: sel
"""

OTHER_CONVOY = (
    "Aid convoy reaches Raqqa hospital after talks",
    "A convoy of six United Nations lorries carrying surgical kits and vaccines reached the "
    "main hospital in Raqqa on Sunday after two days of negotiations with local commanders, "
    "an aid worker said. The lorries left Aleppo on Friday and were held at a bridge.",
)


def clock() -> datetime:
    return datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def rules(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return load_rules(path)


def ten_reprints() -> list:
    """The wire item and nine reprints by nine other outlets, one every half hour."""
    body = "\n\n".join(WIRE_PARAGRAPHS)
    out = [item(0, title=WIRE_TITLE, content=body, outlet="wire")]
    for n in range(1, 10):
        words = WIRE_TITLE.split()
        title = " ".join(words[n % 3 :] + words[: n % 3])
        content = f"By Correspondent {n}\n\n" + "\n\n".join(WIRE_PARAGRAPHS[: 5 - n % 2])
        out.append(item(n, title=title, content=content, outlet=f"outlet-{n}", hours=n / 2))
    return out


def alerts(log, rule: str | None = None) -> list:
    return [
        e
        for _, e in log.iter_events(types=("AlertRaised", "AlertSuppressed"))
        if rule is None or e.rule_id == rule
    ]


def folded_items(log) -> set[tuple[str, str]]:
    """(alert folded into, item) for every repeat folded into a `RepeatsFolded` record."""
    return {
        (e.folded_into, i) for _, e in log.iter_events(types=("RepeatsFolded",)) for i in e.item_ids
    }


def test_ten_reprints_raise_one_alert_and_nine_folded(rules):
    """Throttled by story, ten outlets' copies of one wire story are one alert + 9 folded."""
    log = MemoryLog()
    items = ten_reprints()
    other = item(50, title=OTHER_CONVOY[0], content=OTHER_CONVOY[1], outlet="aid", hours=1.2)
    log.append_events([*items[:3], other, *items[3:]])
    AlertEvaluator(log, rules, clock=clock).run()
    story = items[0].item_id
    by_story = [e for e in alerts(log, "convoy") if e.facets["story"] == story]
    raised = [e for e in by_story if isinstance(e, AlertRaised)]
    sampled = [e for e in by_story if isinstance(e, AlertSuppressed)]
    (rest,) = [e for _, e in log.iter_events(types=("RepeatsFolded",))]
    # the first three repeats are kept one by one, the other six counted in one record
    assert len(raised) == 1 and len(sampled) == 3 and len(rest.item_ids) == 6
    assert raised[0].annotations["story_outlets"] == "1"  # the count at alert time
    assert raised[0].annotations["reported_by"] == "reported by 1 outlet"
    assert {f.folded_into for f in [*sampled, rest]} == {raised[0].alert_id}
    assert len({f.facets["source"] for f in sampled} | set(rest.outlets)) == 9
    # another story in the same hours is not folded into it
    (alone,) = [e for e in alerts(log, "convoy") if e.facets["story"] == other.item_id]
    assert isinstance(alone, AlertRaised)
    # without `by: story` (and no place to group by) every item is its own alert
    assert all(isinstance(e, AlertRaised) for e in alerts(log, "convoy-each"))
    assert len(alerts(log, "convoy-each")) == 11
    # the stories projection agrees with the evaluator, and counts every outlet
    ProjectionRunner(log, [Stories()]).run()
    assert Stories.get(log, story)["outlets"] == sorted(i.source for i in items)
    for e in alerts(log):
        assert Stories.story_of(log, e.item_ids[0]) == e.facets["story"]


def test_alert_after_the_throttle_window_counts_outlets_so_far(rules):
    """A reprint after the throttle window raises again, saying how many outlets ran it."""
    log = MemoryLog()
    wire = wire_and_reprints()  # six outlets over 9 hours
    log.append_events(wire)
    AlertEvaluator(log, rules, clock=clock).run()
    raised = [e for e in alerts(log, "convoy") if isinstance(e, AlertRaised)]
    assert [e.annotations["story_outlets"] for e in raised] == ["1", "6"]
    assert {e.facets["story"] for e in raised} == {wire[0].item_id}


def test_replay_and_restart_give_the_same_story_ids_and_alerts(rules):
    """A fresh log, and an evaluator restarted half way, give byte-identical alerts."""
    other = item(50, title=OTHER_CONVOY[0], content=OTHER_CONVOY[1], outlet="aid", hours=1.2)
    items = [*ten_reprints(), other, *other_events(), *wire_and_reprints(hours=3, base=20)]
    log = MemoryLog()
    log.append_events(items)
    AlertEvaluator(log, rules, clock=clock, page_size=4).run()
    reference = [(type(e).__name__, e) for e in alerts(log)]

    fresh = MemoryLog()
    fresh.append_events(items)
    half = fresh.head() // 2
    AlertEvaluator(fresh, rules, clock=clock, page_size=3).run(until=half)
    AlertEvaluator(fresh, rules, clock=clock, page_size=5).run()  # a new process: rebuilds
    assert [(type(e).__name__, e) for e in alerts(fresh)] == reference
    # the folded repeats are split into records by page, but the same repeats are folded
    assert folded_items(fresh) == folded_items(log) != set()
    assert len({e.facets["story"] for _, e in reference}) == 2


def test_stories_projection_rebuild_equals_incremental():
    """Folded a page at a time or rebuilt in one go, the projection gives the same stories."""
    items = ten_reprints() + other_events() + wire_and_reprints(hours=40, base=20)
    items += wire_and_reprints(hours=100, base=30)  # past the window: a new story
    log = MemoryLog()
    runner = ProjectionRunner(log, [Stories()], page_size=2)
    for i in items:
        log.append_events([i])
        runner.run()
    incremental = {i.item_id: Stories.story_of(log, i.item_id) for i in items}
    runner.rebuild()
    assert {i.item_id: Stories.story_of(log, i.item_id) for i in items} == incremental
    assert incremental[items[-1].item_id] == items[-6].item_id
    assert len(set(incremental.values())) == 2 + len(other_events())
    # the working index forgot the items of the first days; the view keeps them
    keys = [k for k, _ in log.projection_scan("stories", "e:", limit=1000)]
    assert len(keys) == 6


def test_stories_off(rules):
    """stories=False: alerts carry no story facet or outlet count, and nothing is folded by
    story (each item is its own story)."""
    log = MemoryLog()
    log.append_events(wire_and_reprints()[:2])
    AlertEvaluator(log, rules, clock=clock, stories=False).run()
    assert len(alerts(log)) == 4
    assert all(isinstance(e, AlertRaised) for e in alerts(log))
    assert all("story" not in e.facets for e in alerts(log))
    assert all("story_outlets" not in e.annotations for e in alerts(log))


def test_stories_follow_the_rule_set_by_default(tmp_path, rules):
    """By default clustering runs only while the rule set uses stories: a pack without
    `by: story` pays nothing and its alerts carry no story; a reload to a pack that uses stories
    rebuilds the index from the log, so the next reprint joins the story begun before it."""
    plain = tmp_path / "plain.yaml"
    plain.write_text(RULES.split("---\n")[1])
    log = MemoryLog()
    reprints = ten_reprints()
    log.append_events(reprints[:3])
    evaluator = AlertEvaluator(log, load_rules(plain), clock=clock)
    evaluator.run()
    assert not evaluator.cluster_stories
    assert all("story" not in e.facets for e in alerts(log))
    evaluator.set_ruleset(rules)
    assert evaluator.cluster_stories
    log.append_events(reprints[3:5])
    evaluator.run()
    later = [
        e for e in alerts(log, "convoy") if set(e.item_ids) & {r.item_id for r in reprints[3:5]}
    ]
    assert later and all(e.facets["story"] == reprints[0].item_id for e in later)


@pytest.mark.parametrize(
    ("throttle", "message"),
    [
        ("{by: story}", "throttle needs a window"),
        ("{window: 6h, by: outlet}", "throttle by 'outlet' is not one of group, place"),
        ("{window: 6h, by: [none, place]}", "throttle by none groups nothing"),
        ("{window: 6h, by: [place, place]}", "names a key twice"),
        ("{window: 6h, per: story}", "throttle has no key 'per'"),
        ("{window: soon, by: story}", "window 'soon' is not a duration"),
    ],
)
def test_bad_throttle_is_refused_with_its_place(tmp_path, throttle, message):
    """A malformed throttle mapping is a rule error that says what to write."""
    rule = RULES.split("---")[0].replace("{window: 6h, by: story}", throttle)
    (tmp_path / "r.yaml").write_text(rule)
    with pytest.raises(RuleSetError) as err:
        load_rules(tmp_path)
    assert message in str(err.value)
    assert "r.yaml:8" in str(err.value)


class FailingAppend(MemoryLog):
    """A log whose next `fail` appends with a checkpoint raise, as a locked database would."""

    fail = 0

    def append_events(self, events, **kw):
        if kw.get("checkpoint") and self.fail > 0:
            self.fail -= 1
            raise OSError("database is locked")
        return super().append_events(events, **kw)


def test_reload_keeps_the_index_and_a_failed_append_rebuilds_it(rules):
    """A rule set reload reuses the story index; after a failed append it is rebuilt, and
    either way the alerts equal an uninterrupted run's."""
    items = [*ten_reprints(), *wire_and_reprints(hours=20, base=20)]
    reference = MemoryLog()
    reference.append_events(items)
    AlertEvaluator(reference, rules, clock=clock, page_size=4).run()

    log = FailingAppend()
    log.append_events(items)
    evaluator = AlertEvaluator(log, rules, clock=clock, page_size=4)
    evaluator.run(until=8)
    index = evaluator._stories
    evaluator.set_ruleset(rules)
    log.fail = 1
    with pytest.raises(OSError):
        evaluator.run(until=12)
    evaluator.run(until=12)  # rebuilt: the failed page's items were fed once, not twice
    assert evaluator._stories is not index
    index = evaluator._stories
    evaluator.set_ruleset(rules)
    evaluator.run()
    assert evaluator._stories is index  # a reload at the checkpoint keeps it
    assert alerts(log) == alerts(reference)

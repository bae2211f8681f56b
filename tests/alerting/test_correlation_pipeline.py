"""Correlations through the real evaluator: `generate: false`, chains over helper correlations
(the counter-example they got wrong), "3 items from 2 outlets" written directly, and replays."""

from __future__ import annotations

from monitor.alerting import AlertEvaluator
from monitor.events import AlertRaised, AlertSuppressed
from monitor.log import MemoryLog
from tests.alerting.helpers import T0, item
from tests.rules.builders import rules as load

STRIKE = """\
id: strike
title: A strike
level: low
{generate}detection:
  sel: {{title: [strike]}}
  condition: sel
"""

#: "At least 3 items from at least 2 distinct outlets about the same place within 6h", as an
#: analyst had to write it before: two helper correlations and a temporal one over them.
CHAIN = """\
id: three-items
title: helper, 3 items
generate: false
correlation: {type: event_count, rules: [strike], group-by: [place], timespan: 6h,
              condition: {gte: 3}}
---
id: two-outlets
title: helper, 2 outlets
generate: false
correlation: {type: value_count, rules: [strike], group-by: [place], timespan: 6h,
              condition: {field: source, gte: 2}}
---
id: chained
title: 3 items from 2 outlets (chained)
correlation: {type: temporal, rules: [three-items, two-outlets], group-by: [place],
              timespan: 6h}
"""

#: The same, written directly.
DIRECT = """\
id: direct
title: 3 items from 2 outlets
correlation:
  type: event_count
  rules: [strike]
  group-by: [place]
  timespan: 6h
  condition: {gte: 3}
  distinct: {field: source, gte: 2}
"""


def ruleset(tmp_path, *docs, generate=True):
    head = STRIKE.format(generate="" if generate else "generate: false\n")
    return load(tmp_path, "---\n".join([head, *docs]))


def items(*spec):
    """Items about Abu Kamal: (hours, source) each."""
    return [item(n, h, source=src) for n, (h, src) in enumerate(spec)]


def evaluate(rs, its, **kw):
    log = MemoryLog()
    log.append_events(its)
    AlertEvaluator(log, rs, clock=lambda: T0, **kw).run()
    return log


def raised(log, rule_id=None):
    return [
        e
        for _r, e in log.iter_events(types=("AlertRaised",))
        if isinstance(e, AlertRaised) and (rule_id is None or e.rule_id == rule_id)
    ]


#: A, A, A at 0-2h fire the 3-item helper (window 0-2h); B at 7.9h fires the 2-outlet helper
#: (window 2-7.9h). The helper alerts are 5.9h apart, but no 6h window holds 3 items from 2
#: outlets: [1.9h, 7.9h] has two items.
COUNTER = ((0, "a"), (1, "a"), (2, "a"), (7.9, "b"))
#: A, A, B within 2h: three items from two outlets.
POSITIVE = ((0, "a"), (1, "a"), (2, "b"))


def test_chain_over_helpers_does_not_fire_on_the_counter_example(tmp_path):
    """The chained rule counted each helper alert at its window end only, so it fired on
    COUNTER; a chained correlation now counts a helper alert only in a window that holds the
    helper's whole window, so it does not fire (nor does the direct rule)."""
    rs = ruleset(tmp_path, CHAIN, DIRECT)
    log = evaluate(rs, items(*COUNTER))
    assert raised(log, "chained") == [] and raised(log, "direct") == []


def test_chain_and_direct_rule_fire_on_three_items_from_two_outlets(tmp_path):
    """On POSITIVE both the chain and the direct rule fire, once, with the three items."""
    rs = ruleset(tmp_path, CHAIN, DIRECT)
    log = evaluate(rs, items(*POSITIVE))
    (direct,) = raised(log, "direct")
    assert len(direct.item_ids) == 3 and direct.group_key == "place:abu-kamal"
    assert len(raised(log, "chained")) == 1


def test_generate_false_helpers_raise_nothing_but_feed_the_chain(tmp_path):
    """Helpers with generate: false store their hits as unraised records (empty folded_into)
    and raise no alert; the detection rule still raises its own."""
    rs = ruleset(tmp_path, CHAIN)
    log = evaluate(rs, items(*POSITIVE))
    assert {a.rule_id for a in raised(log)} == {"strike", "chained"}
    silent = [e for _r, e in log.iter_events(types=("AlertSuppressed",))]
    assert {e.rule_id for e in silent} == {"three-items", "two-outlets"}
    assert all(isinstance(e, AlertSuppressed) and e.folded_into == "" for e in silent)


def test_generate_false_on_a_detection_rule_still_feeds_correlations(tmp_path):
    """A detection rule with generate: false raises nothing, yet the direct rule fires."""
    rs = ruleset(tmp_path, DIRECT, generate=False)
    log = evaluate(rs, items(*POSITIVE))
    assert [a.rule_id for a in raised(log)] == ["direct"]


LESS = """\
id: quiet
title: fewer than 3 items about a place in 6h
correlation:
  type: event_count
  rules: [strike]
  group-by: [place]
  timespan: 6h
  condition: {lt: 3}
"""


def test_lt_rule_fires_when_a_later_match_closes_the_window(tmp_path):
    """lt: 3 with lateness 0: two items at 0h and 1h; an item at 7h closes [0h, 6h] and the
    rule fires for it, its event time being the window end."""
    rs = ruleset(tmp_path, LESS)
    log = evaluate(rs, items((0, "a"), (1, "a"), (7, "a")), lateness=0)
    (alert,) = raised(log, "quiet")
    assert alert.window_start == T0 and (alert.window_end - T0).total_seconds() == 6 * 3600
    assert len(alert.item_ids) == 2


def test_replay_from_zero_gives_the_same_alerts(tmp_path):
    """Two evaluators over the same log from position 0 (and a restart half-way) decide
    exactly alike, upper-bounded windows and chains included."""
    rs = ruleset(tmp_path, CHAIN, DIRECT, LESS)
    its = items(*POSITIVE, (7, "c"), (7.5, "a"), (15, "b"), (15.2, "c"), (16, "a"), (30, "a"))

    def ids(out):
        return sorted((e.rule_id, e.alert_id) for _r, e in out.iter_events(types=("AlertRaised",)))

    log = MemoryLog()
    log.append_events(its)
    first, second, halves = MemoryLog(), MemoryLog(), MemoryLog()
    AlertEvaluator(log, rs, clock=lambda: T0, output=first, lateness=0).run()
    AlertEvaluator(log, rs, clock=lambda: T0, output=second, lateness=0).run()
    AlertEvaluator(log, rs, clock=lambda: T0, output=halves, lateness=0).run(until=4)
    AlertEvaluator(log, rs, clock=lambda: T0, output=halves, lateness=0).run()
    assert ids(first) == ids(second) == ids(halves)
    assert {"direct", "chained", "quiet"} <= {rule for rule, _id in ids(first)}

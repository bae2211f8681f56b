"""A throttled repeat of a correlation stores what it adds, not its whole window again.

A busy group (a place in the news all day) completes a window at every new match; with a
throttle, each of those is an `AlertSuppressed`. Listing the whole window in each one made a
day's repeats grow with the square of the matches. A repeat now lists the match that completed
the window again, unless another rule counts this correlation's alerts (then the whole window,
which a restart feeds back to that rule). Past the first few (the sample), repeats are counted
in the page's `RepeatsFolded`, as a detection rule's are.
"""

from __future__ import annotations

from monitor.alerting import AlertEvaluator
from monitor.alerting._evaluator import FOLD_AFTER
from monitor.events import AlertRaised, AlertSuppressed, RepeatsFolded, encode, revision_of
from monitor.log import MemoryLog
from monitor.projections import AlertTimeline, ProjectionRunner
from tests.alerting.helpers import STRIKE, T0, item
from tests.rules.builders import rules as load

BURST = """\
---
id: burst
title: Strikes keep coming
level: high
correlation: {type: event_count, rules: [strike], group-by: [place], timespan: 24h,
              condition: {gte: 2}}
throttle: 24h
"""

#: Another correlation counts `burst`'s alerts: its repeats must stay whole.
LISTENER = """\
---
id: burst-then-denial
title: Strikes, then a denial
level: high
correlation: {type: temporal_ordered, rules: [burst, denial], group-by: [place],
              timespan: 48h}
---
id: denial
title: A denial
level: low
detection:
  sel: {title: [denies]}
  condition: sel
"""

STRIKES = [item(n, n, f"Strike {n} near Abu Kamal") for n in range(1, 9)]


def _records(log, rule_id):
    return [
        e
        for _r, e in log.iter_events(types=("AlertRaised", "AlertSuppressed"))
        if e.rule_id == rule_id
    ]


def _evaluate(rs, items, **kw):
    log = MemoryLog()
    log.append_events(items)
    AlertEvaluator(log, rs, clock=lambda: T0, **kw).run()
    return log


def test_a_repeat_lists_the_match_that_completed_the_window(tmp_path):
    """Eight strikes an hour apart: the alert lists the first window (strikes 1-2); each of
    the six repeats lists only the strike that completed its window, and its entities."""
    log = _evaluate(load(tmp_path, STRIKE + BURST), STRIKES, fold_after=None)
    raised, *repeats = _records(log, "burst")
    assert isinstance(raised, AlertRaised)
    assert raised.item_ids == (STRIKES[0].item_id, STRIKES[1].item_id)
    assert all(isinstance(r, AlertSuppressed) for r in repeats)
    assert [r.item_ids for r in repeats] == [(s.item_id,) for s in STRIKES[2:]]
    assert all(r.folded_into == raised.alert_id for r in repeats)
    assert all(r.entities == ("place:abu-kamal",) for r in repeats)


def test_repeats_grow_linearly_with_the_matches(tmp_path):
    """The bytes stored per repeat do not grow with the window (they did: each repeat of the
    n-th strike listed n item ids)."""
    rs = load(tmp_path, STRIKE + BURST)
    many = [item(n, n / 4, f"Strike {n} near Abu Kamal") for n in range(1, 81)]
    sizes = [len(encode(r)) for r in _records(_evaluate(rs, many, fold_after=None), "burst")[1:]]
    assert len(sizes) == 78
    assert max(sizes) - min(sizes) <= 4  # only the ids' and times' own lengths vary


def test_repeats_past_the_sample_are_counted_in_one_record_per_page(tmp_path):
    """The first FOLD_AFTER repeats are stored one by one; the rest of the page's are one
    `RepeatsFolded` listing each completing strike and its position, and the alert's listing
    counts all six repeats."""
    log = _evaluate(load(tmp_path, STRIKE + BURST), STRIKES)
    raised, *sample = _records(log, "burst")
    assert [r.item_ids for r in sample] == [(s.item_id,) for s in STRIKES[2 : 2 + FOLD_AFTER]]
    (folded,) = [e for _r, e in log.iter_events(types=("RepeatsFolded",)) if e.rule_id == "burst"]
    assert isinstance(folded, RepeatsFolded) and folded.folded_into == raised.alert_id
    assert folded.item_ids == tuple(s.item_id for s in STRIKES[2 + FOLD_AFTER :])
    positions = {e.item_id: r.position for r, e in log.iter_events(types=("ItemReceived",))}
    assert folded.item_positions == tuple(positions[i] for i in folded.item_ids)
    ProjectionRunner(log, [AlertTimeline()]).run()
    listing = AlertTimeline.get(log, raised.alert_id)
    assert listing is not None and listing["suppressed"] == len(STRIKES) - 2


def test_a_correlation_another_rule_counts_keeps_whole_windows(tmp_path):
    """`burst-then-denial` counts `burst`'s alerts, so `burst`'s repeats list their windows
    (what a restart feeds back to it), and the chain still fires."""
    rs = load(tmp_path, STRIKE + BURST + LISTENER)
    denial = item(20, 10, "Coalition denies strikes near Abu Kamal")
    log = _evaluate(rs, [*STRIKES[:4], denial])
    repeats = _records(log, "burst")[1:]
    assert [len(r.item_ids) for r in repeats] == [3, 4]
    assert [type(e) for e in _records(log, "burst-then-denial")] == [AlertRaised]


def test_a_restart_between_repeats_stores_what_one_run_stores(tmp_path):
    """Throttle state rebuilt from slim repeats decides as the live state did: evaluating
    the strikes in two runs with a restart between stores the same records as one run."""
    rs = load(tmp_path, STRIKE + BURST)
    one = _evaluate(rs, STRIKES)
    two = MemoryLog()
    two.append_events(STRIKES[:5])
    AlertEvaluator(two, rs, clock=lambda: T0).run()
    two.append_events(STRIKES[5:])
    AlertEvaluator(two, rs, clock=lambda: T0).run()
    assert [encode(e) for e in _records(two, "burst")] == [
        encode(e) for e in _records(one, "burst")
    ]


def test_a_revision_supersedes_the_strike_not_the_correlation_repeat(tmp_path):
    """A slim repeat names one item, as a detection alert does; a revision of that item that
    no longer matches supersedes its strike alert only, live and after a restart."""
    rs = load(tmp_path, STRIKE + BURST)
    calm = revision_of(item(3, 3, "A calm day near Abu Kamal"), revision=1)
    for restart in (False, True):
        log = MemoryLog()
        log.append_events(STRIKES[:4])
        evaluator = AlertEvaluator(log, rs, clock=lambda: T0)
        evaluator.run()
        log.append_events([calm])
        if restart:
            evaluator = AlertEvaluator(log, rs, clock=lambda: T0)
        evaluator.run()
        gone = [e for _r, e in log.iter_events(types=("AlertSuperseded",))]
        assert [(e.rule_id, e.item_id) for e in gone] == [("strike", STRIKES[2].item_id)]

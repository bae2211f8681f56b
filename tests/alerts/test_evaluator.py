"""The alert evaluator: a log subscriber turning items into alerts, exactly once, replayable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.alerting import AlertEvaluator, detection_alert_id, run_correlation_tests
from monitor.events import (
    AlertRaised,
    EntitiesExtracted,
    RulesetLoaded,
    encode,
)
from monitor.log import MemoryLog, open_log
from monitor.projections import EntityMentions, ProjectionRunner
from monitor.rules import RuleSet
from tests.alerts.conftest import T0, timed

ALERT_TYPES = ("AlertRaised", "AlertSuppressed")


def events(log, types=ALERT_TYPES):
    """Decoded events of `types` in log order."""
    return [evt for _r, evt in log.iter_events(types=types)]


def alert_bytes(log):
    """The canonical bytes of every alert record, in order: what replay must reproduce."""
    return [encode(evt) for evt in events(log)]


STORY = [
    timed(1, 0, "Convoy rolls toward Abu Kamal crossing", source="wire-a"),
    timed(2, 1, "Heavy shelling reported near Deir ez-Zor"),
    timed(3, 2, "Shelling resumes near Deir ez-Zor", source="wire-b"),
    timed(4, 3, "Reinforcements arrive in al-Qaim", source="wire-a"),
    timed(5, 4, "Deir ez-Zor shelled again overnight"),
    timed(6, 20, "Coalition calls Abu Kamal buildup reports baseless", source="wire-c"),
    timed(7, 21, "Convoys enter al-Qaim district", source="wire-b"),
    timed(8, 22, "A quiet market day in Raqqa"),
    timed(9, 23, "Convoy seen near al-Qaim", source="wire-c"),
    timed(10, 30, "Deir ez-Zor shelling kills two", source="wire-d"),
]


@pytest.fixture
def log_with_story():
    """A memory log holding the ten STORY items."""
    log = MemoryLog()
    log.append_events(STORY)
    return log


def test_alert_raised_carries_match_provenance_and_event_time(ruleset, clock, log_with_story):
    """An AlertRaised has a deterministic id, the rule, evidence, place group, hash, event time."""
    report = AlertEvaluator(log_with_story, ruleset, clock=clock).run()
    assert report.items == 10
    assert report.alerts == [e for e in events(log_with_story) if isinstance(e, AlertRaised)]
    first = next(e for e in events(log_with_story) if e.item_ids == (STORY[0].item_id,))
    assert first.alert_id == detection_alert_id("movement", 1, STORY[0].item_id)
    assert first.rule_id == "movement" and first.level == "medium"
    assert first.group_key == "place:abu-kamal"
    assert first.event_time == STORY[0].published
    assert first.ruleset_hash == ruleset.hash
    assert first.evidence[0].text == "Convoy" and first.evidence[0].field == "title"
    assert first.annotations["summary"] == "Movement reported: " + STORY[0].title
    # The test pack uses no story: clustering is off, so there is no story facet.
    assert first.facets == {"source": "wire-a", "feed": "wire"}


def test_entities_extracted_for_items_with_places(ruleset, clock, log_with_story):
    """Every item naming a place is listed once in the page's EntitiesExtracted, matched by a
    rule or not; an item naming none is not listed."""
    AlertEvaluator(log_with_story, ruleset, clock=clock).run()
    extracted = events(log_with_story, ("EntitiesExtracted",))
    assert len(extracted) == 1 and isinstance(extracted[0], EntitiesExtracted)
    listed = [found.item_id for found in extracted[0].items]
    assert listed == [i.item_id for i in STORY if i.item_id != STORY[7].item_id]


def test_entities_are_one_record_per_page_and_a_second_split_changes_no_count(ruleset, clock):
    """Pages of three items give one EntitiesExtracted each (not one per item). A second
    evaluator that pages the log differently lists the items again in records of its own;
    the entity projection still counts each item once per entity."""
    log = MemoryLog()
    log.append_events(STORY)
    AlertEvaluator(log, ruleset, clock=clock, page_size=3).run()
    pages = events(log, ("EntitiesExtracted",))
    assert [len(p.items) for p in pages] == [3, 3, 2, 1]  # STORY[7] names no place
    listed = [found.item_id for p in pages for found in p.items]
    assert listed == [i.item_id for i in STORY if i.item_id != STORY[7].item_id]
    ProjectionRunner(log, [EntityMentions()]).run()
    counted = {t["entity"]: t["mentions"] for t in EntityMentions.top(log, limit=50)}
    AlertEvaluator(log, ruleset, clock=clock, page_size=4, name="twin").run()
    assert len(events(log, ("EntitiesExtracted",))) > len(pages)
    ProjectionRunner(log, [EntityMentions()]).run()
    assert {t["entity"]: t["mentions"] for t in EntityMentions.top(log, limit=50)} == counted
    assert counted == {
        "place:deir-ez-zor": 4,
        "place:al-qaim": 3,
        "place:abu-kamal": 2,
        "actor:coalition": 1,
    }


def test_ruleset_loaded_announced_once_per_hash(ruleset, clock, log_with_story):
    """RulesetLoaded is appended on first start, not again for the same hash, again on change."""
    AlertEvaluator(log_with_story, ruleset, clock=clock).run()
    AlertEvaluator(log_with_story, ruleset, clock=clock, name="second").run()
    loaded = events(log_with_story, ("RulesetLoaded",))
    assert len(loaded) == 1 and isinstance(loaded[0], RulesetLoaded)
    assert loaded[0].ruleset_hash == ruleset.hash
    assert {r.id for r in loaded[0].rules} >= {"movement", "movement-then-denial"}
    smaller = RuleSet(ruleset.rules[:1], (), ruleset.lexicons)
    evaluator = AlertEvaluator(log_with_story, ruleset, clock=clock)
    evaluator.set_ruleset(smaller, source="reload")
    evaluator.run()
    assert [e.ruleset_hash for e in events(log_with_story, ("RulesetLoaded",))] == [
        ruleset.hash,
        smaller.hash,
    ]


def test_checkpoint_resumes_and_second_evaluator_adds_no_duplicates(ruleset, clock):
    """A second run finds nothing new; a second evaluator over the same log stores nothing."""
    log = MemoryLog()
    log.append_events(STORY[:5])
    evaluator = AlertEvaluator(log, ruleset, clock=clock)
    evaluator.run()
    assert evaluator.run().items == 0
    log.append_events(STORY[5:])
    assert evaluator.run().items == 5
    before = alert_bytes(log)
    other = AlertEvaluator(log, ruleset, clock=clock, name="twin").run()
    assert other.items == 10 and other.duplicates > 0
    assert other.alerts == []  # everything it computed was stored already
    assert alert_bytes(log) == before


def test_throttle_folds_repeats_into_the_first_alert(ruleset, clock, log_with_story):
    """Shelling (6h throttle) about one place: the first is raised, repeats within 6h fold."""
    AlertEvaluator(log_with_story, ruleset, clock=clock).run()
    shelling = [e for e in events(log_with_story) if e.rule_id == "shelling"]
    assert [type(e).__name__ for e in shelling] == [
        "AlertRaised",
        "AlertSuppressed",
        "AlertSuppressed",
        "AlertRaised",
    ]
    assert shelling[1].folded_into == shelling[0].alert_id == shelling[2].folded_into
    assert shelling[1].entities == ("place:deir-ez-zor",)


def test_correlations_fire_with_window_items_and_throttle(ruleset, clock, log_with_story):
    """movement-then-denial, movement-corroborated and shelling-burst fire with their windows."""
    AlertEvaluator(log_with_story, ruleset, clock=clock).run()
    raised = {e.rule_id: e for e in events(log_with_story) if isinstance(e, AlertRaised)}
    mtd = raised["movement-then-denial"]
    assert mtd.group_key == "place:abu-kamal"
    assert mtd.item_ids == (STORY[0].item_id, STORY[5].item_id)
    assert mtd.window_start == T0 and mtd.window_end == T0 + timedelta(hours=20)
    assert mtd.labels["correlation"] == "temporal_ordered"
    assert mtd.annotations["summary"].startswith("Denial after movement near")
    corroborated = raised["movement-corroborated"]
    assert corroborated.group_key == "place:al-qaim"
    assert corroborated.item_ids == (STORY[3].item_id, STORY[6].item_id, STORY[8].item_id)
    burst = raised["shelling-burst"]
    assert burst.item_ids == tuple(STORY[i].item_id for i in (1, 2, 4))
    assert burst.event_time == T0 + timedelta(hours=4)


def test_replay_into_a_fresh_log_reproduces_the_same_alerts(ruleset, clock, log_with_story):
    """Evaluating the same items again into a fresh log gives byte-identical alert records."""
    AlertEvaluator(log_with_story, ruleset, clock=clock).run()
    fresh = MemoryLog()
    fresh.append_events([e for e in events(log_with_story, ("ItemReceived",))])
    clock.advance(days=30)  # the wall clock must not matter
    AlertEvaluator(fresh, ruleset, clock=clock, page_size=3).run()
    assert alert_bytes(fresh) == alert_bytes(log_with_story)
    assert len(alert_bytes(fresh)) > 10


@pytest.mark.parametrize("stop_after", [1, 4, 6, 8])
def test_state_rebuilt_from_the_log_after_restart(ruleset, clock, stop_after, tmp_path):
    """A new evaluator (SQLite log) resuming mid-story raises exactly what one run raises."""
    reference = MemoryLog()
    reference.append_events(STORY)
    AlertEvaluator(reference, ruleset, clock=clock).run()
    log = open_log(str(tmp_path / "m.db"))
    try:
        log.append_events(STORY)
        AlertEvaluator(log, ruleset, clock=clock, page_size=2).run(until=stop_after)
        AlertEvaluator(log, ruleset, clock=clock, page_size=2).run()
        assert alert_bytes(log) == alert_bytes(reference)
    finally:
        log.close()


class FailingLog(MemoryLog):
    """A memory log whose appends start failing after `ok` successful ones."""

    def __init__(self, ok: int) -> None:
        super().__init__()
        self.ok = ok

    def append(self, records, *, checkpoint=None):
        if checkpoint is not None:
            if self.ok <= 0:
                raise OSError("disk full")
            self.ok -= 1
        return super().append(records, checkpoint=checkpoint)


def test_failed_append_loses_nothing_and_raises_nothing_twice(ruleset, clock):
    """After a failed page append, the next run rebuilds state and the log equals one clean run."""
    reference = MemoryLog()
    reference.append_events(STORY)
    AlertEvaluator(reference, ruleset, clock=clock).run()
    log = FailingLog(ok=2)
    log.append_events(STORY)
    evaluator = AlertEvaluator(log, ruleset, clock=clock, page_size=3)
    with pytest.raises(OSError):
        evaluator.run()
    log.ok = 100
    evaluator.run()
    assert alert_bytes(log) == alert_bytes(reference)


def test_late_item_completes_a_correlation(ruleset, clock):
    """A denial published before items already evaluated still fires within the lateness."""
    log = MemoryLog()
    log.append_events(
        [
            timed(1, 0, "Convoy rolls toward Abu Kamal crossing"),
            timed(2, 50, "Convoy seen near Deir ez-Zor"),
        ]
    )
    evaluator = AlertEvaluator(log, ruleset, clock=clock)
    evaluator.run()
    log.append_events([timed(3, 10, "Officials denied the Abu Kamal reports")])  # 40h late
    report = evaluator.run()
    assert report.correlations == 1 and report.late == 0
    (hit,) = [e for e in events(log) if e.rule_id == "movement-then-denial"]
    assert hit.window_end == T0 + timedelta(hours=10)


def test_too_late_item_raises_its_alert_but_not_the_correlation(ruleset, clock):
    """Beyond the allowed lateness the detection alert is raised, the correlation ignores it."""
    log = MemoryLog()
    log.append_events(
        [timed(1, 0, "Convoy near Abu Kamal"), timed(2, 100, "Convoy seen near Deir ez-Zor")]
    )
    evaluator = AlertEvaluator(log, ruleset, clock=clock, lateness=3600)
    evaluator.run()
    log.append_events([timed(3, 10, "Officials denied the Abu Kamal reports")])
    report = evaluator.run()
    assert report.raised == 1 and report.correlations == 0 and report.late == 1


def test_run_correlation_tests_passes_and_reports_failures(ruleset):
    """The pack's correlation tests pass; a wrong expectation fails with a clear reason."""
    results = run_correlation_tests(ruleset)
    assert [r.outcome for r in results] == ["passed"] * 4
    corr = ruleset.correlation("movement-then-denial")
    wrong = corr.tests[0].__class__(
        name="wrong place", items=corr.tests[0].items, alerts=({"rule": corr.id, "place": "x"},)
    )
    broken = RuleSet(
        ruleset.rules, [type(corr)(**{**_fields(corr), "tests": (wrong,)})], ruleset.lexicons
    )
    (result,) = run_correlation_tests(broken)
    assert result.outcome == "failed"
    assert "expected alert not raised" in result.reason
    assert "unexpected alert raised" in result.reason


def _fields(obj):
    """attrs fields of `obj` as a dict (shallow)."""
    import attrs

    return {f.name: getattr(obj, f.name) for f in attrs.fields(type(obj))}


def test_rules_test_runs_correlation_tests(ruleset):
    """monitor.alerting.run_tests runs correlation tests too: they are run, not 'not run'."""
    from monitor.alerting import run_tests

    report = run_tests(ruleset)
    assert report.not_run == 0 and report.passed >= 4 and report.ok


def test_run_forever_follows_new_items_until_stopped(ruleset, clock):
    """run_forever evaluates items appended while it runs, and returns when stopped."""
    import threading
    import time

    log = MemoryLog()
    evaluator = AlertEvaluator(log, ruleset, clock=clock)
    stop = threading.Event()
    thread = threading.Thread(
        target=evaluator.run_forever, args=(stop,), kwargs={"poll_interval": 0.05}
    )
    thread.start()
    try:
        log.append_events(STORY[:2])
        deadline = time.monotonic() + 10
        while log.get_checkpoint("rules") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert {e.rule_id for e in events(log)} == {"movement", "shelling"}


@pytest.mark.parametrize("behind_at", [2, 5])
def test_restart_behind_another_evaluator_ignores_its_future_alerts(ruleset, clock, behind_at):
    """An evaluator resuming behind alerts another one already stored for later items
    decides as if alone: it adds no record (the shelling throttle would differ otherwise)."""
    reference = MemoryLog()
    reference.append_events(STORY)
    AlertEvaluator(reference, ruleset, clock=clock).run()
    log = MemoryLog()
    log.append_events(STORY)
    AlertEvaluator(log, ruleset, clock=clock).run()
    log.set_checkpoint("rules", behind_at)  # as if it read the checkpoint before the other's commit
    report = AlertEvaluator(log, ruleset, clock=clock).run()
    assert report.items == len(STORY) - behind_at and report.alerts == []
    assert alert_bytes(log) == alert_bytes(reference)


class FlakyReads(MemoryLog):
    """A memory log whose first `fail` item reads raise, as a locked database would."""

    def __init__(self, fail: int) -> None:
        super().__init__()
        self.fail = fail

    def read_page(self, after, limit, types=None):
        if "ItemReceived" in (types or ()) and self.fail > 0:
            self.fail -= 1
            raise OSError("database is locked")
        return super().read_page(after, limit, types)


def test_run_forever_survives_failing_reads(ruleset, clock):
    """A failing read is logged and retried; the evaluator then catches up."""
    import threading
    import time

    log = FlakyReads(fail=2)
    log.append_events(STORY[:3])
    evaluator = AlertEvaluator(log, ruleset, clock=clock)
    stop = threading.Event()
    thread = threading.Thread(
        target=evaluator.run_forever, args=(stop,), kwargs={"poll_interval": 0.01}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while log.get_checkpoint("rules") < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
    assert log.fail == 0 and log.get_checkpoint("rules") == 3
    assert len([e for e in events(log) if e.rule_id == "shelling"]) == 2


@pytest.mark.parametrize("stop_at", [3, 6])
def test_a_correlation_over_a_correlation_fires_and_replays(ruleset, clock, stop_at):
    """A correlation listening to another correlation's alerts fires on it, and a restart
    resumes it from the log like any other."""
    from monitor.rules import CorrelationRule

    chained = CorrelationRule(
        id="denial-chain", title="Any movement-then-denial", level="critical",
        type="event_count", rules=("movement-then-denial",), timespan=7 * 24 * 3600,
        condition={"gte": 1},
    )  # fmt: skip
    rules = RuleSet(ruleset.rules, (*ruleset.correlations, chained), ruleset.lexicons)
    one_run = MemoryLog()
    one_run.append_events(STORY)
    AlertEvaluator(one_run, rules, clock=clock).run()
    (hit,) = [e for e in events(one_run) if e.rule_id == "denial-chain"]
    (source,) = [e for e in events(one_run) if e.rule_id == "movement-then-denial"]
    assert hit.item_ids == source.item_ids and hit.level == "critical"
    restarted = MemoryLog()
    restarted.append_events(STORY)
    AlertEvaluator(restarted, rules, clock=clock).run(until=stop_at)
    AlertEvaluator(restarted, rules, clock=clock).run()
    assert alert_bytes(restarted) == alert_bytes(one_run)

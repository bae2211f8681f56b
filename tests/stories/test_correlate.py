"""Correlations can count distinct stories: ten reprints are one story, not ten reports."""

from __future__ import annotations

from monitor.alerting import AlertEvaluator
from monitor.events import AlertRaised
from monitor.log import MemoryLog
from monitor.rules import load_rules

from .conftest import item
from .test_alerts import OTHER_CONVOY, RULES, alerts, clock, ten_reprints

CORRELATION = """\
---
id: convoys-two-stories
title: Two different convoy stories within a day
level: high
correlation:
  type: value_count
  rules: [convoy-each]
  timespan: 24h
  condition: {gte: 2, field: story}
throttle: 24h
"""


def test_value_count_of_stories_ignores_reprints(tmp_path):
    """Ten outlets running one wire story are one story: no fire; a second story fires."""
    (tmp_path / "rules.yaml").write_text(RULES + CORRELATION)
    rules = load_rules(tmp_path)
    log = MemoryLog()
    log.append_events(ten_reprints())
    AlertEvaluator(log, rules, clock=clock).run()
    assert alerts(log, "convoys-two-stories") == []
    other = item(50, title=OTHER_CONVOY[0], content=OTHER_CONVOY[1], outlet="aid", hours=6)
    log.append_events([other])
    AlertEvaluator(log, rules, clock=clock).run()
    (fired,) = alerts(log, "convoys-two-stories")
    assert isinstance(fired, AlertRaised)
    assert other.item_id in fired.item_ids


def test_group_by_story(tmp_path):
    """group-by: [story] keeps one group per story."""
    text = CORRELATION.replace("condition: {gte: 2, field: story}", "condition: {gte: 3}")
    text = text.replace("value_count", "event_count").replace(
        "timespan:", "group-by: [story]\n  timespan:"
    )
    (tmp_path / "rules.yaml").write_text(RULES + text)
    rules = load_rules(tmp_path)
    log = MemoryLog()
    reprints = ten_reprints()
    log.append_events(reprints)
    AlertEvaluator(log, rules, clock=clock).run()
    fired = [e for e in alerts(log, "convoys-two-stories") if isinstance(e, AlertRaised)]
    assert [e.group_key for e in fired] == [reprints[0].item_id]

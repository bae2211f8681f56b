"""Builders for the aggregation rule tests: rule models, contributions, a timed pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.alerting import AlertEvaluator, Contribution
from monitor.events import AlertRaised, ItemReceived
from monitor.log import MemoryLog
from monitor.rules import AggregationRule, RuleSet
from tests.conftest import make_item
from tests.rules.builders import rules as load

T0 = datetime(2026, 3, 1, tzinfo=UTC)
H = 3600

#: A detection rule every pipeline test aggregates: "strike" anywhere in the title.
STRIKE = """\
id: strike
title: A strike
level: low
detection:
  sel: {title: [strike]}
  condition: sel
tests: {match: [{title: Strike}], no_match: [{title: calm}]}
"""


def agg(type_: str, *, timespan=H, group_by=("place",), rules=("r",), **params) -> AggregationRule:
    """An aggregation rule model built directly (no YAML)."""
    return AggregationRule(
        id=f"a-{type_}",
        title=type_,
        level="high",
        type=type_,
        rules=tuple(rules),
        timespan=timespan,
        group_by=tuple(group_by),
        **params,
    )


def c(hours: float, n: int, *, rule="r", places=("place:x",), source="s", feed="f"):
    """A contribution of `rule` at T0 + hours about `places` from `source`."""
    return Contribution(
        rule,
        T0 + timedelta(hours=hours),
        f"a{n}",
        (f"i{n}",),
        tuple(places),
        {"source": source, "feed": feed},
    )


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def ruleset(folder: Path, aggregation_yaml: str) -> RuleSet:
    """The strike rule plus `aggregation_yaml`, with the test lexicons."""
    return load(folder, STRIKE + "---\n" + aggregation_yaml)


def item(n: int, hours: float, title: str = "Strike near Abu Kamal", **kw) -> ItemReceived:
    """Item `n` published T0 + hours (received a minute later)."""
    published = at(hours)
    kw.setdefault("received", published + timedelta(minutes=1))
    return make_item(n, title=title, published=published, **kw)


def run(rs: RuleSet, items: list[ItemReceived], *, log: MemoryLog | None = None, **kw):
    """Evaluate `items` in a fresh (or given) log; return (log, the aggregation alerts)."""
    log = log if log is not None else MemoryLog()
    log.append_events(items)
    AlertEvaluator(log, rs, clock=lambda: T0, **kw).run()
    return log, aggregation_alerts(log, rs)


def aggregation_alerts(log: MemoryLog, rs: RuleSet) -> list[AlertRaised]:
    ids = {c.id for c in rs.correlations}
    return [
        e
        for _r, e in log.iter_events(types=("AlertRaised",))
        if isinstance(e, AlertRaised) and e.rule_id in ids
    ]


def aggregation_yaml(type_: str, body: str, *, timespan: str | None = "6h") -> str:
    """A detection rule ``strike`` and an aggregation rule of `type_` over it whose body ends
    with `body` (after ``timespan``, when given, on line 12; `body` starts on line 13): what
    the loader-error tests give the loader."""
    span = f"  timespan: {timespan}\n" if timespan is not None else ""
    return (
        "id: strike\ntitle: A strike\ndetection:\n  sel: {title: [strike]}\n  condition: sel\n"
        f"---\nid: agg\ntitle: Aggregation\ncorrelation:\n  type: {type_}\n  rules: [strike]\n"
        f"{span}  {body}\n"
    )

"""Property: the correlator fires exactly when a brute-force reference says it must, for random
out-of-order streams (late items, expiry and every correlation type included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerting import Contribution, Correlator
from monitor.rules._model import CorrelationRule

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _rule(kind: str, span_h: int) -> CorrelationRule:
    return CorrelationRule(
        id=kind, title=kind, level="high", type=kind,
        rules=("a",) if kind in ("event_count", "value_count") else ("a", "b"),
        timespan=span_h * 3600, group_by=("place",),
        condition={"gte": 3, "field": "source"} if kind == "value_count" else {"gte": 3},
    )  # fmt: skip


def _holds(rule: CorrelationRule, window: list[tuple]) -> bool:
    if rule.type == "event_count":
        return len(window) >= 3
    if rule.type == "value_count":
        return len({e[3] for e in window}) >= 3
    return {"a", "b"} <= {e[2] for e in window}


def reference_fires(rule: CorrelationRule, accepted: list[tuple], new: tuple) -> bool:
    """Brute force over every window / chain of the entries accepted so far (no expiry)."""
    span = rule.timespan
    entries = sorted(accepted, key=lambda e: (e[0], e[1]))
    if rule.type == "temporal_ordered":
        return any(
            new in chain
            and [e[2] for e in chain] == list(rule.rules)
            and chain[-1][0] - chain[0][0] <= span
            for chain in combinations(entries, len(rule.rules))
        )
    t = new[0]
    for start in entries:
        s = start[0]
        if t - span <= s <= t:
            window = [e for e in entries if s <= e[0] <= s + span]
            if new in window and _holds(rule, window):
                return True
    return False


events = st.lists(
    st.tuples(
        st.integers(0, 120),  # event time, hours
        st.sampled_from(["a", "b"]),
        st.sampled_from(["place:x", "place:y"]),
        st.sampled_from(["s1", "s2", "s3"]),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["event_count", "value_count", "temporal", "temporal_ordered"]),
    span_h=st.integers(1, 40),
    lateness_h=st.sampled_from([None, 0, 5, 30]),
    stream=events,
)
def test_correlator_agrees_with_brute_force(kind, span_h, lateness_h, stream):
    """For every fed match: fired (per group) == the brute-force reference's verdict."""
    rule = _rule(kind, span_h)
    lateness = None if lateness_h is None else lateness_h * 3600
    allowed = rule.timespan if lateness is None else lateness
    engine = Correlator([rule], lateness=lateness)
    accepted: dict[str, list[tuple]] = {}
    watermark = float("-inf")
    for seq, (hours, rule_id, place, source) in enumerate(stream):
        ts = (T0 + timedelta(hours=hours)).timestamp()
        contribution = Contribution(
            rule_id,
            T0 + timedelta(hours=hours),
            f"al{seq}",
            (f"it{seq}",),
            (place,),
            {"source": source},
        )
        hits = engine.feed(contribution)
        if rule_id not in rule.rules:
            assert hits == []
            continue
        if ts < watermark - allowed:  # too late: the reference ignores it as well
            assert hits == []
            continue
        watermark = max(watermark, ts)
        entry = (ts, seq, rule_id, source)
        accepted.setdefault(place, []).append(entry)
        expected = reference_fires(rule, accepted[place], entry)
        assert bool(hits) == expected, (kind, span_h, lateness_h, stream[: seq + 1])
        for hit in hits:
            assert hit.group == place
            assert f"it{seq}" in hit.item_ids
            assert (hit.window_end - hit.window_start).total_seconds() <= rule.timespan

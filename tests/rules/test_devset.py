"""Score the default rule pack against the labelled dev set: precision and recall per rule.

The dev set (``tests/rules/devset/items.jsonl``) is a set of wire-style items written by hand
from the rule definitions, each labelled with the detection rules that MUST match it; every
other default rule must not. Hard negatives (trigger words in another sense, places named
without an event, events elsewhere) are most of it. The test fails when precision or recall of
any rule is below 0.9, and prints the score table (visible with ``-s`` and in the failure).

Run it as a script (``python tests/rules/test_devset.py``) to list every miss and false alarm.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from monitor.rules import RuleSet, load_rules, normalize

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "rules"
DEVSET = Path(__file__).resolve().parent / "devset" / "items.jsonl"
THRESHOLD = 0.9
ITEM_KEYS = ("title", "summary", "content", "source")


@attrs.frozen
class Score:
    """One rule's confusion counts on the dev set, with the ids of the items it got wrong."""

    rule_id: str
    tp: int
    fp: int
    fn: int
    false_alarms: tuple[str, ...]
    misses: tuple[str, ...]

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load_devset(path: Path = DEVSET) -> list[dict[str, Any]]:
    """Return the dev-set items; each has an id, labels and some text fields."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            item = json.loads(line)
            assert "id" in item and isinstance(item.get("labels"), list), f"{path}:{number}"
            items.append(item)
    return items


def score(ruleset: RuleSet, items: list[dict[str, Any]]) -> list[Score]:
    """Match every item and count, per detection rule, hits, false alarms and misses."""
    fired = {
        item["id"]: {m.rule_id for m in ruleset.match({k: item[k] for k in ITEM_KEYS if k in item})}
        for item in items
    }
    scores = []
    for rule in ruleset.rules:
        tp = fp = fn = 0
        false_alarms, misses = [], []
        for item in items:
            want, got = rule.id in item["labels"], rule.id in fired[item["id"]]
            if want and got:
                tp += 1
            elif got:
                fp += 1
                false_alarms.append(item["id"])
            elif want:
                fn += 1
                misses.append(item["id"])
        scores.append(Score(rule.id, tp, fp, fn, tuple(false_alarms), tuple(misses)))
    return scores


def table(scores: list[Score]) -> str:
    """Render the scores as a fixed-width table, with the wrong item ids per rule."""
    lines = [f"{'rule':<28} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>10} {'recall':>7}"]
    for s in scores:
        lines.append(
            f"{s.rule_id:<28} {s.tp:>4} {s.fp:>4} {s.fn:>4} {s.precision:>10.3f} {s.recall:>7.3f}"
        )
        if s.false_alarms:
            lines.append(f"    false alarms: {', '.join(s.false_alarms)}")
        if s.misses:
            lines.append(f"    misses:       {', '.join(s.misses)}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def default_pack() -> RuleSet:
    return load_rules(RULES_DIR)


def test_devset_is_large_and_labelled_with_known_rules(default_pack: RuleSet) -> None:
    """The dev set has at least 150 items, unique ids, and only labels naming default rules."""
    items = load_devset()
    ids = [item["id"] for item in items]
    known = {rule.id for rule in default_pack.rules}
    assert len(items) >= 150
    assert len(set(ids)) == len(ids)
    unknown = {label for item in items for label in item["labels"]} - known
    assert not unknown, f"labels that name no rule of the default pack: {sorted(unknown)}"
    for rule_id in sorted(known):
        positives = sum(rule_id in item["labels"] for item in items)
        assert positives >= 10, f"{rule_id} has only {positives} positive dev items"
    assert sum(not item["labels"] for item in items) >= 60, "too few items no rule may match"


def test_devset_shares_no_text_with_the_rules_own_tests(default_pack: RuleSet) -> None:
    """No dev-set title or summary is also one of a rule's embedded test texts, so the dev set
    measures something the rule tests do not already guarantee."""
    dev_texts = {
        normalize(item[key])
        for item in load_devset()
        for key in ("title", "summary")
        if key in item
    }
    shared = [
        (rule.id, case.item[key])
        for rule in default_pack.rules
        for case in rule.tests
        for key in ("title", "summary", "content")
        if case.item.get(key) and normalize(str(case.item[key])) in dev_texts
    ]
    assert not shared, f"texts both in the dev set and in rule tests: {shared}"


def test_every_rule_reaches_precision_and_recall_threshold(default_pack: RuleSet) -> None:
    """Every detection rule of the default pack scores precision and recall >= 0.9."""
    scores = score(default_pack, load_devset())
    report = table(scores)
    print("\n" + report)
    weak = [s.rule_id for s in scores if s.precision < THRESHOLD or s.recall < THRESHOLD]
    assert not weak, f"below {THRESHOLD} on the dev set: {weak}\n{report}"


if __name__ == "__main__":  # pragma: no cover - a helper for people tuning rules
    by_id = {item["id"]: item for item in load_devset()}
    results = score(load_rules(RULES_DIR), list(by_id.values()))
    print(table(results))
    for s in results:
        for kind, ids in (("FALSE ALARM", s.false_alarms), ("MISS", s.misses)):
            for item_id in ids:
                item = by_id[item_id]
                print(f"\n[{s.rule_id}] {kind} {item_id}: {item['title']}\n    {item['summary']}")

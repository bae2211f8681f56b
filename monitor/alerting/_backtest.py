"""Backtests: what would a rule set have raised over the stored history? Nothing is appended.

The real `AlertEvaluator` runs over the stored `ItemReceived` records with its output, state
and checkpoint in a `ScratchOutput` (events kept as objects), so throttles and correlations
behave exactly as they would live. The result is compared, per rule, with the alerts the
active rules actually raised for the same items (by rule id and item ids): `new` alerts the
tested set adds, `gone` ones it would no longer raise.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from ..events import AlertRaised, AlertSuppressed, Event, ItemReceived, event_time
from ..log import EventLog, Record
from ..rules import RuleSet, RuleSources, load_rules, resolve_sources
from ._evaluator import AlertEvaluator
from ._scan_plan import ScanPlan, Visit, every_item_read, match_ranges, revised_items
from ._scratch import ScratchOutput
from ._spill import SpillKeys

__all__ = ["BacktestReport", "RuleBacktest", "backtest", "backtest_rules"]

_EXAMPLES = 3


@attrs.define
class RuleBacktest:
    """One rule's figures: alerts it would raise (and suppress), alerts the active rules
    raised under its id, and the difference, with a few example alerts."""

    rule_id: str
    would_raise: int = 0
    would_suppress: int = 0
    active: int = 0
    new: int = 0
    gone: int = 0
    examples: list[dict[str, Any]] = attrs.field(factory=list)


@attrs.define
class BacktestReport:
    """The whole backtest: items evaluated, the tested rule set's hash, per-rule figures."""

    items: int
    ruleset_hash: str
    rules: list[RuleBacktest]
    #: Item records left unread because the search index showed no tested rule can match them.
    prefiltered: int = 0
    #: How the history was read: "full scan", "prefiltered by the search index", or why the
    #: prefilter could not be used.
    scan: str = "full scan"
    jobs: int = 1

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready form (for ``monitor backtest --json``)."""
        return attrs.asdict(self)


def _key(alert: AlertRaised) -> str:
    """The comparison key of an alert: its rule and its items (what makes two alerts, one
    stored and one a backtest's, the same alert), as one string for `SpillKeys`."""
    return alert.rule_id + "\x1f" + "\x1e".join(alert.item_ids)


def _rule_of(key: str) -> str:
    return key.partition("\x1f")[0]


class _Tally:
    """The tested rules' figures, counted from the evaluator's alerts as they are appended."""

    def __init__(self, compare: Collection[str] | None) -> None:
        self.compare = compare
        self.per_rule: dict[str, RuleBacktest] = {}
        #: the keys of the alerts the tested set would raise (on disk: one per alert)
        self.tested = SpillKeys()

    def entry(self, rule_id: str) -> RuleBacktest:
        return self.per_rule.setdefault(rule_id, RuleBacktest(rule_id))

    def reported(self, rule_id: str) -> bool:
        return self.compare is None or rule_id in self.compare

    def add(self, evt: Event) -> None:
        if not isinstance(evt, AlertRaised | AlertSuppressed) or not self.reported(evt.rule_id):
            return
        row = self.entry(evt.rule_id)
        if isinstance(evt, AlertSuppressed):
            if evt.folded_into:  # empty: a `generate: false` match, which raises nothing
                row.would_suppress += 1
            return
        row.would_raise += 1
        self.tested.add(_key(evt))
        if len(row.examples) < _EXAMPLES:
            row.examples.append(
                {
                    "alert_id": evt.alert_id,
                    "event_time": evt.event_time.isoformat(),
                    "group": evt.group_key,
                    "item_ids": list(evt.item_ids),
                    "title": "",
                    "summary": evt.annotations.get("summary", ""),
                    "evidence": [e.text for e in evt.evidence[:5]],
                }
            )


def backtest(
    log: EventLog,
    ruleset: Any,
    *,
    clock: Callable[[], datetime],
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    step: int = 5000,
    compare: Collection[str] | None = None,
    jobs: int = 1,
    candidates: Collection[str] | None = None,
    visit: Visit | None = None,
) -> BacktestReport:
    """Evaluate `ruleset` over the items of `log` whose event time is in [since, until].

    `compare` names the rules to report and compare with what the log raised (the rules a
    change touched: ``monitor backtest --add`` / ``--only``); the others are evaluated (they
    feed correlations and share nothing else) but get no row, and their stored alerts are not
    counted as gone. None reports every rule of the set and every rule the log raised alerts
    for (``--replace``: a rule the set lacks shows all its alerts as gone).

    `progress(done, total)` is called with log positions as the evaluation advances. Memory
    does not grow with the history: alerts are counted as they are raised, and what must be
    remembered for the whole history (dedupe keys, which rules matched which item, the keys
    compared with the stored alerts) is kept on temporary databases (`SpillKeys`).

    `candidates` (item ids from the search index, see `monitor.search.items_with_any` and
    `RuleSet.presearch_phrases`) lets every other item record go unread, when that is exact
    (see `_scan_plan`), and `visit` (the positions of those records, when the index can list
    them) lets the backtest read only those, jumping from one to the next; `jobs` > 1
    matches position ranges in that many worker processes (an SQLite or PostgreSQL log; not
    with `visit`, whose few records one process reads faster). Either way the result is that
    of the sequential full scan.
    """

    def wanted(item: ItemReceived) -> bool:
        when = event_time(item)
        return (since is None or when >= since) and (until is None or when <= until)

    head = log.head()
    plan = ScanPlan()
    scan = "full scan"
    reason = every_item_read(ruleset)
    if candidates is not None:
        if reason is None:
            plan.candidates = set(candidates) | revised_items(log, head)
            scan = "prefiltered by the search index"
        else:
            scan = f"full scan ({reason})"
    jumping = visit is not None and plan.candidates is not None
    if jumping:
        jobs = 1  # the few records to read: one process jumps to each faster than workers scan
    plan.skip_unmatched = jobs > 1 and reason is None
    tally = _Tally(compare)
    for rule in (*getattr(ruleset, "rules", ()), *getattr(ruleset, "correlations", ())):
        if tally.reported(rule.id):
            tally.entry(rule.id)  # every tested rule gets a row, also when it raises nothing
    # Alerts are counted as the evaluator appends them and not kept: memory follows the raised
    # alerts (their comparison keys), not every match of the history.
    scratch = ScratchOutput(tally=tally.add)
    evaluator = AlertEvaluator(
        log,
        ruleset,
        clock=clock,
        name="backtest",
        output=scratch,
        where=wanted,
        entities=False,
        fold_after=None,  # every repeat as its own AlertSuppressed: counted and compared
        skip=plan.skip if (plan.candidates is not None or plan.skip_unmatched) else None,
        matcher=plan.matches if jobs > 1 else None,
        keep_alerts=False,  # counted by the tally as they are appended
    )
    items = 0
    if jumping:
        assert visit is not None
        wanted = [p for p in visit.positions if p <= head]

        def listed_pages(after: int, limit: int) -> list[Record]:
            """The next `limit` listed records after `after`, each read where it is."""
            start = bisect_right(wanted, after)
            page = log.read_positions(wanted[start : start + limit])
            if progress is not None and page:
                progress(page[-1].position, head)
            return page

        evaluator.pages = listed_pages
        items += evaluator.run().items
        plan.prefiltered = max(0, visit.item_records - len(wanted))
    elif jobs > 1:
        ranges = match_ranges(
            log,
            ruleset,
            jobs=jobs,
            head=head,
            step=step,
            since=since,
            until=until,
            candidates=plan.candidates,
        )
        if plan.skip_unmatched:
            # Only the records the workers matched (and revisions) reach the evaluator: read
            # just those, a page at a time, instead of every row of the range.
            def matched_pages(after: int, limit: int) -> list[Any]:
                listed = sorted(p for p in plan.matched if p > after)[:limit]
                return [plan.records[p] for p in listed]  # as the workers read them

            evaluator.pages = matched_pages
        for end, matched, unmatched, prefiltered in ranges:
            for position, (matches, record) in matched.items():
                plan.matched[position] = matches
                plan.records[position] = record
            items += evaluator.run(until=end).items
            if plan.skip_unmatched:  # the workers read what this process did not
                items += unmatched
                plan.prefiltered += prefiltered
            plan.matched.clear()  # every one was consumed; the rest were outside the window
            plan.records.clear()
            if progress is not None:
                progress(end, head)
    else:
        position = 0
        while position < head:
            position = min(head, position + step)
            items += evaluator.run(until=position).items
            if progress is not None:
                progress(position, head)

    evaluator.close()
    scratch.close()
    try:
        _compare(log, tally, head, since, until)
    finally:
        tally.tested.close()
    per_rule = tally.per_rule
    _add_titles(log, [ex for row in per_rule.values() for ex in row.examples], head)
    rows = sorted(per_rule.values(), key=lambda r: (-r.would_raise, r.rule_id))
    return BacktestReport(
        items=items,
        ruleset_hash=ruleset.hash,
        rules=rows,
        prefiltered=plan.prefiltered,
        scan=scan,
        jobs=jobs,
    )


def _compare(
    log: EventLog, tally: _Tally, head: int, since: datetime | None, until: datetime | None
) -> None:
    """Count, per rule, the alerts the log holds for the window (`active`), those the tested
    set would no longer raise (`gone`) and those it adds (`new`). Both sides are key sets on
    disk compared by a sorted merge, so a year of alerts is never held in memory."""
    active = SpillKeys()
    try:
        batch: list[str] = []
        for record in log.read_key_prefix("alert:", ("AlertRaised",), until=head):
            evt = record.event()
            assert isinstance(evt, AlertRaised)
            if not tally.reported(evt.rule_id):
                continue
            if (since is None or evt.event_time >= since) and (
                until is None or evt.event_time <= until
            ):
                batch.append(_key(evt))
            if len(batch) >= 1000:
                _count_active(tally, active, batch)
                batch = []
        _count_active(tally, active, batch)
        for key in active.missing_from(tally.tested):
            tally.entry(_rule_of(key)).gone += 1
        for key in tally.tested.missing_from(active):
            tally.entry(_rule_of(key)).new += 1
    finally:
        active.close()


def _count_active(tally: _Tally, active: SpillKeys, keys: Iterable[str]) -> None:
    keys = list(keys)
    for key, new in zip(keys, active.add_new(keys), strict=True):
        if new:  # the same rule and items stored twice count once
            tally.entry(_rule_of(key)).active += 1


def _add_titles(log: EventLog, examples: list[dict[str, Any]], head: int) -> None:
    """Fill each example's ``title`` with its first item's title: one pass over the items,
    stopping as soon as every wanted item was seen."""
    wanted = {f"item:{ex['item_ids'][0]}": [] for ex in examples if ex["item_ids"]}
    for ex in examples:
        if ex["item_ids"]:
            wanted[f"item:{ex['item_ids'][0]}"].append(ex)
    if not wanted:
        return
    for record in log.read(types=("ItemReceived",), until=head):
        waiting = wanted.pop(record.dedupe_key or "", None)
        if waiting is None:
            continue
        item = record.event()
        for ex in waiting:
            ex["title"] = getattr(item, "title", "")
        if not wanted:
            return


def backtest_rules(
    active: RuleSources,
    *,
    add: RuleSources = (),
    only: RuleSources = (),
    replace: RuleSources = (),
) -> tuple[RuleSet, frozenset[str] | None]:
    """The rule set a backtest evaluates, and the rules it compares (`backtest`'s `compare`).

    One mode at a time, as ``monitor backtest`` offers them:

    * `add`: the `active` rules plus these, which replace active rules of the same id (a
      changed rule); compared: only the rules that are new or differ from the active ones.
    * `only`: these rules alone (with the active lexicons, and the active rules their
      correlations listen to, which are evaluated but not compared); compared: these.
    * `replace` (or no mode: `active` is then the set under test): these rules instead of the
      active ones; compared: every rule, so an active rule they lack shows its alerts as gone.
    """
    if sum(1 for mode in (add, only, replace) if mode) > 1:
        raise ValueError("choose one of add, only and replace")
    if replace:
        return load_rules(replace), None
    if not (add or only):
        return load_rules(active), None
    current = load_rules(active)
    merged = load_rules(active, overrides=add or only)
    if add:
        before = {r.id: r for r in (*current.rules, *current.correlations)}
        changed = frozenset(
            r.id for r in (*merged.rules, *merged.correlations) if before.get(r.id) != r
        )
        return merged, changed
    roots = [Path(s.path).resolve() for s in resolve_sources(only)]

    def given(rule: Any) -> bool:
        where = getattr(rule.location, "path", None)
        if where is None:
            return False
        path = Path(where).resolve()
        return any(path == root or root in path.parents for root in roots)

    chosen = {r.id for r in (*merged.rules, *merged.correlations) if given(r)}
    correlations = [c for c in merged.correlations if c.id in chosen]
    needed = chosen | {ref for c in correlations for ref in c.rules}
    ruleset = RuleSet(
        [r for r in merged.rules if r.id in needed],
        [c for c in merged.correlations if c.id in needed],
        merged.lexicons,
        sources=merged.sources,
    )
    return ruleset, frozenset(chosen)

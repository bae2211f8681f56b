"""The search index as a backtest's presearch: which items a rule set can possibly match.

Lucene's percolator inverted: instead of running every stored item through every rule, ask
the index which items contain one of each rule's necessary phrases
(`RuleSet.presearch_phrases`) and evaluate only those. `monitor.alerting.backtest` decides
whether that is exact for a rule set; this module only answers the question, as item ids
and, when it can, as the log positions to read (`Visit`): the candidates' records, every
revision, and the first version of every revised item (from the ``item_versions``
projection; the index holds only current versions). With positions the backtest reads those
records alone; without, it reads every item record's row and skips the others undecoded.
"""

from __future__ import annotations

from typing import Any

from ..alerting import Visit
from ..errors import MonitorError
from ..log import EventLog
from ..projections import ItemVersions, ProjectionRunner
from ._api import _index, catch_up, index_lag, items_with_any

__all__ = ["AUTO_MAX_LAG", "backtest_candidates"]

#: ``--prefilter auto`` catches the index up by at most this many records; further behind,
#: indexing would cost more than the scan it saves, so the backtest reads everything.
AUTO_MAX_LAG = 20_000


def backtest_candidates(
    log: EventLog, ruleset: Any, *, mode: str = "auto", progress: Any = None
) -> tuple[set[str] | None, Visit | None, str]:
    """(the ids of the items `ruleset` can match, the positions to read or None, a note
    saying what was done); (None, None, why) when the index cannot answer (a rule with no
    phrases, no index for this log, an index too far behind for ``auto``) or `mode` is
    ``off``."""
    if mode == "off":
        return None, None, "prefilter off"
    phrases = ruleset.presearch_phrases()
    missing = sorted(rule for rule, found in phrases.items() if found is None)
    if missing:
        return None, None, f"no index terms for {', '.join(missing[:3])}: every item is read"
    try:
        lag = index_lag(log)
        if mode == "auto" and lag > AUTO_MAX_LAG:
            return (
                None,
                None,
                (
                    f"the search index is {lag:,} records behind: every item is read "
                    "(`monitor items reindex` or `--prefilter on` builds it first)"
                ),
            )
        head = catch_up(log, progress)
    except MonitorError as exc:  # a memory log; a read-only log that cannot catch up
        if mode == "on":
            raise
        return None, None, f"no search index ({exc}): every item is read"
    found: dict[str, int] = {}
    for rule_phrases in phrases.values():
        found.update(items_with_any(log, rule_phrases or ()))
    note = f"{len(found):,} candidate item(s) from the search index"
    return set(found), _visit(log, found, head), note


def _visit(log: EventLog, found: dict[str, int], head: int) -> Visit | None:
    """The item records to read, or None when the first versions of revised items cannot
    be found (``item_versions`` behind the index)."""
    revisions: dict[str, list[int]] = {}
    for record in log.read_key_prefix("revision:", ("ItemRevised",), until=head):
        parts = (record.dedupe_key or "").split(":")
        revisions.setdefault(parts[1] if len(parts) > 1 else "", []).append(record.position)
    positions = {p for item, p in found.items() if item not in revisions}
    if revisions:
        try:
            ProjectionRunner(log, [ItemVersions()]).run(until=head)
        except MonitorError:
            return None
        for item, at in revisions.items():
            row = ItemVersions.get(log, item)
            if not row or not row.get("versions"):
                return None
            positions.add(row["versions"][0]["position"])
            positions.update(at)
    stored = _index(log).count() + sum(len(at) for at in revisions.values())
    return Visit(positions=tuple(sorted(positions)), item_records=stored)

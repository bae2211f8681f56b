"""The search index as a backtest's presearch: which items a rule set can possibly match.

Lucene's percolator inverted: instead of running every stored item through every rule, ask
the index which items contain one of each rule's necessary phrases
(`RuleSet.presearch_phrases`) and evaluate only those. `monitor.alerting.backtest` decides
whether that is exact for a rule set; this module only answers the question.
"""

from __future__ import annotations

from typing import Any

from ..errors import MonitorError
from ..log import EventLog
from ._api import catch_up, index_lag, items_with_any

__all__ = ["AUTO_MAX_LAG", "backtest_candidates"]

#: ``--prefilter auto`` catches the index up by at most this many records; further behind,
#: indexing would cost more than the scan it saves, so the backtest reads everything.
AUTO_MAX_LAG = 20_000


def backtest_candidates(
    log: EventLog, ruleset: Any, *, mode: str = "auto", progress: Any = None
) -> tuple[set[str] | None, str]:
    """The ids of the items `ruleset` can match, from the search index, and a note saying
    what was done; (None, why) when the index cannot answer (a rule with no phrases, no index
    for this log, an index too far behind for ``auto``) or `mode` is ``off``."""
    if mode == "off":
        return None, "prefilter off"
    phrases = ruleset.presearch_phrases()
    missing = sorted(rule for rule, found in phrases.items() if found is None)
    if missing:
        return None, f"no index terms for {', '.join(missing[:3])}: every item is read"
    try:
        lag = index_lag(log)
        if mode == "auto" and lag > AUTO_MAX_LAG:
            return None, (
                f"the search index is {lag:,} records behind: every item is read "
                "(`monitor items reindex` or `--prefilter on` builds it first)"
            )
        catch_up(log, progress)
    except MonitorError as exc:  # a memory log; a read-only log that cannot catch up
        if mode == "on":
            raise
        return None, f"no search index ({exc}): every item is read"
    found: set[str] = set()
    for rule_phrases in phrases.values():
        found |= items_with_any(log, rule_phrases or ())
    return found, f"{len(found):,} candidate item(s) from the search index"

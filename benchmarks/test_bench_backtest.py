"""Backtests at scale, against the sequential full scan in the same run.

* ``rare-rule``: a rule whose index terms occur in 1% of the items, backtested with the search
  index as a presearch (only candidate items are read) against the full scan of the same log.
  Target: at least 20x faster. The index is built beforehand (not timed): it is kept up by
  the watcher and shared with `monitor items search`.
* ``default-pack``: the default pack over the same items with 2 worker processes against 1.
  Target: at least 1.7x faster on a 2-core machine (it cannot be faster than the cores).

Items are the alerts benchmark's news-like items (a quarter about movements, strikes, denials
in 12 places), with the rare word planted in every 100th. Sizes: BENCH_BACKTEST_ITEMS (default
200,000; the issue's 1,000,000 takes about 5 minutes to index on this machine), rounds:
BENCH_BACKTEST_ROUNDS. Results are checked equal before anything is timed.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from monitor import search
from monitor.alerting import backtest, match_ranges
from monitor.log import open_log
from monitor.rules import load_rules

from .test_bench_alerts import T0, _items

N_ITEMS = int(os.environ.get("BENCH_BACKTEST_ITEMS", "200000"))
ROUNDS = int(os.environ.get("BENCH_BACKTEST_ROUNDS", "2"))
REPO = Path(__file__).resolve().parents[1]

RARE_RULE = """\
id: rare
title: A rare word
level: medium
detection:
  sel:
    text|near=5: [ceasefire, violated]
  condition: sel
"""


def _clock():
    return T0


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """An SQLite log of N_ITEMS items with the search index built."""
    db = tmp_path_factory.mktemp("backtest") / "history.db"
    items = _items(N_ITEMS)
    planted = [
        attrs.evolve(item, summary=item.summary + " The ceasefire was violated overnight.")
        if n % 100 == 0
        else item
        for n, item in enumerate(items)
    ]
    with open_log(db) as log:
        for start in range(0, len(planted), 2000):
            log.append_events(planted[start : start + 2000])
        search.catch_up(log)
    return db


def _best(fn: Any, rounds: int = ROUNDS) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _peak(fn: Any) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def _rows(report) -> list:
    return [(r.rule_id, r.would_raise, r.would_suppress, r.new, r.gone) for r in report.rules]


def test_rare_rule_with_the_index_against_the_full_scan(
    benchmark, bench_report, history, tmp_path
) -> None:
    (tmp_path / "rare.yaml").write_text(RARE_RULE)
    ruleset = load_rules(tmp_path)
    with open_log(history, read_only=True) as log:
        candidates, visit, _note = search.backtest_candidates(log, ruleset, mode="on")
        full = backtest(log, ruleset, clock=_clock)
        fast = backtest(log, ruleset, clock=_clock, candidates=candidates, visit=visit)
        assert _rows(fast) == _rows(full) and full.rules[0].would_raise > 0
        full_s = _best(lambda: backtest(log, ruleset, clock=_clock))

        def prefiltered() -> None:
            found, where, _ = search.backtest_candidates(log, ruleset, mode="on")
            backtest(log, ruleset, clock=_clock, candidates=found, visit=where)

        benchmark.pedantic(prefiltered, rounds=ROUNDS, iterations=1)
        fast_s = benchmark.stats.stats.min
        peak = _peak(prefiltered)
    ratio = full_s / fast_s
    benchmark.extra_info.update(full_s=full_s, prefiltered_s=fast_s, ratio=ratio)
    bench_report.append(
        f"backtest rare rule ({len(candidates or ()):,} candidates of {N_ITEMS:,} items): "
        f"full scan {full_s:.2f}s, with the index {fast_s:.3f}s (query included) = "
        f"x{ratio:.1f} faster; peak {peak:.1f} MB"
    )


def _matching_alone(log: Any, ruleset: Any, jobs: int) -> None:
    """The workers' share of a backtest and nothing else: every item matched in `jobs` worker
    processes, the results handed back and dropped (no evaluator)."""
    for _ in match_ranges(
        log, ruleset, jobs=jobs, head=log.head(), step=5000, since=None, until=None,
        candidates=None,
    ):  # fmt: skip
        pass


def test_default_pack_with_two_jobs_against_one(benchmark, bench_report, history) -> None:
    """2 jobs against 1, beside the ceiling of this machine in the same run: the same matching
    done by 1 worker process against 2, with nothing to fold. Two processes on two virtual
    cores do not run twice as fast as one (shared caches, the hypervisor), and no backtest
    can gain more from a second process than its own matching does."""
    ruleset = load_rules(REPO / "rules")
    with open_log(history, read_only=True) as log:
        one = backtest(log, ruleset, clock=_clock)
        two = backtest(log, ruleset, clock=_clock, jobs=2)
        assert _rows(one) == _rows(two)
        one_s = _best(lambda: backtest(log, ruleset, clock=_clock))
        benchmark.pedantic(
            lambda: backtest(log, ruleset, clock=_clock, jobs=2), rounds=ROUNDS, iterations=1
        )
        two_s = benchmark.stats.stats.min
        alone_one = _best(lambda: _matching_alone(log, ruleset, 1))
        alone_two = _best(lambda: _matching_alone(log, ruleset, 2))
        peak = _peak(lambda: backtest(log, ruleset, clock=_clock, jobs=2))  # this process
        # The same over the first quarter of the history (items are 30 s apart): memory that
        # does not grow with the history gives about the same peak.
        quarter_end = T0 + timedelta(seconds=30 * (N_ITEMS // 4))
        quarter = _peak(lambda: backtest(log, ruleset, clock=_clock, jobs=2, until=quarter_end))
    ratio, ceiling = one_s / two_s, alone_one / alone_two
    benchmark.extra_info.update(
        one_job_s=one_s, two_jobs_s=two_s, ratio=ratio, ceiling=ceiling, peak_mb=peak,
        quarter_peak_mb=quarter,
    )  # fmt: skip
    bench_report.append(
        f"backtest default pack over {N_ITEMS:,} items: 1 job {one_s:.1f}s "
        f"({N_ITEMS / one_s:,.0f} items/s), 2 jobs {two_s:.1f}s ({N_ITEMS / two_s:,.0f} "
        f"items/s) = x{ratio:.2f}; the machine's ceiling, matching alone in 1 process "
        f"{alone_one:.1f}s against 2 {alone_two:.1f}s = x{ceiling:.2f} (the backtest reaches "
        f"{ratio / ceiling:.0%} of it); peak {peak:.1f} MB in this process, against "
        f"{quarter:.1f} MB over the first quarter of the history (x{peak / quarter:.2f}); "
        f"cores here: {os.cpu_count()}"
    )

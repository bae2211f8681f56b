"""Realistic rule packs: what proximity, sentence scope and regexes cost, at 100 to 10,000 rules.

Sides, measured in one run on the same items (`benchmarks.pack_synth`: packs shaped like the
default pack, lexicons through ``|expand``, ``near``/``onear``/``sentence`` pairs, ``and not``
exclusions, ``min``, ``score``, a few regexes; 2 KB items, 30% in Arabic letters):

* ``realistic``: `RuleSet.match` on the pack (normalization, scan, presearch, conditions,
  evidence and entities, as the watcher runs it).
* ``plain``: the same pack with every ``near``/``onear``/``sentence`` entry replaced by the
  plain all-term selection (``|all``): the ratio ``realistic / plain`` is what proximity and
  sentence scope cost on top of finding the terms (target: at most 2x at 2,000 rules).
* ``naive``: one compiled Python regex per rule (an alternation of every term its lexicons
  expand to, and its regexes), searched in each item's title + summary + content, as
  `test_bench_rules`'s naive baseline: it evaluates no condition and builds no evidence. At
  large sizes it runs on a sample of the items (``NAIVE_SAMPLE``). Target: the realistic
  side at least 1,000x faster at 10,000 rules.

Peak memory (tracemalloc): building the realistic pack (the build time is the plain pack's,
untraced), and matching 100 items. ``BENCH_PACK_RULES`` (default ``100,2000,10000``) and
``BENCH_PACK_ITEMS`` (default 1000) scale the run; benchmarks/README-rules.md has recorded
runs.
"""

from __future__ import annotations

import gc
import os
import re
import time
import tracemalloc

import pytest

from monitor.rules import RuleSet, load_rules

from .pack_synth import make_pack, make_pack_items, plain_pack, write_pack

SIZES = tuple(int(n) for n in os.environ.get("BENCH_PACK_RULES", "100,2000,10000").split(","))
N_ITEMS = int(os.environ.get("BENCH_PACK_ITEMS", "1000"))
ROUNDS = 3
#: The naive loop runs on NAIVE_SAMPLE // R items (at least 2): it takes about a second per
#: item at 2,000 rules.
NAIVE_SAMPLE = 20_000

RESULTS: dict[int, dict[str, float]] = {}


def naive_patterns(ruleset: RuleSet) -> list[re.Pattern[str]]:
    """One regex per rule: every phrase term of every entry (lexicons expanded), word
    bounded, case-insensitive, and its regexes; the floor of a per-rule loop."""
    patterns = []
    for rule in ruleset.rules:
        alts = []
        for sel in rule.detection:
            for group in sel.alternatives:
                for fm in group:
                    for slot in fm.slots:
                        for term in slot.terms:
                            if term.kind == "regex":
                                alts.append(term.text.replace("(?i)", ""))
                            elif term.kind == "phrase":
                                words = r"\W+".join(map(re.escape, term.tokens))
                                alts.append(r"\b" + words + (r"\w*" if term.prefix else r"\b"))
        patterns.append(re.compile("|".join(dict.fromkeys(alts)), re.IGNORECASE))
    return patterns


def _best_per_item(fn, count: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best / count * 1e6


def _match_memory(ruleset: RuleSet, sample: list[dict[str, str]]) -> float:
    """Peak extra MB (tracemalloc) while matching `sample`: per-item state only."""
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    for item in sample:
        ruleset.match(item)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - base) / 1e6


@pytest.mark.timeout(7200)  # 10,000 rules: two packs to build, the naive loop, many items
@pytest.mark.parametrize("size", SIZES)
def test_pack(benchmark, size, tmp_path):
    """µs per item of the realistic pack, the plain pack and the naive loop at one size."""
    benchmark.group = f"realistic pack R={size}"
    pack = make_pack(size)
    real_dir = write_pack(tmp_path / "real", pack)
    # Build time from the plain pack (same size, untraced); build memory from the realistic
    # pack, built under tracemalloc (which slows a build several times over).
    start = time.perf_counter()
    plain = load_rules(write_pack(tmp_path / "plain", plain_pack(pack)))
    build_s = time.perf_counter() - start
    gc.collect()
    tracemalloc.start()
    real = load_rules(real_dir)
    build_peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    items = make_pack_items(N_ITEMS, size)
    counts: dict[str, int] = {}

    def runner(side: str, ruleset: RuleSet):
        def run() -> None:
            counts[side] = sum(len(ruleset.match(item)) for item in items)

        return run

    row: dict[str, float] = {"build s": build_s}
    for side, ruleset in (("realistic", real), ("plain", plain)):
        run = runner(side, ruleset)
        run()  # warm-up, untimed: RE2 builds its DFA states lazily, as in a running watcher
        row[side] = _best_per_item(run, len(items), ROUNDS)
        row[f"{side} matches"] = counts[side] / len(items)
    patterns = naive_patterns(real)
    sample = [f"{it['title']}\n{it['summary']}\n{it['content']}" for it in items]
    sample = sample[: max(2, min(len(sample), NAIVE_SAMPLE // size))]

    def naive() -> None:
        for text in sample:
            for pattern in patterns:
                pattern.search(text)

    row["naive"] = _best_per_item(naive, len(sample), 1)
    from monitor.rules._match import ItemView, candidates, item_fields

    compiled = real._compiled
    few = items[:200]
    row["candidates"] = sum(
        len(candidates(ItemView(item_fields(it), compiled), compiled)) for it in few
    ) / len(few)
    try:  # rules whose condition is evaluated (after the branch filter, where there is one)
        from monitor.rules._match import _some_way_hit
    except ImportError:
        row["evaluated"] = row["candidates"]
    else:
        row["evaluated"] = sum(
            len(_some_way_hit(view, compiled, candidates(view, compiled)))
            for view in (ItemView(item_fields(it), compiled) for it in few)
        ) / len(few)
    row["build MB"], row["match MB"] = build_peak, _match_memory(real, items[:100])
    RESULTS[size] = row
    benchmark.pedantic(runner("realistic", real), rounds=1, iterations=1)


@pytest.fixture(scope="module", autouse=True)
def report_table(bench_report):
    """After the module's benchmarks: the table of µs/item and ratios."""
    yield
    if not RESULTS:
        return
    bench_report.append(
        f"realistic rule packs, {N_ITEMS} items of ~2 KB (30% Arabic), best of {ROUNDS} rounds:"
    )
    bench_report.append(
        "  R       realistic µs/item  plain µs/item  realistic/plain  naive µs/item  "
        "vs naive  matches/item (plain)  candidates/item  evaluated/item  build s  build MB  "
        "match MB"
    )
    for size, row in sorted(RESULTS.items()):
        bench_report.append(
            f"  {size:<7} {row['realistic']:17.1f}  {row['plain']:13.1f}  "
            f"{row['realistic'] / row['plain']:14.2f}x  {row['naive']:13.1f}  "
            f"{row['naive'] / row['realistic']:7.0f}x  "
            f"{row['realistic matches']:6.2f} ({row['plain matches']:5.2f})        "
            f"{row['candidates']:15.1f}  {row['evaluated']:14.1f}  {row['build s']:7.1f}  "
            f"{row['build MB']:8.1f}  "
            f"{row['match MB']:8.2f}"
        )

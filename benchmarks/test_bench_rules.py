"""The rule engine against the naive per-rule loop, in one run, at R = 10 .. 10,000 rules.

Sides:

* ``compiled``: `RuleSet.match` with the default scanner (one Aho-Corasick automaton over the
  normalized words, presearcher, conditions only for candidates, evidence and entities for
  matches). Normalization is included: each round starts from the raw item dicts.
* ``compiled-token``: the same with the word-dict scanner (``RuleSet(scanner="token")``).
* ``naive``: one compiled Python regex per rule (an alternation of all its terms, word
  bounded, case-insensitive), searched in each item's title + summary + content. This is the
  floor of the naive approach: it does not even evaluate conditions, normalize text or build
  evidence. At large R it is measured on a sample of the items (``NAIVE_SAMPLE``).

Rules and items are synthetic and seeded (`benchmarks.rules_synth`): 2-6 terms per rule,
phrases, prefixes, ``near``, ``not`` and a few regexes, from a 20,000-term vocabulary; items
are about 2 KB. Peak memory (tracemalloc) is measured in one extra, untimed pass: the rule set
build, and matching 200 items. Results go to ``bench_report`` (printed at the end) with the
ratios; benchmarks/README-rules.md has a recorded run.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from pathlib import Path

import pytest

from monitor.rules import RuleSet, load_rules

from .rules_synth import make_items, make_rules_yaml, naive_patterns

SIZES = (10, 100, 1_000, 10_000)
#: BENCH_RULES_ITEMS scales the run down for a smoke test; the recorded figures use 2,000.
N_ITEMS = int(os.environ.get("BENCH_RULES_ITEMS", "2000"))
NAIVE_SAMPLE = {10: 2000, 100: 400, 1_000: 40, 10_000: 8}
ROUNDS = 3

#: (R, side) -> µs per item (best round); (R, "memory") -> (build MB, match MB);
#: (R, "stats") -> (matches per item, candidates per item).
RESULTS: dict[tuple[int, str], object] = {}


@pytest.fixture(scope="module")
def items() -> list[dict[str, str]]:
    return make_items(N_ITEMS)


@pytest.fixture(scope="module")
def rule_files(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("rules")
    paths = {}
    for size in SIZES:
        path = folder / f"r{size}.yaml"
        path.write_text(make_rules_yaml(size), encoding="utf-8")
        paths[size] = path
    return paths


_LOADED: dict[int, RuleSet] = {}


def _ruleset(size: int, files: dict[int, Path]) -> RuleSet:
    if size not in _LOADED:
        _LOADED[size] = load_rules(files[size])
    return _LOADED[size]


def _per_item(benchmark, fn, count: int, rounds: int) -> float:
    """Run `fn` (which processes `count` items) `rounds` times; return best µs per item."""
    best = float("inf")

    def timed() -> None:
        nonlocal best
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)

    benchmark.pedantic(timed, rounds=rounds, iterations=1, warmup_rounds=0)
    return best / count * 1e6


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("side", ["compiled", "compiled-token", "naive"])
def test_match(benchmark, side, size, items, rule_files, bench_report):
    """µs per item for one side at one rule-set size (matches are checked, not assumed)."""
    benchmark.group = f"rules R={size}"
    ruleset = _ruleset(size, rule_files)
    if side == "naive":
        patterns = naive_patterns(rule_files[size].read_text(encoding="utf-8"))
        sample = items[: min(NAIVE_SAMPLE[size], len(items))]
        texts = [f"{it['title']}\n{it['summary']}\n{it['content']}" for it in sample]

        def run() -> None:
            for text in texts:
                for pattern in patterns:
                    pattern.search(text)

        RESULTS[(size, side)] = _per_item(benchmark, run, len(texts), 1 if size >= 1000 else 2)
        return
    if side == "compiled-token":
        ruleset = RuleSet(ruleset.rules, ruleset.correlations, ruleset.lexicons, scanner="token")
    matches = []

    def run() -> None:
        matches.clear()
        for item in items:
            matches.append(len(ruleset.match(item)))

    RESULTS[(size, side)] = _per_item(benchmark, run, len(items), ROUNDS)
    if side == "compiled":
        from monitor.rules._match import ItemView, candidates, item_fields

        compiled = ruleset._compiled
        sample = items[:200]
        cands = sum(len(candidates(ItemView(item_fields(it), compiled), compiled)) for it in sample)
        RESULTS[(size, "stats")] = (sum(matches) / len(items), cands / len(sample))
        RESULTS[(size, "memory")] = _memory(rule_files[size], items[:200])
    assert len(matches) == len(items)


def _memory(path: Path, sample: list[dict[str, str]]) -> tuple[float, float]:
    """Peak MB (tracemalloc) while building the rule set, and while matching the sample."""
    gc.collect()
    tracemalloc.start()
    ruleset = load_rules(path)
    _, build_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    for item in sample:
        ruleset.match(item)
    _, match_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return build_peak / 1e6, (match_peak - base) / 1e6


def test_zz_report(bench_report):
    """Print the table: µs/item per side, speed-up over naive, growth from 100 rules."""
    if not any(key[1] == "compiled" for key in RESULTS):
        pytest.skip("no rule benchmark ran in this session (select test_match to run them)")
    bench_report.append(f"rule engine, {N_ITEMS} items of ~2 KB, best of {ROUNDS} rounds:")
    bench_report.append(
        "  R       compiled µs/item  items/s  token µs/item  naive µs/item  speed-up  "
        "vs R=100  matches/item  candidates/item  build MB  match MB"
    )
    base = RESULTS.get((100, "compiled"))
    for size in SIZES:
        if (size, "compiled") not in RESULTS:
            continue
        ours = float(RESULTS[(size, "compiled")])  # type: ignore[arg-type]
        token = RESULTS.get((size, "compiled-token"))
        naive = RESULTS.get((size, "naive"))
        matches, cands = RESULTS.get((size, "stats"), (0.0, 0.0))  # type: ignore[misc]
        build_mb, match_mb = RESULTS.get((size, "memory"), (0.0, 0.0))  # type: ignore[misc]
        speedup = f"{float(naive) / ours:8.0f}x" if naive else "       -"  # type: ignore[arg-type]
        growth = f"{ours / float(base):7.2f}x" if base else "      -"  # type: ignore[arg-type]
        bench_report.append(
            f"  {size:<7} {ours:16.1f}  {1e6 / ours:7.0f}  "
            f"{float(token) if token else 0:13.1f}  {float(naive) if naive else 0:13.1f}  "  # type: ignore[arg-type]
            f"{speedup}  {growth}  {matches:12.2f}  {cands:15.1f}  {build_mb:8.1f}  {match_mb:8.2f}"
        )

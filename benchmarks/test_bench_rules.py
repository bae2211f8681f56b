"""The rule engine against the naive per-rule loop, in one run, at R = 10 .. 10,000 rules.

Sides:

* ``compiled``: `RuleSet.match` with the default scanner (an RE2 set of every term over the
  normalized words), presearcher, conditions only for candidates, evidence and entities for
  matches. Normalization is included: each round starts from the raw item dicts.
* ``compiled-aho`` / ``compiled-token``: the same with the pyahocorasick scanner and with the
  word-dict scanner (``RuleSet(scanner="aho")``, ``"token"``); their matches must be
  identical to the default's.
* ``quiet``: the default side on the same items with every rule-vocabulary word removed
  (filler and numbers only). They match next to nothing at any R, so their cost shows what
  the rule count itself costs, apart from the hits and matches that grow with it.
* Arabic rows (`test_arabic`): the same rules and items with every letter of the made-up
  vocabulary written in Arabic letters, a third of the terms in the items carrying a clitic
  (بالـ، والـ، لل...), half the numbers in Arabic-Indic digits: ``arabic`` is Arabic items
  on the Arabic rules; ``english, mixed`` is the English items on a pack holding both rule
  sets (what an English item pays for an Arabic vocabulary: the ratio to ``compiled`` must
  stay near 1); ``arabic naive`` is the naive regex loop on the Arabic items (which does not
  even find the clitic forms).
* ``naive``: one compiled Python regex per rule (an alternation of all its terms, word
  bounded, case-insensitive), searched in each item's title + summary + content. This is the
  floor of the naive approach: it does not even evaluate conditions, normalize text or build
  evidence. At large R it is measured on a sample of the items (``NAIVE_SAMPLE``).

Rules and items are synthetic and seeded (`benchmarks.rules_synth`): 2-6 terms per rule,
phrases, prefixes, ``near``, ``not`` and a few regexes, from a 20,000-term vocabulary; items
are about 2 KB. Peak memory (tracemalloc) is measured in one extra, untimed pass: the rule set
build, and matching 200 items (RE2's DFA memory is C++ and not seen by tracemalloc).
Results go to ``bench_report`` (printed at the end) with the ratios;
benchmarks/README-rules.md has a recorded run.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from monitor.rules import RuleSet, load_rules

from .rules_synth import make_arabic_items, make_items, make_rules_yaml, naive_patterns, vocabulary

#: Rule-set sizes; BENCH_RULES_MAX caps them for a smoke test (building 10,000 rules takes
#: a minute and more on its own).
SIZES = tuple(
    n for n in (10, 100, 1_000, 10_000) if n <= int(os.environ.get("BENCH_RULES_MAX", "10000"))
)
#: BENCH_RULES_ITEMS scales the run down for a smoke test; the recorded figures use 2,000.
N_ITEMS = int(os.environ.get("BENCH_RULES_ITEMS", "2000"))
NAIVE_SAMPLE = {10: 2000, 100: 400, 1_000: 40, 10_000: 8}
ROUNDS = 3
#: Rule-set sizes of the Arabic rows; BENCH_RULES_ARABIC_MAX caps them for a smoke test.
ARABIC_SIZES = tuple(
    n for n in (1_000, 10_000) if n <= int(os.environ.get("BENCH_RULES_ARABIC_MAX", "10000"))
)

#: (R, side) -> µs per item (best round); (R, "memory") -> (build MB, match MB);
#: (R, "stats") -> (matches per item, candidates per item).
RESULTS: dict[tuple[int, str], object] = {}


@pytest.fixture(scope="module")
def items() -> list[dict[str, str]]:
    return make_items(N_ITEMS)


@pytest.fixture(scope="module")
def quiet_items(items: list[dict[str, str]]) -> list[dict[str, str]]:
    """The same items with every rule-vocabulary word removed: only filler words and numbers.

    With more rules, a normal item hits more terms and matches more rules (the synthetic
    vocabulary is shared by all rules), so its cost grows with the work of reporting them.
    These items hit almost nothing at any R (a prefix value like ``brakou*`` may still start
    a filler word), which isolates what the rule count itself costs.
    """
    _, filler = vocabulary()
    keep = set(filler)

    def quiet(text: str) -> str:
        return " ".join(w for w in text.split() if w.strip(".,;").lower() in keep or w[0].isdigit())

    return [
        {key: value if key == "id" else quiet(value) for key, value in item.items()}
        for item in items
    ]


def _write_rule_files(folder: Path, sizes: tuple[int, ...], **options: Any) -> dict[int, Path]:
    """One synthetic rule file per size (`make_rules_yaml` options), by size."""
    paths = {}
    for size in sizes:
        path = folder / f"r{size}.yaml"
        path.write_text(make_rules_yaml(size, **options), encoding="utf-8")
        paths[size] = path
    return paths


@pytest.fixture(scope="module")
def rule_files(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    return _write_rule_files(tmp_path_factory.mktemp("rules"), SIZES)


_LOADED: dict[int, RuleSet] = {}


def _ruleset(size: int, files: dict[int, Path]) -> RuleSet:
    if size not in _LOADED:
        _LOADED[size] = load_rules(files[size])
    return _LOADED[size]


def _best_per_item(fn, count: int, rounds: int) -> float:
    """Best µs per item over `rounds` runs of `fn` (which processes `count` items)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best / count * 1e6


def _naive_per_item(path: Path, items: list[dict[str, str]], size: int, rounds: int) -> float:
    """µs per item of the naive loop: every rule's regex searched in each item's text (on a
    sample of the items at large sizes, `NAIVE_SAMPLE`)."""
    patterns = naive_patterns(path.read_text(encoding="utf-8"))
    sample = items[: min(NAIVE_SAMPLE[size], len(items))]
    texts = [f"{it['title']}\n{it['summary']}\n{it['content']}" for it in sample]

    def naive() -> None:
        for text in texts:
            for pattern in patterns:
                pattern.search(text)

    return _best_per_item(naive, len(texts), rounds)


@pytest.mark.parametrize("size", SIZES)
def test_match(benchmark, size, items, quiet_items, rule_files):
    """µs per item for every side at one rule-set size.

    Each side gets one untimed warm-up pass over the items, then ROUNDS timed passes in a
    row (best kept), so each is measured warm, as a running watcher is, and not right after
    another side has pushed its data out of the CPU caches. pytest-benchmark times one more
    pass of the default side.
    """
    benchmark.group = f"rules R={size}"
    default = _ruleset(size, rule_files)
    aho = RuleSet(default.rules, default.correlations, default.lexicons, scanner="aho")
    token = RuleSet(default.rules, default.correlations, default.lexicons, scanner="token")
    counts: dict[str, list[int]] = {}

    def runner(side: str, ruleset: RuleSet):
        def run() -> None:
            counts[side] = [len(ruleset.match(item)) for item in items]

        return run

    def quiet_runner() -> None:
        counts["quiet"] = [len(default.match(item)) for item in quiet_items]

    runs = {
        "compiled": runner("compiled", default),
        "compiled-aho": runner("compiled-aho", aho),
        "compiled-token": runner("compiled-token", token),
        "quiet": quiet_runner,
    }
    best = {}
    for side, run in runs.items():
        run()  # warm-up, untimed: a watcher runs warm (RE2 builds its DFA states lazily)
        best[side] = _best_per_item(run, len(items), ROUNDS)
    assert counts["compiled"] == counts["compiled-aho"] == counts["compiled-token"], (
        "the scanners disagree"
    )
    RESULTS[(size, "quiet matches")] = sum(counts["quiet"]) / len(quiet_items)
    for side, value in best.items():
        RESULTS[(size, side)] = value

    RESULTS[(size, "naive")] = _naive_per_item(
        rule_files[size], items, size, 1 if size >= 1000 else 2
    )

    from monitor.rules._match import ItemView, candidates, item_fields

    compiled = default._compiled
    few = items[:200]
    cands = sum(len(candidates(ItemView(item_fields(it), compiled), compiled)) for it in few)
    RESULTS[(size, "stats")] = (sum(counts["compiled"]) / len(items), cands / len(few))
    RESULTS[(size, "memory")] = _memory(rule_files[size], few)
    benchmark.pedantic(runs["compiled"], rounds=1, iterations=1)


@pytest.fixture(scope="module")
def arabic_items() -> list[dict[str, str]]:
    return make_arabic_items(N_ITEMS)


@pytest.fixture(scope="module")
def arabic_rule_files(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("rules-ar")
    return _write_rule_files(folder, ARABIC_SIZES, arabic=True, first=1_000_000)


@pytest.mark.parametrize("size", ARABIC_SIZES)
def test_arabic(benchmark, size, items, arabic_items, rule_files, arabic_rule_files):
    """Arabic items on Arabic rules, and English items on a pack with Arabic rules in it,
    each against the English side measured in the same run."""
    benchmark.group = f"rules R={size} arabic"
    english = _ruleset(size, rule_files)
    start = time.perf_counter()
    arabic = load_rules(arabic_rule_files[size])
    build_arabic = time.perf_counter() - start
    start = time.perf_counter()
    mixed = RuleSet(english.rules + arabic.rules)
    build_mixed = time.perf_counter() - start
    counts: dict[str, list[int]] = {}

    def runner(side: str, ruleset: RuleSet, batch: list[dict[str, str]]):
        def run() -> None:
            counts[side] = [len(ruleset.match(item)) for item in batch]

        return run

    runs = {
        "english": runner("english", english, items),
        "english, mixed": runner("english, mixed", mixed, items),
        "arabic": runner("arabic", arabic, arabic_items),
        "arabic, mixed": runner("arabic, mixed", mixed, arabic_items),
    }
    best = {}
    for side, run in runs.items():
        run()  # warm-up, untimed
        best[side] = _best_per_item(run, len(items), ROUNDS)
    assert counts["english"] == counts["english, mixed"], "Arabic rules changed English matches"
    assert counts["arabic"] == counts["arabic, mixed"], "English rules changed Arabic matches"
    if size <= 1_000:  # the other scanners find the same on Arabic text
        for name in ("aho", "token"):
            other = RuleSet(arabic.rules, scanner=name)
            assert [len(other.match(it)) for it in arabic_items] == counts["arabic"], name

    best["arabic naive"] = _naive_per_item(arabic_rule_files[size], arabic_items, size, 1)
    scanner = arabic._compiled.scanner
    RESULTS[(size, "arabic")] = {
        **best,
        "matches en": sum(counts["english"]) / len(items),
        "matches ar": sum(counts["arabic"]) / len(arabic_items),
        "build ar s": build_arabic,
        "build mixed s": build_mixed,
        "terms ar": len(arabic._compiled.tid_rules),
        "sets ar": len(getattr(scanner, "_sets", ())) + len(getattr(scanner, "_other_sets", ())),
        "memory ar": _memory(arabic_rule_files[size], arabic_items[:200]),
    }
    benchmark.pedantic(runs["arabic"], rounds=1, iterations=1)


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


@pytest.fixture(scope="module", autouse=True)
def report_table(bench_report):
    """After the module's benchmarks: the table of µs/item, speed-ups and growth.

    A fixture, not a test, so that it also runs under ``--benchmark-only``.
    """
    yield
    if not any(key[1] == "compiled" for key in RESULTS):
        return
    bench_report.append(f"rule engine, {N_ITEMS} items of ~2 KB, best of {ROUNDS} rounds:")
    bench_report.append(
        "  R       compiled µs/item  items/s  aho µs/item  token µs/item  naive µs/item  speed-up  "
        "vs R=100  matches/item  candidates/item  quiet µs/item  quiet vs R=100  "
        "quiet matches/item  build MB  match MB"
    )
    base = RESULTS.get((100, "compiled"))
    quiet_base = RESULTS.get((100, "quiet"))
    for size in SIZES:
        if (size, "compiled") not in RESULTS:
            continue
        ours = float(RESULTS[(size, "compiled")])  # type: ignore[arg-type]
        token = RESULTS.get((size, "compiled-token"))
        aho_us = RESULTS.get((size, "compiled-aho"))
        naive = RESULTS.get((size, "naive"))
        matches, cands = RESULTS.get((size, "stats"), (0.0, 0.0))  # type: ignore[misc]
        build_mb, match_mb = RESULTS.get((size, "memory"), (0.0, 0.0))  # type: ignore[misc]
        speedup = f"{float(naive) / ours:8.0f}x" if naive else "       -"  # type: ignore[arg-type]
        growth = f"{ours / float(base):7.2f}x" if base else "      -"  # type: ignore[arg-type]
        quiet = float(RESULTS.get((size, "quiet"), 0.0))  # type: ignore[arg-type]
        quiet_matches = float(RESULTS.get((size, "quiet matches"), 0.0))  # type: ignore[arg-type]
        quiet_growth = f"{quiet / float(quiet_base):13.2f}x" if quiet_base else "             -"  # type: ignore[arg-type]
        bench_report.append(
            f"  {size:<7} {ours:16.1f}  {1e6 / ours:7.0f}  {float(aho_us) if aho_us else 0:11.1f}  "
            f"{float(token) if token else 0:13.1f}  {float(naive) if naive else 0:13.1f}  "  # type: ignore[arg-type]
            f"{speedup}  {growth}  {matches:12.2f}  {cands:15.1f}  {quiet:13.1f}  {quiet_growth}  "
            f"{quiet_matches:18.3f}  "
            f"{build_mb:8.1f}  {match_mb:8.2f}"
        )
    arabic_rows = [size for size in SIZES if (size, "arabic") in RESULTS]
    if arabic_rows:
        bench_report.append(
            "Arabic (same rules and items in Arabic letters, clitics on a third of the terms):"
        )
        bench_report.append(
            "  R       english µs/item  en mixed µs/item  mixed/english  arabic µs/item  "
            "arabic/english  ar mixed µs/item  ar naive µs/item  speed-up  matches en/ar  "
            "terms ar  RE2 sets  build ar s  build mixed s  build ar MB  match ar MB"
        )
    for size in arabic_rows:
        row: dict[str, float] = RESULTS[(size, "arabic")]  # type: ignore[assignment]
        en, ar = row["english"], row["arabic"]
        build_mb, match_mb = row["memory ar"]  # type: ignore[misc]
        bench_report.append(
            f"  {size:<7} {en:15.1f}  {row['english, mixed']:16.1f}  "
            f"{row['english, mixed'] / en:12.3f}x  {ar:14.1f}  {ar / en:13.2f}x  "
            f"{row['arabic, mixed']:16.1f}  {row['arabic naive']:16.1f}  "
            f"{row['arabic naive'] / ar:7.0f}x  "
            f"{row['matches en']:6.2f}/{row['matches ar']:<6.2f}  "
            f"{row['terms ar']:8.0f}  {row['sets ar']:8.0f}  {row['build ar s']:10.1f}  "
            f"{row['build mixed s']:13.1f}  {build_mb:11.1f}  {match_mb:11.2f}"
        )

"""The pipeline benchmark's work in machine instructions, for callgrind: a noise-free ratio.

On a shared virtual machine the wall-clock ratio of the pipeline to the bare engine
(`test_bench_alerts.py::test_pipeline_items_to_delivered_alerts`) moves by a third between
runs of the same code. Instructions executed do not. Run each mode under callgrind and
subtract the ``setup`` run (imports, rule loading, the items, a warm-up that compiles every
lazily imported module) from the other two:

    for mode in setup bare pipeline; do
      valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python benchmarks/pipeline_instructions.py 5000 $mode 2>&1 | grep refs
    done

(about ten minutes for the three). Instructions count what the process executes, not the
time the kernel spends writing the log's pages, so this complements the timed benchmark.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_bench_alerts as bench  # the benchmark's items and pipeline

from monitor.rules import load_rules

MODES = ("setup", "bare", "pipeline")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[0].isdigit() or argv[1] not in MODES:
        print(f"usage: pipeline_instructions.py ITEMS {{{','.join(MODES)}}}", file=sys.stderr)
        return 2
    n, mode = int(argv[0]), argv[1]
    ruleset = load_rules(bench.REPO / "rules")
    items = bench._items(n)
    tmp = Path(tempfile.mkdtemp())
    warm = bench._items(300)
    bench.match_all(ruleset, warm)
    bench._pipeline(warm, ruleset, tmp)
    if mode == "bare":
        bench.match_all(ruleset, items)
    elif mode == "pipeline":
        bench._pipeline(items, ruleset, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

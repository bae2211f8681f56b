"""Shared benchmark plumbing: a report that lists every comparison at the end of the run.

A benchmark adds its lines (rates, ratios against the baseline measured in the same run, peak
memory) with ``bench_report.append(...)``; they are printed together after pytest-benchmark's
tables, so the ratios are read in one place instead of being computed by hand from the tables.
"""

from __future__ import annotations

import pytest

_REPORT: list[str] = []


@pytest.fixture(scope="session")
def bench_report() -> list[str]:
    """The lines printed under "benchmark comparisons" at the end of the session."""
    return _REPORT


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Print the collected comparison lines after the benchmark tables."""
    if _REPORT:
        terminalreporter.section("benchmark comparisons")
        for line in _REPORT:
            terminalreporter.write_line(line)

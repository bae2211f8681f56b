"""Rebuilding projections in several processes at once (``monitor replay --jobs N``).

Projections are independent folds of the same log, each with its own state, checkpoint and
lease, so they can be rebuilt side by side: each worker process opens the log itself and
rebuilds its share of the projections with an ordinary `ProjectionRunner`, giving exactly the
state a sequential rebuild gives. One projection is never split by position range: a page's
fold depends on the state the pages before it left (a feed's failure count, a story's items),
so within a projection the fold stays sequential. What it costs: each worker reads and decodes
the log once for its share, where one runner reads it once for all; the folds themselves run
in parallel. Needs a log another process can open (SQLite or PostgreSQL).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from typing import Any

from ..log import EventLog, open_log
from ._base import Projection
from ._runner import ProjectionRunner

__all__ = ["rebuild_in_processes"]

#: What forked workers inherit: the log URL and the groups of projections.
_JOB: dict[str, Any] = {}


def _rebuild_group(index: int) -> dict[str, int]:
    with open_log(_JOB["url"]) as log:
        return ProjectionRunner(log, _JOB["groups"][index]).rebuild()


def rebuild_in_processes(
    log: EventLog, projections: Sequence[Projection], jobs: int
) -> dict[str, int]:
    """Drop `projections` and rebuild them from position 0 in up to `jobs` processes (the
    projections dealt out round-robin, the costly ones first: stories and search are the
    slowest folds); return each one's checkpoint."""
    url = getattr(log, "url", "")
    if not url or url.startswith("memory"):
        raise ValueError("rebuilding in processes needs a log they can open (SQLite or PostgreSQL)")
    ordered = sorted(projections, key=lambda p: p.name not in ("search", "stories"))
    groups: list[list[Projection]] = [[] for _ in range(min(jobs, len(ordered)))]
    for n, projection in enumerate(ordered):
        groups[n % len(groups)].append(projection)
    _JOB.update(url=url, groups=groups)
    context = multiprocessing.get_context("fork")
    checkpoints: dict[str, int] = {}
    with context.Pool(len(groups)) as pool:
        for done in pool.imap_unordered(_rebuild_group, range(len(groups))):
            checkpoints.update(done)
    return checkpoints

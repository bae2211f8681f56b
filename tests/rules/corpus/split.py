"""The labelled corpora the default pack is scored on, and news-dev's dev / held-out split.

``news-dev`` is read from ``../shared/corpus`` (it is not part of this repository); the
split (``news-dev-split.yaml``) and our own labelled items (``own-*.jsonl``) live here.

    python -m tests.rules.corpus.split holdout > /tmp/holdout.jsonl
    monitor rules eval /tmp/holdout.jsonl

writes one part (``dev`` or ``holdout``) of news-dev as JSON lines for ``monitor rules eval``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
NEWS_DEV = ROOT.parent / "shared" / "corpus" / "news-dev.jsonl"
SPLIT = HERE / "news-dev-split.yaml"
OWN = sorted(HERE.glob("own-*.jsonl"))
#: The blind held-out rounds (see README.md).
BLIND = sorted(HERE.glob("blind*.jsonl"))


def holdout_ids() -> frozenset[str]:
    """The ids of news-dev's held-out items (every item of every held-out event)."""
    events = yaml.safe_load(SPLIT.read_text(encoding="utf-8"))["holdout"]
    return frozenset(item for ids in events.values() for item in ids)


def news_dev_lines(part: str) -> Iterator[str]:
    """The JSON lines of news-dev's ``dev`` or ``holdout`` part (``all`` for both)."""
    if part not in ("dev", "holdout", "all"):
        raise ValueError(f"part must be dev, holdout or all, not {part!r}")
    held = holdout_ids()
    with NEWS_DEV.open(encoding="utf-8") as stream:
        for line in stream:
            if not line.strip():
                continue
            if part == "all" or (json.loads(line)["id"] in held) == (part == "holdout"):
                yield line if line.endswith("\n") else line + "\n"


if __name__ == "__main__":
    sys.stdout.writelines(news_dev_lines(sys.argv[1] if len(sys.argv) > 1 else "holdout"))

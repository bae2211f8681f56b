"""The general-stream precision measurement: the default pack over ``../shared/realfeeds``.

Every well-formed and degraded feed of ``../shared/realfeeds`` (not feedparser's ill-formed
test cases) is parsed the way the watcher parses a polled feed; each item is keyed
``FILE#GUID`` (the file relative to realfeeds, the entry's guid, else its link). What a reader
says of every item a rule of the pack ever fired on is kept in ``realfeeds-labels.yaml``
(item key: the rule ids that should fire on it; an empty list: none should). A firing on an
item not listed there, or of a rule not in the item's list, is a false alert.

    python -m tests.rules.corpus.realfeeds > /tmp/realfeeds.jsonl
    monitor rules eval /tmp/realfeeds.jsonl --every-rule

writes the items as JSON lines labelled with rule ids, for ``monitor rules eval``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import yaml

from monitor.feeds._normalize import normalize_entries
from monitor.feeds._parse import parse_feed

HERE = Path(__file__).parent
REALFEEDS = HERE.parents[2].parent / "shared" / "realfeeds"
LABELS = HERE / "realfeeds-labels.yaml"
_RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)


def feed_files() -> list[Path]:
    """The feed documents measured (feedparser's ill-formed samples are not news)."""
    return sorted(
        p for p in REALFEEDS.rglob("*.xml") if "feedparser_illformed" not in p.parent.name
    )


def realfeed_items() -> Iterator[tuple[str, dict[str, object]]]:
    """Yield ``(key, item fields)`` for every item of every measured feed, in file order."""
    for path in feed_files():
        name = str(path.relative_to(REALFEEDS))
        parsed = parse_feed(path.read_bytes(), url="https://feeds.example/" + path.name)
        for item in normalize_entries(parsed, feed_id=path.stem, received=_RECEIVED):
            fields = {
                "id": f"{name}#{item.guid or item.url}",
                "title": item.title,
                "summary": item.summary,
                "content": item.content,
                "source": item.source,
                "url": item.url,
                "lang": (item.lang or "en").split("-")[0],
                "feed": item.feed_id,
            }
            yield str(fields["id"]), fields


def labels() -> dict[str, list[str]]:
    """Item key -> the rule ids a reader says should fire on it."""
    data = yaml.safe_load(LABELS.read_text(encoding="utf-8")) if LABELS.exists() else None
    return {str(k): list(v or []) for k, v in (data or {}).items()}


def labelled_lines() -> Iterator[str]:
    """Every item as a JSON line whose ``labels`` are the rule ids that should fire."""
    truth = labels()
    for key, fields in realfeed_items():
        yield json.dumps({**fields, "labels": truth.get(key, [])}, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.writelines(labelled_lines())

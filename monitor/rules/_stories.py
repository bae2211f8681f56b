"""Stories: near-duplicate items (wire copy and its reprints) clustered under one `story_id`.

An item's text (title, summary, content) goes through the rule engine's normalization
(`normalize_tokens`), is cut into word 3-shingles and summarized by a 64-permutation MinHash
(`datasketch`, scheme ``affine32``, seed 1, CRC-32 as the base hash: the same bytes on every
machine). Locality-sensitive hashing (21 bands of 3 rows, each bucket keeping its latest
`BUCKET_CAP` items) finds the earlier items that may be near duplicates; each candidate is
checked on the whole signature, and the item joins the story of the most similar one whose
estimated Jaccard similarity is at least `THRESHOLD` (ties: the earliest indexed). Otherwise it
starts a story whose id is its own item id.

Items that share most of their text (a feed whose every summary is the same boilerplate, with
short titles) are near duplicates by this measure and fall into one story.

**Deterministic on replay.** The result for an item depends only on the items before it in log
order: no clock, no randomness, no set or dict order (candidates are ranked by similarity, then
by their indexing sequence). Two watchers, a restart, or a replay into a fresh log compute the
same story ids, which is what lets the evaluator put them on alerts.

**Window and memory.** Only items within `window` (default 48 h) of event time of each other
can share a story. The *watermark* is the latest event time seen; an indexed item older than
``watermark - window`` is *stale*: it counts as absent whether or not it was evicted yet, so
eviction (run when the oldest entry is more than ``window / 16`` past the window) only saves
memory and never changes an answer. An item already stale when it arrives starts its own story
and is not indexed. So the index holds the items of at most ``window * 17 / 16`` of event time,
about 21 bucket slots and a 256-byte signature each, plus one record per story that still has a
live item: memory grows with the feed rate times the window, never with the log.

The state lives in a `StoryStore` (a string-keyed JSON store plus an expiry scan): in memory for
the evaluator (`MemoryStoryStore`), in the log's projection tables for the ``stories``
projection. Both run this same code, so they agree.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import attrs

from ..events import ItemReceived, event_time
from ._normalize import normalize_tokens

__all__ = [
    "BANDS",
    "BUCKET_CAP",
    "NUM_PERM",
    "ROWS",
    "THRESHOLD",
    "MemoryStoryStore",
    "StoryIndex",
    "StoryStore",
    "StoryUpdate",
    "item_outlet",
    "story_shingles",
]

#: MinHash permutations per signature, and the LSH banding (BANDS * ROWS <= NUM_PERM). With 21
#: bands of 3 rows a pair at similarity 0.5 is a candidate 94% of the time, at 0.05 0.3%.
NUM_PERM = 64
BANDS = 21
ROWS = 3
#: The estimated Jaccard similarity of word 3-shingles from which two items are one story.
THRESHOLD = 0.5
#: Items with fewer shingles than this are too short to tell reprints apart: their own story.
MIN_SHINGLES = 8
SHINGLE = 3
#: An LSH bucket keeps its latest `BUCKET_CAP` items: a run of copies of one text (or items that
#: share boilerplate) would otherwise make every new item check them all. So an item checks at
#: most BANDS * BUCKET_CAP candidates, and a copy still finds the latest copies before it.
BUCKET_CAP = 4
DEFAULT_WINDOW = 48 * 3600.0

_PERMUTATIONS: Any = None


def _minhash(shingles: set[str]) -> bytes:
    """The MinHash signature of `shingles`: NUM_PERM big-endian uint32 values."""
    global _PERMUTATIONS
    from datasketch.minhash import MinHash  # numpy and scipy: load on first use only

    if _PERMUTATIONS is None:
        _PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32").permutations
    # CRC-32 as the base hash: fixed by the standard (so on every machine and version), in C,
    # and twice as fast here as datasketch's default SHA-1; the permutations spread it.
    m = MinHash(
        num_perm=NUM_PERM,
        seed=1,
        permutations=_PERMUTATIONS,
        scheme="affine32",
        hashfunc=zlib.crc32,
    )
    m.update_batch([s.encode("utf-8") for s in sorted(shingles)])
    return bytes(m.hashvalues.astype(">u4").tobytes())


def story_shingles(item: ItemReceived) -> set[str]:
    """The word 3-shingles of the item's normalized title, summary and content."""
    text = "\n".join(p for p in (item.title, item.summary, item.content) if p)
    words = normalize_tokens(text)
    if len(words) < SHINGLE:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def item_outlet(item: ItemReceived) -> str:
    """The outlet an item counts for: its publisher (`source`), else its feed id."""
    return item.source or item.feed_id


def _similarity(a: bytes, b: bytes) -> float:
    """The estimated Jaccard similarity of two signatures: the share of equal hash values."""
    import numpy  # loaded with datasketch already

    same = numpy.count_nonzero(numpy.frombuffer(a, ">u4") == numpy.frombuffer(b, ">u4"))
    return int(same) / NUM_PERM


class StoryStore(Protocol):
    """Where a `StoryIndex` keeps its state: JSON values under string keys."""

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value under `key`, or `default`."""

    def put(self, key: str, value: Any) -> None:
        """Store `value` under `key`."""

    def delete(self, key: str) -> None:
        """Remove `key` (a no-op when absent)."""

    def append(self, key: str, value: str) -> None:
        """Add `value` to the list under `key` (created when absent), keeping the last
        `BUCKET_CAP` values."""

    def expiry(self) -> Iterator[tuple[float, str]]:
        """Yield ``(event time, item id)`` of the indexed items, oldest first."""

    def add_expiry(self, when: float, item: str) -> None:
        """Remember that `item` (event time `when`) is indexed."""

    def drop_expiry(self, when: float, item: str) -> None:
        """Forget the expiry entry of `item`."""


class MemoryStoryStore:
    """A `StoryStore` in dicts and a heap (the evaluator's).

    LSH buckets (``b:`` keys, about 21 per item) are the bulk of the index, so they are kept
    apart under the process's own hash of their key: an int instead of a 28-character string,
    and a bucket of one item holds the item id itself, not a list. A hash collision only adds
    a candidate, which the full signature check then rejects.
    """

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.buckets: dict[int, str | list[str]] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self.data) + len(self.buckets)

    def get(self, key: str, default: Any = None) -> Any:
        if key.startswith("b:"):
            bucket = self.buckets.get(hash(key), default)
            return (bucket,) if isinstance(bucket, str) else bucket
        return self.data.get(key, default)

    def put(self, key: str, value: Any) -> None:
        if key.startswith("b:"):
            self.buckets[hash(key)] = value[0] if len(value) == 1 else list(value)
        else:
            self.data[key] = value

    def delete(self, key: str) -> None:
        if key.startswith("b:"):
            self.buckets.pop(hash(key), None)
        else:
            self.data.pop(key, None)

    def append(self, key: str, value: str) -> None:
        h = hash(key)
        bucket = self.buckets.get(h)
        if bucket is None:
            self.buckets[h] = value
        elif isinstance(bucket, str):
            self.buckets[h] = [bucket, value]
        else:
            bucket.append(value)
            if len(bucket) > BUCKET_CAP:
                del bucket[0]

    def expiry(self) -> Iterator[tuple[float, str]]:
        while self._heap:
            yield self._heap[0]

    def add_expiry(self, when: float, item: str) -> None:
        heapq.heappush(self._heap, (when, item))

    def drop_expiry(self, when: float, item: str) -> None:
        if self._heap and self._heap[0] == (when, item):
            heapq.heappop(self._heap)


@attrs.frozen
class StoryUpdate:
    """Where one item went: its story, and the story's totals including it."""

    item_id: str
    story_id: str
    items: int
    outlets: int
    first_time: datetime
    last_time: datetime
    similarity: float = 1.0

    @property
    def new(self) -> bool:
        """True when the item started its story."""
        return self.story_id == self.item_id


class StoryIndex:
    """Assign items, in log order, to stories (see the module docstring).

    `keep=True` keeps every story's record after its items left the window and an
    ``i:<item_id>`` -> story id entry per item (the ``stories`` projection's view); the
    evaluator's index keeps neither, so its memory stays bounded. Not thread-safe.
    """

    def __init__(
        self,
        store: StoryStore | None = None,
        *,
        window: float = DEFAULT_WINDOW,
        keep: bool = False,
    ) -> None:
        self.store: StoryStore = store if store is not None else MemoryStoryStore()
        self.window = float(window)
        self.slack = self.window / 16
        self.keep = keep

    # --- state -------------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        return self.store.get("meta") or {"watermark": None, "seq": 0, "oldest": None}

    def add(self, item: ItemReceived) -> StoryUpdate:
        """Assign `item` to a story, index it, and return the story's totals."""
        when = event_time(item).timestamp()
        meta = self._meta()
        watermark = when if meta["watermark"] is None else max(meta["watermark"], when)
        meta["watermark"] = watermark
        horizon = watermark - self.window
        outlet = item_outlet(item)
        shingles = story_shingles(item) if when >= horizon else set()
        sig = _minhash(shingles) if len(shingles) >= MIN_SHINGLES else None
        best: tuple[float, int, str] | None = None  # (-similarity, seq, story)
        bands = [sig[b * ROWS * 4 : (b + 1) * ROWS * 4].hex() for b in range(BANDS)] if sig else []
        if sig is not None:
            seen: set[str] = set()
            for band, part in enumerate(bands):
                for other in self.store.get(f"b:{band}:{part}", ()):
                    if other in seen:
                        continue
                    seen.add(other)
                    entry = self.store.get(f"e:{other}")
                    # Stale (evicted or not yet: absent either way), or too far back. Nothing
                    # indexed is after `when + window`: `when` itself is within the window.
                    if entry is None or entry["t"] < max(horizon, when - self.window):
                        continue
                    sim = _similarity(sig, bytes.fromhex(entry["sig"]))
                    if sim >= THRESHOLD and (best is None or (-sim, entry["seq"]) < best[:2]):
                        best = (-sim, entry["seq"], entry["story"])
        story_id = best[2] if best is not None else item.item_id
        story = self.store.get(f"s:{story_id}") or {
            "first": item.item_id,
            "items": 0,
            "outlets": [],
            "first_time": when,
            "last_time": when,
            "live": 0,
        }
        story["items"] += 1
        if outlet not in story["outlets"]:
            story["outlets"] = sorted([*story["outlets"], outlet])
        story["first_time"] = min(story["first_time"], when)
        story["last_time"] = max(story["last_time"], when)
        if sig is not None:
            meta["seq"] += 1
            self.store.put(
                f"e:{item.item_id}",
                {"t": when, "sig": sig.hex(), "story": story_id, "seq": meta["seq"]},
            )
            for band, part in enumerate(bands):
                self.store.append(f"b:{band}:{part}", item.item_id)
            self.store.add_expiry(when, item.item_id)
            story["live"] += 1
            meta["oldest"] = when if meta["oldest"] is None else min(meta["oldest"], when)
        if self.keep or story["live"]:
            self.store.put(f"s:{story_id}", story)
        if self.keep:
            self.store.put(f"i:{item.item_id}", story_id)
        if meta["oldest"] is not None and meta["oldest"] < horizon - self.slack:
            self._evict(horizon, meta)
        self.store.put("meta", meta)
        return StoryUpdate(
            item_id=item.item_id,
            story_id=story_id,
            items=story["items"],
            outlets=len(story["outlets"]),
            first_time=_from_ts(story["first_time"]),
            last_time=_from_ts(story["last_time"]),
            similarity=-best[0] if best is not None else 1.0,
        )

    def _evict(self, horizon: float, meta: dict[str, Any]) -> None:
        """Drop every indexed item older than `horizon` (stale already: memory only)."""
        meta["oldest"] = None
        for when, other in self.store.expiry():
            if when >= horizon:
                meta["oldest"] = when
                break
            self.store.drop_expiry(when, other)
            entry = self.store.get(f"e:{other}")
            if entry is None:
                continue
            self.store.delete(f"e:{other}")
            sig = bytes.fromhex(entry["sig"])
            for band in range(BANDS):
                bucket = f"b:{band}:{sig[band * ROWS * 4 : (band + 1) * ROWS * 4].hex()}"
                rest = [i for i in self.store.get(bucket, ()) if i != other]
                if rest:
                    self.store.put(bucket, rest)
                else:
                    self.store.delete(bucket)
            skey = f"s:{entry['story']}"
            story = self.store.get(skey)
            if story is not None:
                story["live"] -= 1
                if story["live"] > 0 or self.keep:
                    self.store.put(skey, story)
                else:
                    self.store.delete(skey)

    def indexed(self) -> int:
        """How many items are in the index now (stale ones not yet evicted included)."""
        return sum(1 for _ in self._entries())

    def _entries(self) -> Iterator[str]:
        data = getattr(self.store, "data", None)
        if data is None:
            raise TypeError("indexed() needs a MemoryStoryStore")
        return (k for k in data if k.startswith("e:"))


def _from_ts(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)

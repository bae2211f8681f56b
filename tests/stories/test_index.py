"""`StoryIndex`: reprints share a story, look-alikes do not, the window, bounded memory."""

from __future__ import annotations

import random
from datetime import timedelta

from monitor.rules import StoryIndex

from .conftest import WIRE_TITLE, item, other_events, wire_and_reprints, wire_text


def test_wire_item_and_five_reprints_share_one_story():
    """Reordered headlines, bylines, a trimmed paragraph and copy edits stay one story."""
    index = StoryIndex()
    items = wire_and_reprints()
    updates = [index.add(i) for i in items]
    assert {u.story_id for u in updates} == {items[0].item_id}
    assert updates[0].new and not updates[1].new
    assert [u.outlets for u in updates] == [1, 2, 3, 4, 5, 6]
    assert updates[-1].items == 6
    assert all(u.similarity >= 0.5 for u in updates[1:])


def test_other_events_same_place_same_day_are_separate_stories():
    """Stories about other events in the same city on the same day each start their own."""
    index = StoryIndex()
    reprints = [index.add(i) for i in wire_and_reprints()]
    others = [index.add(i) for i in other_events()]
    assert all(u.new for u in others)
    assert len({u.story_id for u in others} | {reprints[0].story_id}) == len(others) + 1


def test_others_interleaved_with_reprints_do_not_split_or_merge():
    """Interleaving the look-alikes with the reprints changes nothing."""
    index = StoryIndex()
    wire = wire_and_reprints()
    others = other_events()
    mixed = [x for pair in zip(wire, others, strict=False) for x in pair] + wire[len(others) :]
    stories = {i.item_id: index.add(i).story_id for i in mixed}
    assert {stories[i.item_id] for i in wire} == {wire[0].item_id}
    assert all(stories[i.item_id] == i.item_id for i in others)


def test_reprint_outside_the_window_starts_a_new_story():
    """A reprint 49 hours after the wire item is a new story (48 h window)."""
    index = StoryIndex()
    first = index.add(wire_and_reprints()[0])
    late = item(9, title=WIRE_TITLE, content=wire_text(), outlet="late", hours=49)
    assert index.add(late).story_id == late.item_id != first.story_id


def test_late_arrival_inside_the_window_joins():
    """An item published before the newest one, but within the window, still joins."""
    index = StoryIndex()
    wire = wire_and_reprints(hours=10)
    index.add(wire[0])
    early = item(8, title=WIRE_TITLE, content=wire_text(), outlet="early", hours=0)
    assert index.add(early).story_id == wire[0].item_id


def test_short_items_are_their_own_story():
    """Headlines alone are too short to tell reprints apart: each is its own story."""
    index = StoryIndex()
    a = item(1, title="Explosion reported", content="", outlet="a")
    b = item(2, title="Explosion reported", content="", outlet="b")
    assert index.add(a).new and index.add(b).new


def test_same_outlet_counts_once():
    """Two copies from one outlet count one outlet."""
    index = StoryIndex()
    wire = wire_and_reprints()[0]
    again = item(50, title=WIRE_TITLE, content=wire_text(), outlet="wire")
    index.add(wire)
    update = index.add(again)
    assert update.items == 2 and update.outlets == 1


def test_memory_is_bounded_by_the_window():
    """A month of hourly unrelated stories keeps only about the window's worth indexed."""
    rnd = random.Random(7)
    words = [f"w{n}" for n in range(5000)]
    index = StoryIndex(window=48 * 3600)
    for n in range(24 * 30):
        text = " ".join(rnd.choice(words) for _ in range(40))
        index.add(item(n, title=f"story {n}", content=text, outlet="o", hours=n))
    indexed = index.indexed()
    assert indexed <= 48 * 17 / 16 + 1  # the window plus the eviction slack
    assert indexed >= 48
    stories = sum(1 for k in index.store.data if k.startswith("s:"))  # type: ignore[attr-defined]
    assert stories == indexed


def test_eviction_timing_never_changes_an_answer():
    """An index with a tiny eviction slack and one that never evicts agree on every item."""
    items = wire_and_reprints() + other_events() + wire_and_reprints(hours=30, base=10)
    items += wire_and_reprints(hours=60, base=20) + other_events(hours=61, base=200)
    eager = StoryIndex()
    eager.slack = 0.0
    lazy = StoryIndex()
    lazy.slack = float("inf")
    for i in items:
        assert eager.add(i) == lazy.add(i)
    assert eager.indexed() < lazy.indexed()


def test_story_times_cover_its_items():
    """first_time/last_time are the earliest and latest event times of the story's items."""
    index = StoryIndex()
    items = wire_and_reprints()
    for i in items:
        last = index.add(i)
    assert last.first_time == items[0].published
    assert last.last_time == items[-1].published
    assert last.last_time - last.first_time == timedelta(hours=9)

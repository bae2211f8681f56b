"""`SpillKeys` and `SpillMatches`: exact sets and maps on a temporary database, so what an
evaluator or a backtest remembers for the whole history does not live in memory."""

from __future__ import annotations

import random
import tracemalloc

from monitor.alerting._spill import _FLUSH_AT, SpillKeys, SpillMatches


def test_add_new_says_which_keys_are_new_in_order():
    keys = SpillKeys()
    assert keys.add_new(["a", "b", "a"]) == [True, True, False]  # repeated in the batch
    assert keys.add_new(["b", "c"]) == [False, True]  # seen in an earlier batch
    keys.add("d")  # buffered, and still seen by the next batch
    assert keys.add_new(["d", "e"]) == [False, True]
    assert list(keys.missing_from(SpillKeys())) == ["a", "b", "c", "d", "e"]


def test_missing_from_is_the_set_difference_on_random_keys():
    rng = random.Random(7)
    words = ["قافلة", "التنف", "convoy", "Tanf", "é", "z", "a\x1fb", "\x1e"]
    mine_keys = {rng.choice(words) + str(rng.randrange(3000)) for _ in range(6000)}
    their_keys = {rng.choice(words) + str(rng.randrange(3000)) for _ in range(6000)}
    mine, theirs = SpillKeys(), SpillKeys()
    for key in mine_keys:
        mine.add(key)  # more than one flush's worth, through the buffer
    theirs.add_new(sorted(their_keys))
    assert len(mine_keys) > _FLUSH_AT
    assert list(mine.missing_from(theirs)) == sorted(mine_keys - their_keys)
    assert list(theirs.missing_from(mine)) == sorted(their_keys - mine_keys)


def test_the_first_alert_of_a_rule_and_item_is_kept():
    matches = SpillMatches()
    matches.remember("item-1", "convoy", "alert-a")
    matches.remember("item-1", "convoy", "alert-b")  # a later version: the first id stays
    matches.remember("item-1", "denial", "alert-c")
    matches.remember("item-2", "convoy", "alert-d")
    assert matches.rules_of("item-1") == {"convoy": "alert-a", "denial": "alert-c"}
    assert matches.rules_of("item-3") == {}
    for n in range(_FLUSH_AT + 10):  # past a flush
        matches.remember(f"bulk-{n}", "convoy", f"alert-{n}")
    assert matches.rules_of("bulk-5") == {"convoy": "alert-5"}
    assert matches.rules_of("item-1") == {"convoy": "alert-a", "denial": "alert-c"}


def test_memory_stays_flat_however_many_keys_are_kept():
    """200,000 alert-sized keys: a Python set of them takes about 30 MB; kept here, Python's
    heap holds one flush buffer at most, whatever the count (SQLite's own page cache, outside
    Python's heap, is bounded by its cache size)."""
    keys = SpillKeys()
    matches = SpillMatches()
    tracemalloc.start()
    try:
        for start in range(0, 200_000, 500):
            keys.add_new([f"alert:{n:064x}" for n in range(start, start + 500)])
            for n in range(start, start + 500):
                matches.remember(f"{n:064x}", "troop-movement", f"{n:064x}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert keys.add_new(["alert:" + "0" * 64, "new"]) == [False, True]
    assert matches.rules_of(f"{199_999:064x}") == {"troop-movement": f"{199_999:064x}"}
    assert peak < 5_000_000, peak
    assert keys._db.execute("PRAGMA cache_size").fetchone()[0] < 0  # KiB, not pages


def test_a_closed_store_can_be_closed_again():
    keys = SpillKeys()
    keys.add("a")
    keys.close()
    keys.close()

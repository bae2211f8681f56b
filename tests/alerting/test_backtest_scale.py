"""Backtests at scale give exactly the sequential full scan's result: with the search index as
a presearch (only items that can match are read), with worker processes matching position
ranges, and with both, on random rule sets over random items."""

from __future__ import annotations

import json
import random
import tracemalloc
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from monitor import search
from monitor.alerting import backtest
from monitor.events import ItemReceived, ItemRevised, content_hash, item_id
from monitor.log import open_log
from monitor.rules import load_rules

T0 = datetime(2026, 4, 1, tzinfo=UTC)
WORDS = [
    "convoy", "convoys", "drone", "drones", "strike", "shelling", "tanf", "garrison",
    "militia", "border", "crossing", "denied", "officials", "rocket", "base", "troops",
    "market", "prices", "weather", "school", "harvest", "water", "council", "road",
]  # fmt: skip
ARABIC = ["قافلة", "والقافلة", "طائرة", "التنف", "بالتنف", "قصف", "الحدود"]


def clock() -> datetime:
    return T0


def random_rules(rng: random.Random, count: int) -> str:
    """`count` rules: word lists, phrases, all-of, near, a regex with a literal, a negation,
    an Arabic term; some throttled, and a correlation over two of them."""
    docs = []
    for n in range(count):
        words = rng.sample(WORDS, 3)
        kind = rng.choice(["any", "all", "near", "phrase", "not", "regex", "arabic"])
        if kind == "any":
            detection = f"s: {{text: [{words[0]}, {words[1]}]}}\n  condition: s"
        elif kind == "all":
            detection = f"s: {{text|all: [{words[0]}, {words[1]}]}}\n  condition: s"
        elif kind == "near":
            detection = f"s: {{text|near=4: [{words[0]}, {words[1]}]}}\n  condition: s"
        elif kind == "phrase":
            detection = f"s: {{text: ['{words[0]} {words[1]}']}}\n  condition: s"
        elif kind == "not":
            detection = (
                f"s: {{text: [{words[0]}]}}\n  n: {{text: [{words[1]}]}}\n  condition: s and not n"
            )
        elif kind == "regex":
            detection = (  # a regex is found inside words: only the word can presearch
                f"s: {{text: [{words[1]}]}}\n  r: {{text|re: ['{words[0]}\\s+\\w+']}}\n"
                "  condition: s and r"
            )
        else:
            detection = f"s: {{text: [{rng.choice(ARABIC)}, {words[0]}]}}\n  condition: s"
        throttle = f"throttle: {rng.choice(['2h', '6h'])}\n" if rng.random() < 0.5 else ""
        docs.append(
            f"id: r{n}\ntitle: rule {n}\nlevel: medium\ndetection:\n  {detection}\n{throttle}"
        )
    docs.append(
        "id: pair\ntitle: pair\nlevel: high\ncorrelation:\n  type: event_count\n"
        "  rules: [r0, r1]\n  timespan: 12h\n  condition: {gte: 2}\n"
    )
    return "---\n".join(docs)


def random_items(rng: random.Random, count: int) -> list[ItemReceived]:
    items = []
    for n in range(count):
        words = rng.choices(WORDS + ARABIC, k=rng.randint(4, 14))
        if rng.random() < 0.7:  # most items say nothing a rule looks for
            words = rng.choices(["market", "prices", "weather", "school", "water"], k=6)
        published = T0 + timedelta(minutes=17 * n)
        feed = f"feed{n % 3}"
        items.append(
            ItemReceived(
                item_id=item_id(feed, guid=f"g{n}"),
                feed_id=feed,
                guid=f"g{n}",
                received=published,
                published=published,
                title=" ".join(words[:4]).capitalize(),
                summary=" ".join(words),
                source=f"outlet{n % 5}",
            )
        )
    return items


def revision_of(item: ItemReceived, text: str) -> ItemRevised:
    """A revision of `item` whose title and summary become `text`."""
    new = attrs.evolve(item, title=text, summary=text)
    fields = {f.name: getattr(new, f.name) for f in attrs.fields(ItemReceived)}
    return ItemRevised(**fields, revision=1, content_hash=content_hash(new))


def results(report) -> list:
    return [
        (r.rule_id, r.would_raise, r.would_suppress, r.active, r.new, r.gone, r.examples)
        for r in report.rules
    ]


@pytest.mark.parametrize("seed", range(5))
def test_prefilter_and_workers_equal_the_full_scan_on_random_rule_sets(tmp_path, seed) -> None:
    rng = random.Random(seed)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(random_rules(rng, 8))
    ruleset = load_rules(tmp_path / "rules")
    items = random_items(rng, 400)
    with open_log(tmp_path / "log.db") as log:
        log.append_events(items)
        # revisions: one that stops matching what its first version matched, one that starts
        log.append_events(
            [revision_of(items[5], "market prices"), revision_of(items[9], "convoy drone")]
        )
        full = backtest(log, ruleset, clock=clock, step=97)
        candidates, visit, note = search.backtest_candidates(log, ruleset, mode="on")
        prefiltered = backtest(log, ruleset, clock=clock, step=97, candidates=candidates)
        jumping = backtest(log, ruleset, clock=clock, candidates=candidates, visit=visit)
        workers = backtest(log, ruleset, clock=clock, step=97, jobs=2)
        both = backtest(log, ruleset, clock=clock, step=97, jobs=2, candidates=candidates)
    assert candidates is not None and visit is not None, note
    # the revised items' first versions and both revisions are read whatever their text
    assert {6, 10, 401, 402} <= set(visit.positions)  # positions 1-400 hold the items
    assert prefiltered.scan == "prefiltered by the search index"
    assert prefiltered.prefiltered > 0  # the index really left items unread
    assert results(prefiltered) == results(jumping) == results(full)
    assert results(workers) == results(both) == results(full)
    assert sum(r.would_raise for r in full.rules) > 0
    assert workers.items == full.items
    # every item record was either read or left unread (no time window here)
    assert prefiltered.items + prefiltered.prefiltered == full.items
    assert jumping.items + jumping.prefiltered == full.items


def test_a_time_window_gives_the_same_result_whatever_the_reading(tmp_path) -> None:
    rng = random.Random(42)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(random_rules(rng, 6))
    ruleset = load_rules(tmp_path / "rules")
    with open_log(tmp_path / "log.db") as log:
        log.append_events(random_items(rng, 300))
        window = {"since": T0 + timedelta(hours=20), "until": T0 + timedelta(hours=60)}
        full = backtest(log, ruleset, clock=clock, **window)
        candidates, visit, _ = search.backtest_candidates(log, ruleset, mode="on")
        fast = backtest(log, ruleset, clock=clock, jobs=2, candidates=candidates, **window)
        jump = backtest(log, ruleset, clock=clock, candidates=candidates, visit=visit, **window)
    assert results(fast) == results(jump) == results(full)
    assert fast.items <= full.items


def test_rules_that_read_every_item_turn_the_prefilter_off(tmp_path) -> None:
    """A story throttle (stories depend on every item) keeps the full scan, and says why."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "id: s\ntitle: s\nlevel: low\ndetection:\n  s: {text: [convoy]}\n  condition: s\n"
        "throttle: {window: 6h, by: story}\n"
    )
    ruleset = load_rules(tmp_path / "rules")
    with open_log(tmp_path / "log.db") as log:
        log.append_events(random_items(random.Random(1), 100))
        candidates, visit, _ = search.backtest_candidates(log, ruleset, mode="on")
        report = backtest(log, ruleset, clock=clock, candidates=candidates, visit=visit)
        full = backtest(log, ruleset, clock=clock)
    assert report.scan.startswith("full scan (the rules cluster stories")
    assert report.prefiltered == 0 and results(report) == results(full)


def test_a_rule_without_index_terms_reads_everything(tmp_path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "id: k\ntitle: k\nlevel: low\ndetection:\n  s: {feed: [feed1]}\n  condition: s\n"
    )
    with open_log(tmp_path / "log.db") as log:
        log.append_events(random_items(random.Random(2), 20))
        candidates, _visit, note = search.backtest_candidates(log, load_rules(tmp_path / "rules"))
    assert candidates is None and "no index terms for k" in note


def test_cli_jobs_and_prefilter(tmp_path, monitor_cli) -> None:
    """`monitor backtest --jobs 2 --prefilter on --json` reports how it read the history."""
    rng = random.Random(3)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(random_rules(rng, 5))
    db = str(tmp_path / "log.db")
    with open_log(db) as log:
        log.append_events(random_items(rng, 200))
    args = ["--db", db, "backtest", "--rules", str(tmp_path / "rules"), "--json"]
    fast = json.loads(monitor_cli(*args, "--jobs", "2", "--prefilter", "on"))
    workers = json.loads(monitor_cli(*args, "--jobs", "2", "--prefilter", "off"))
    slow = json.loads(monitor_cli(*args, "--jobs", "1", "--prefilter", "off"))
    # with the index listing the records to read, one process jumps from one to the next
    assert fast["jobs"] == 1 and fast["scan"] == "prefiltered by the search index"
    assert workers["jobs"] == 2 and workers["scan"] == "full scan"
    assert slow["jobs"] == 1 and slow["scan"] == "full scan" and slow["prefiltered"] == 0
    assert fast["rules"] == workers["rules"] == slow["rules"]


@pytest.fixture
def monitor_cli(capsys):
    """Run `monitor` in-process; return its stdout (exit 0 expected)."""
    from monitor.cli import main

    def run(*args: str) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        assert exit_info.value.code == 0
        return capsys.readouterr().out

    return run


def test_workers_run_at_most_two_ranges_each_ahead_of_the_fold(tmp_path, monkeypatch):
    """Ranges are handed to the workers as the fold consumes them, never all at once: a
    fold slower than the workers must not pile finished ranges up in memory."""
    from multiprocessing.pool import Pool

    from monitor.alerting import match_ranges

    submitted: list[tuple[int, int]] = []
    real = Pool.apply_async

    def counting(self, func, args=(), *rest, **kw):
        submitted.append(args[0])
        return real(self, func, args, *rest, **kw)

    monkeypatch.setattr(Pool, "apply_async", counting)
    (tmp_path / "r.yaml").write_text(
        "id: r\ntitle: r\nlevel: low\ndetection:\n  s: {text: [convoy]}\n  condition: s\n"
    )
    ruleset = load_rules(tmp_path)
    with open_log(tmp_path / "log.db") as log:
        log.append_events(
            [
                ItemReceived(
                    item_id=item_id("f", guid=str(n)),
                    feed_id="f",
                    guid=str(n),
                    title=f"convoy {n}" if n % 2 else f"market {n}",
                    received=T0,
                )
                for n in range(60)
            ]
        )
        ranges = match_ranges(
            log, ruleset, jobs=2, head=log.head(), step=5, since=None, until=None, candidates=None
        )
        ends = []
        for consumed, (end, matched, _unmatched, _prefiltered) in enumerate(ranges, start=1):
            assert len(submitted) <= consumed + 4  # 2 jobs x 2 in flight, beyond those yielded
            ends.append(end)
            assert all(p <= end for p in matched)
    assert ends == list(range(5, 61, 5)) and len(submitted) == 12


def test_a_backtest_s_memory_does_not_grow_with_the_history(tmp_path) -> None:
    """A backtest over a history four times as long peaks at about the same memory: what it
    must remember for the whole history (dedupe keys, which rules matched which item, the
    alerts to compare) is on temporary databases, and the decode caches are bounded. (Before
    they were, the longer history peaked at 1.43x the shorter one's memory.)"""
    rng = random.Random(5)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(random_rules(rng, 8))
    ruleset = load_rules(tmp_path / "rules")
    items = random_items(rng, 24_000)
    peaks = []
    with open_log(tmp_path / "log.db") as log:
        for start in range(0, len(items), 2000):
            log.append_events(items[start : start + 2000])
        for until in (T0 + timedelta(minutes=17 * 6_000), None):
            tracemalloc.start()
            try:
                report = backtest(log, ruleset, clock=clock, until=until)
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
            assert sum(r.would_raise + r.would_suppress for r in report.rules) > 1000
    assert peaks[1] < 1.25 * peaks[0], peaks


def test_a_backtest_that_jumps_to_the_indexed_items_keeps_no_alert_either(tmp_path) -> None:
    """Read through the search index (one evaluator run over every listed item), a backtest
    whose rule matches every item peaks at about the same memory over 16,000 items as over
    4,000: the alerts are counted, not listed (the evaluator's report listed each one)."""
    (tmp_path / "r.yaml").write_text(
        "id: r\ntitle: r\nlevel: low\ndetection:\n  s: {text: [convoy]}\n  condition: s\n"
    )
    ruleset = load_rules(tmp_path)
    items = [
        ItemReceived(
            item_id=item_id("f", guid=str(n)),
            feed_id="f",
            guid=str(n),
            title=f"Convoy number {n} seen on the road",
            received=T0 + timedelta(minutes=n),
        )
        for n in range(16_000)
    ]
    peaks = []
    with open_log(tmp_path / "log.db") as log:
        log.append_events(items)
        search.catch_up(log)
        for until in (T0 + timedelta(minutes=3_999), None):
            candidates, visit, _ = search.backtest_candidates(log, ruleset, mode="on")
            tracemalloc.start()
            try:
                report = backtest(
                    log, ruleset, clock=clock, candidates=candidates, visit=visit, until=until
                )
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
            assert report.rules[0].would_raise == (4_000 if until else 16_000)
    assert peaks[1] < 1.25 * peaks[0], peaks

"""Revisions as events: a local server serves successive versions of a feed; changed items
become `ItemRevised` once, alerts fire on the revision that first matches, never twice, and a
replay gives the same alerts."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import Monitor
from monitor.alerting import AlertEvaluator, detection_alert_id
from monitor.events import (
    AlertRaised,
    AlertSuperseded,
    ItemReceived,
    ItemRevised,
    content_hash,
    item_id,
    revision_of,
)
from monitor.feeds import FeedConfig
from monitor.log import MemoryLog, open_log
from monitor.projections import AlertTimeline, ItemVersions

from .conftest import LOCAL, rss

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULES = """\
id: ground-op
title: Ground operation
level: high
detection:
  ground:
    text: ["ground operation", "ground offensive"]
  condition: ground
---
id: strike
title: Strike
level: medium
detection:
  hit:
    text: [strike, strikes]
  condition: hit
"""


def clock() -> datetime:
    return NOW


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules"
    path.mkdir()
    (path / "rules.yaml").write_text(RULES)
    return path


def entry(n: int, title: str, **extra: str) -> dict[str, str]:
    return {
        "guid": f"g{n}",
        "link": f"https://wire.example/{n}",
        "title": title,
        "description": extra.pop("description", f"Body of story {n}."),
        "pubDate": datetime(2026, 3, 1, n, tzinfo=UTC),
        **extra,
    }


def serve(server, entries: list[dict[str, str]]) -> None:
    server.clear()
    server.expect_request("/feed.xml").respond_with_data(
        rss(entries), content_type="application/rss+xml"
    )


def monitor(log, rules: Path) -> Monitor:
    m = Monitor(log, rules=rules, clock=clock)
    m.shared = False  # two watchers may poll the same feed (as after a lease passed on)
    return m


def feed_of(server) -> FeedConfig:
    return FeedConfig(
        id="wire", url=server.url_for("/feed.xml"), interval=600, allow_networks=LOCAL
    )


def of(log, kind):
    return [e for _, e in log.iter_events(types=(kind.__name__,))]


def iid(n: int) -> str:
    return item_id("wire", guid=f"g{n}")


VERSIONS = [
    # 1: three items; 1 reports a strike.
    [entry(1, "Strike hits fuel depot"), entry(2, "Talks resume"), entry(3, "Markets calm")],
    # 2: 1 retitled to a ground operation, 2's summary revised, 3 gains an author, 4 is new.
    [
        entry(1, "Ground operation begins near fuel depot"),
        entry(2, "Talks resume", description="Talks resumed in Geneva on Monday."),
        entry(3, "Markets calm", author="desk@wire.example (Market Desk)"),
        entry(4, "Ceasefire holds"),
    ],
    # 3: 4 drops out of the document; the rest unchanged.
    [
        entry(1, "Ground operation begins near fuel depot"),
        entry(2, "Talks resume", description="Talks resumed in Geneva on Monday."),
        entry(3, "Markets calm", author="desk@wire.example (Market Desk)"),
    ],
    # 4: 4 comes back unchanged, 3 comes back... with whitespace-only changes.
    [
        entry(1, "Ground operation begins near fuel depot"),
        entry(2, "Talks resume", description="Talks  resumed\n in Geneva   on Monday. "),
        entry(3, "  Markets   calm ", author="desk@wire.example (Market Desk)"),
        entry(4, "Ceasefire holds"),
    ],
    # 5: 4 drops out again and comes back changed below.
    [entry(1, "Ground operation begins near fuel depot")],
    [entry(1, "Ground operation begins near fuel depot"), entry(4, "Ceasefire broken")],
]


def poll_versions(server, watchers: list[Monitor]) -> None:
    feed = feed_of(server)
    for version in VERSIONS:
        serve(server, version)
        for watcher in watchers:
            watcher.poll(feed)


def alert_facts(log) -> set[tuple[str, str, tuple[str, ...]]]:
    return {
        (a.alert_id, a.rule_id, a.item_ids, a.group_key, tuple(sorted(a.facets.items())))
        for a in of(log, AlertRaised)
    }


def test_revisions_are_stored_once_in_order(httpserver, rules):
    """Retitles, new summaries and added authors are revisions; an item that leaves and comes
    back unchanged (or changed only in whitespace) is not, one that comes back changed is."""
    log = MemoryLog()
    with monitor(log, rules) as m:
        poll_versions(httpserver, [m])
        revisions = of(log, ItemRevised)
        assert [(r.item_id, r.revision) for r in revisions] == [
            (iid(1), 1),
            (iid(2), 1),
            (iid(3), 1),
            (iid(4), 1),
        ]
        assert revisions[0].title == "Ground operation begins near fuel depot"
        assert revisions[2].authors == ("Market Desk",)
        assert revisions[3].title == "Ceasefire broken"
        assert len(of(log, ItemReceived)) == 4
        first = next(e for e in of(log, ItemReceived) if e.item_id == iid(1))
        assert revisions[0].previous_hash == content_hash(first)
        assert revisions[0].lang == first.lang == "en"
        assert revisions[0].text_lang == first.text_lang
        assert revisions[0].content_hash != content_hash(first)
        m.process()
        row = ItemVersions.get(log, iid(1))
        assert row is not None
        assert row["revision"] == 1 and row["title"].startswith("Ground operation")
        assert [v["revision"] for v in row["versions"]] == [0, 1]
        history = ItemVersions.versions(log, iid(1))
        assert [type(e).__name__ for e in history] == ["ItemReceived", "ItemRevised"]
        assert history[0].title == "Strike hits fuel depot"


def test_two_pollers_store_each_revision_once(httpserver, rules, tmp_path):
    """Two watchers on one log polling the same versions store every version once; a
    revision of an item whose first version the other watcher stored works."""
    db = tmp_path / "m.db"
    with (
        Monitor.open(db, rules=rules, clock=clock) as a,
        Monitor.open(db, rules=rules, clock=clock) as b,
    ):
        a.shared = b.shared = False
        feed = feed_of(httpserver)
        serve(httpserver, VERSIONS[0])
        a.poll(feed)  # only A sees the first version
        for version in VERSIONS[1:]:
            serve(httpserver, version)
            b.poll(feed)
            a.poll(feed)
        revisions = of(a.log, ItemRevised)
        assert len(revisions) == 4
        assert len({r.dedupe_key() for r in revisions}) == 4
        assert revisions[0].item_id == iid(1)
        assert len(of(a.log, ItemReceived)) == 4


def test_alert_raised_on_the_revision_that_first_matches(httpserver, rules):
    """A strike retitled to a ground operation raises the ground-op alert on the revision,
    marks the strike alert as no longer matching, and nothing is raised twice."""
    log = MemoryLog()
    with monitor(log, rules) as m:
        poll_versions(httpserver, [m])
        serve(httpserver, [entry(1, "Ground operation and new strikes near fuel depot")])
        m.poll(feed_of(httpserver))
        m.process()
        raised = [(a.rule_id, a.item_ids) for a in of(log, AlertRaised)]
        assert sorted(raised) == sorted([("strike", (iid(1),)), ("ground-op", (iid(1),))])
        ground = next(a for a in of(log, AlertRaised) if a.rule_id == "ground-op")
        assert ground.alert_id == detection_alert_id("ground-op", 1, iid(1))
        assert ground.title == "Ground operation"
        superseded = of(log, AlertSuperseded)
        strike_id = detection_alert_id("strike", 1, iid(1))
        assert [(s.alert_id, s.revision) for s in superseded] == [(strike_id, 1)]
        listing = AlertTimeline.get(log, strike_id)
        assert listing is not None and listing["no_longer_matches"] == 1
        assert "no_longer_matches" not in (AlertTimeline.get(log, ground.alert_id) or {})


def test_replay_gives_the_same_alerts(httpserver, rules):
    """A fresh evaluator over the log gives the same alerts as the live one; so does a
    second live evaluator (duplicates only)."""
    log = MemoryLog()
    with monitor(log, rules) as m:
        poll_versions(httpserver, [m])
        live = alert_facts(log)
        assert live
        assert m.ruleset is not None
        for page_size in (1, 500):  # replay pages need not match the live runs' pages
            scratch = MemoryLog()
            AlertEvaluator(log, m.ruleset, clock=clock, output=scratch, page_size=page_size).run()
            assert alert_facts(scratch) == live
        again = AlertEvaluator(log, m.ruleset, clock=clock, name="second").run()
        assert again.alerts == [] and alert_facts(log) == live


def test_whitespace_only_changes_are_no_revision():
    """The content hash ignores whitespace, Unicode form, tracking parameters and the order
    of authors and tags, but sees a changed word, link or author."""
    base = ItemReceived(
        item_id="x",
        feed_id="f",
        received=NOW,
        url="https://Wire.example/a?utm_source=x",
        title="Strike hits depot",
        summary="Line one.\nLine two.",
        authors=("A", "B"),
        tags=("war", "syria"),
    )
    same = ItemReceived(
        item_id="x",
        feed_id="f",
        received=NOW,
        url="https://wire.example/a",
        title="  Strike\thits   depot ",
        summary="Line one. Line two.",
        authors=("B", "A"),
        tags=("syria", "war"),
        lang="en",
    )
    assert content_hash(base) == content_hash(same)
    for change in (
        {"title": "Strike hits depots"},
        {"url": "https://wire.example/b"},
        {"authors": ("A",)},
        {"tags": ("war",)},
        {"content": "More."},
    ):
        fields = {
            "item_id": "x",
            "feed_id": "f",
            "received": NOW,
            "url": base.url,
            "title": base.title,
            "summary": base.summary,
            "authors": base.authors,
            "tags": base.tags,
            **change,
        }
        assert content_hash(ItemReceived(**fields)) != content_hash(base), change


def test_events_command_lists_revisions(httpserver, rules, tmp_path):
    """`monitor events --type ItemRevised` prints the stored revisions; `monitor items history
    ID` every version of one item, and exit 1 for an unknown id."""
    db = tmp_path / "m.db"
    with Monitor.open(db, rules=rules, clock=clock) as m:
        m.shared = False
        poll_versions(httpserver, [m])
    env_path = str(Path(__file__).resolve().parents[2])
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--db", str(db), "events", "--type", "ItemRevised"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": env_path, "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["ItemRevised"] * 4
    assert lines[0]["dedupe_key"].startswith(f"revision:{iid(1)}:")
    with open_log(db, read_only=True) as log:
        assert log.head() > 0
    history = subprocess.run(
        [sys.executable, "-m", "monitor", "--db", str(db), "items", "history", iid(1), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": env_path, "PATH": ""},
    )
    assert history.returncode == 0, history.stderr
    versions = [json.loads(line) for line in history.stdout.splitlines()]
    assert [(v["type"], v["title"]) for v in versions] == [
        ("ItemReceived", "Strike hits fuel depot"),
        ("ItemRevised", "Ground operation begins near fuel depot"),
    ]
    missing = subprocess.run(
        [sys.executable, "-m", "monitor", "--db", str(db), "items", "history", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": env_path, "PATH": ""},
    )
    assert missing.returncode == 1 and "no item nope" in missing.stderr


def test_default_pack_raises_troop_movement_on_the_revision(httpserver, tmp_path):
    """With the default rule pack, a story first published about a strike and retitled to a
    ground operation raises `troop-movement` on the revision, once."""
    log = MemoryLog()
    with Monitor(log, rules="default", clock=clock) as m:
        m.shared = False
        feed = feed_of(httpserver)
        serve(httpserver, [entry(1, "Strike hits fuel depot in Rafah")])
        m.poll(feed)
        assert not [a for a in of(log, AlertRaised) if a.rule_id == "troop-movement"]
        title = "Troops and tanks advance into Rafah in ground operation"
        for _ in range(2):
            serve(httpserver, [entry(1, title)])
            m.poll(feed)
        moves = [a for a in of(log, AlertRaised) if a.rule_id == "troop-movement"]
        assert [a.item_ids for a in moves] == [(iid(1),)]
        assert len(of(log, ItemRevised)) == 1


def test_a_restarted_evaluator_remembers_what_earlier_versions_matched(rules):
    """An evaluator that resumes from its checkpoint rebuilds which rules each item matched
    from the log: a revision still matching `strike` raises nothing, and a revision that
    stops matching is marked once, whichever evaluator instance sees it."""
    log = MemoryLog()
    m = monitor(log, rules)  # not closed: that would close the log the test goes on with
    first = ItemReceived(
        item_id=iid(1), feed_id="wire", guid="g1", received=NOW, title="Strike hits depot"
    )
    m.ingest([first])
    ruleset = m.ruleset
    assert ruleset is not None
    strike_id = detection_alert_id("strike", 1, iid(1))
    assert [a.alert_id for a in of(log, AlertRaised)] == [strike_id]
    still = ItemReceived(**{**_fields(first), "title": "Strike hits depot, two dead"})
    log.append_events([revision_of(still, revision=1, previous_hash=content_hash(first))])
    report = AlertEvaluator(log, ruleset, clock=clock).run()
    assert report.items == 1 and report.alerts == []
    gone = ItemReceived(**{**_fields(first), "title": "Ground operation near depot"})
    log.append_events([revision_of(gone, revision=2, previous_hash=content_hash(still))])
    report = AlertEvaluator(log, ruleset, clock=clock).run()
    assert [a.rule_id for a in report.alerts] == ["ground-op"]
    assert [(s.alert_id, s.revision) for s in of(log, AlertSuperseded)] == [(strike_id, 2)]
    back = ItemReceived(**{**_fields(first), "title": "Strike and ground operation"})
    log.append_events([revision_of(back, revision=3, previous_hash=content_hash(gone))])
    gone_again = ItemReceived(**{**_fields(first), "title": "Ground operation ends"})
    log.append_events([revision_of(gone_again, revision=4, previous_hash=content_hash(back))])
    assert AlertEvaluator(log, ruleset, clock=clock).run().alerts == []
    assert len(of(log, AlertSuperseded)) == 1


def _fields(item: ItemReceived) -> dict:
    return {
        "item_id": item.item_id,
        "feed_id": item.feed_id,
        "guid": item.guid,
        "received": item.received,
        "title": item.title,
    }

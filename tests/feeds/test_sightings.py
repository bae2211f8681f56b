"""One article, many feeds: an entry whose canonical address another feed already stored is an
`ItemSighted` of that item, not a second item; it is never evaluated and never changes the
stored text; replay and rebuild give the same; watchers racing are handled as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import Monitor
from monitor.alerting import AlertEvaluator
from monitor.events import (
    AlertRaised,
    ItemReceived,
    ItemRevised,
    ItemSighted,
    canonical_url,
    decode,
    encode,
    item_canonical_url,
    item_id,
    normalize_url,
)
from monitor.feeds import FeedConfig, FeedState, poll_feed
from monitor.log import EventLog, MemoryLog, open_log
from monitor.projections import ItemVersions, ProjectionRunner

from .conftest import LOCAL, rss

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ARTICLE = "https://news.example/world/2026/03/01/rafah-ground-operation"
TITLE = "Troops and tanks advance into Rafah in ground operation"
RULES = """\
id: rewrite
title: Hostile rewrite
level: high
detection:
  hit:
    text: [annexed]
  condition: hit
"""


def clock() -> datetime:
    return NOW


def entry(guid: str, link: str, title: str = TITLE, **extra: str) -> dict[str, str]:
    return {
        "guid": guid,
        "link": link,
        "title": title,
        "description": extra.pop("description", "Armoured columns crossed at dawn."),
        "pubDate": datetime(2026, 3, 1, 9, tzinfo=UTC),
        **extra,
    }


#: The same article as the outlet's main feed and an aggregator carry it: other guids, other
#: spellings of one address (case, www, tracking parameters, a fragment, an AMP variant).
MAIN = [entry("main-881", f"{ARTICLE}?utm_source=rss&utm_medium=feed")]
AGGREGATOR = [
    entry(
        "agg:52213",
        "http://WWW.news.example/world/2026/03/01/rafah-ground-operation/amp/"
        "?fbclid=IwAR0&ocid=agg#top",
    )
]


def serve(server, path: str, entries: list[dict[str, str]]) -> None:
    server.expect_request(path).respond_with_data(rss(entries), content_type="application/rss+xml")


def feed(server, feed_id: str, path: str) -> FeedConfig:
    return FeedConfig(id=feed_id, url=server.url_for(path), interval=600, allow_networks=LOCAL)


def of(log, kind):
    return [e for _, e in log.iter_events(types=(kind.__name__,))]


def monitor(log, rules="default") -> Monitor:
    m = Monitor(log, rules=rules, clock=clock)
    m.shared = False
    return m


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def any_log(request, tmp_path):
    """A fresh log of each backend in turn (postgres skips without MONITOR_TEST_PG)."""
    if request.param == "memory":
        opened: EventLog = MemoryLog()
    elif request.param == "sqlite":
        opened = open_log(tmp_path / "race.db")
    else:
        from tests.pg import fresh_postgres_log, pg_url

        opened = fresh_postgres_log(pg_url())
    yield opened
    opened.close()


@pytest.fixture
def two_feeds(httpserver):
    serve(httpserver, "/main.xml", MAIN)
    serve(httpserver, "/agg.xml", AGGREGATOR)
    return feed(httpserver, "main", "/main.xml"), feed(httpserver, "agg", "/agg.xml")


def alert_facts(log) -> set[tuple]:
    return {(a.alert_id, a.rule_id, a.item_ids) for a in of(log, AlertRaised)}


def test_canonical_url_agrees_across_spellings_and_leaves_item_ids_alone():
    """Case, www, http, default port, fragment, tracking parameters, trailing slash and AMP
    variants give one canonical address; relative and non-http addresses give none; the
    address item ids are derived from is what it was."""
    canonical = canonical_url(ARTICLE)
    assert canonical == "https://news.example/world/2026/03/01/rafah-ground-operation"
    for spelling in (
        MAIN[0]["link"],
        AGGREGATOR[0]["link"],
        "https://news.example:443/world/2026/03/01/rafah-ground-operation?gclid=1&cmpid=x",
        "https://news.example/world/2026/03/01/rafah-ground-operation?amp=1&mc_cid=9",
        "https://news.example/world/2026/03/01/rafah-ground-operation?outputType=amp",
    ):
        assert canonical_url(spelling) == canonical, spelling
    assert canonical_url("https://news.example/story.amp.html") == canonical_url(
        "https://news.example/story.html"
    )
    assert canonical_url(f"{ARTICLE}?id=2") != canonical_url(f"{ARTICLE}?id=3")
    assert canonical_url("https://news.example/A") != canonical_url("https://news.example/a")
    for none in ("/world/story", "mailto:desk@news.example", "ftp://news.example/x", "", None):
        assert canonical_url(none) is None
    # normalize_url (item ids) keeps its old behaviour: http stays, www stays, amp stays.
    assert normalize_url("HTTP://WWW.Example.com:80/a/amp/?utm_source=x#f") == (
        "http://www.example.com/a/amp"
    )


def test_original_url_is_the_canonical_address_when_present():
    """An item's canonical address is its origLink when it has one, else its link."""
    base = {"item_id": "x", "feed_id": "f", "received": NOW, "title": "t"}
    tracked = ItemReceived(
        **base, url="https://feedproxy.example/~r/x/123", original_url=f"{ARTICLE}?utm_source=fb"
    )
    assert item_canonical_url(tracked) == canonical_url(ARTICLE)
    assert item_canonical_url(ItemReceived(**base, url=ARTICLE)) == canonical_url(ARTICLE)
    assert item_canonical_url(ItemReceived(**base, url="/relative")) is None


def test_same_article_in_two_feeds_is_one_item_sighted_once(two_feeds):
    """The main feed stores the article; the aggregator's copy (other guid, tracking
    parameters, AMP address) is one `ItemSighted`; the default pack raises one alert for it."""
    main, agg = two_feeds
    log = MemoryLog()
    with monitor(log) as m:
        first = m.poll(main)
        second = m.poll(agg)
        assert first is not None and first.new_items == 1 and first.sighted == 0
        assert second is not None and second.new_items == 0 and second.sighted == 1
        items = of(log, ItemReceived)
        sightings = of(log, ItemSighted)
        assert [i.feed_id for i in items] == ["main"]
        stored = items[0].item_id
        assert stored == item_id("main", guid="main-881")
        assert [(s.item_id, s.feed_id, s.guid) for s in sightings] == [(stored, "agg", "agg:52213")]
        sighting = sightings[0]
        assert sighting.entry_id == item_id("agg", guid="agg:52213")
        assert sighting.url == AGGREGATOR[0]["link"]
        assert sighting.canonical_url == canonical_url(ARTICLE)
        assert sighting.seen == NOW
        assert sighting.dedupe_key() == f"sighting:{stored}:agg"
        assert decode("ItemSighted", 1, encode(sighting)) == sighting
        moves = [a for a in of(log, AlertRaised) if a.rule_id == "troop-movement"]
        assert [a.item_ids for a in moves] == [(stored,)]
        assert all(a.item_ids == (stored,) for a in of(log, AlertRaised))
        row = ItemVersions.get(log, stored)
        assert row is not None and row["canonical_url"] == canonical_url(ARTICLE)
        assert [(s["feed_id"], s["seen"]) for s in row["sightings"]] == [
            ("agg", "2026-03-01T12:00:00.000000Z")
        ]
        by_url = ItemVersions.by_url(log, AGGREGATOR[0]["link"])
        assert by_url is not None
        assert (by_url["item_id"], by_url["feed_id"], by_url["feeds"]) == (stored, "main", ["agg"])
        history = ItemVersions.history(log, stored)
        assert [type(e).__name__ for e in history] == ["ItemReceived", "ItemSighted"]
        assert ItemVersions.versions(log, stored) == history[:1]


def test_polling_again_adds_nothing_and_replay_gives_the_same(two_feeds):
    """Polling both feeds again, in either order, stores nothing more; a fresh evaluator over
    the log raises the same alerts, and a rebuilt projection equals the incremental one."""
    main, agg = two_feeds
    log = MemoryLog()
    with monitor(log) as m:
        m.poll(main)
        m.poll(agg)
        head = log.head()
        live = alert_facts(log)
        for f in (agg, main, agg, main):
            report = m.poll(f)
            assert report is not None and (report.new_items, report.sighted) == (0, 0)
        assert len(of(log, ItemReceived)) == 1 and len(of(log, ItemSighted)) == 1
        assert [r.type for r in log.read(head)] in ([], ["FeedPolled"] * 4)
        assert m.ruleset is not None
        scratch = MemoryLog()
        AlertEvaluator(log, m.ruleset, clock=clock, output=scratch).run()
        assert alert_facts(scratch) == live
        runner = ProjectionRunner(log, [ItemVersions()])
        runner.run()
        incremental = log.projection_scan("item_versions")
        runner.rebuild()
        assert log.projection_scan("item_versions") == incremental


def test_one_feed_polled_twice_gives_no_sighting(httpserver):
    """A feed that carries its own article again (same guid) is the same item: no sighting;
    two entries of one feed at one address under two guids stay two items, as before."""
    serve(
        httpserver,
        "/main.xml",
        [*MAIN, entry("main-882", f"{ARTICLE}#comments", title="Rafah: live updates")],
    )
    main = feed(httpserver, "main", "/main.xml")
    log = MemoryLog()
    with monitor(log) as m:
        m.poll(main)
        m.poll(main)
        assert of(log, ItemSighted) == []
        assert len(of(log, ItemReceived)) == 2


def test_different_addresses_are_two_items(httpserver):
    """Two feeds with different articles (another path, a query that names another page)
    store two items each and sight nothing."""
    serve(httpserver, "/main.xml", [entry("m1", ARTICLE), entry("m2", f"{ARTICLE}?page=2")])
    serve(
        httpserver,
        "/agg.xml",
        [entry("a1", f"{ARTICLE}-analysis"), entry("a2", f"{ARTICLE}?page=3")],
    )
    log = MemoryLog()
    with monitor(log) as m:
        m.poll(feed(httpserver, "main", "/main.xml"))
        m.poll(feed(httpserver, "agg", "/agg.xml"))
        assert of(log, ItemSighted) == []
        assert sorted(i.feed_id for i in of(log, ItemReceived)) == ["agg", "agg", "main", "main"]


def test_a_hostile_feed_cannot_change_the_stored_text(httpserver, tmp_path):
    """Another feed linking a stored article with its own text stores a sighting only: the
    stored title and versions stay, no rule sees its text, and its later edits are no
    revisions and no further sightings."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(RULES)
    serve(httpserver, "/main.xml", MAIN)
    main = feed(httpserver, "main", "/main.xml")
    hostile = feed(httpserver, "hostile", "/hostile.xml")
    log = MemoryLog()
    with monitor(log, rules) as m:
        m.poll(main)
        stored = of(log, ItemReceived)[0]
        for n, title in enumerate(("Rafah annexed, army says", "Rafah annexed: full text")):
            httpserver.clear()
            serve(httpserver, "/hostile.xml", [entry(f"h{n}", ARTICLE, title=title)])
            report = m.poll(hostile)
            assert report is not None and report.new_items == 0
        assert [s.title for s in of(log, ItemSighted)] == ["Rafah annexed, army says"]
        assert of(log, ItemRevised) == []
        assert of(log, AlertRaised) == []
        row = ItemVersions.get(log, stored.item_id)
        assert row is not None and row["title"] == TITLE and row["revision"] == 0
        assert [e.title for e in ItemVersions.versions(log, stored.item_id)] == [TITLE]


def test_watchers_racing_store_a_sighting_once(tmp_path, any_log):
    """Two watchers holding the same stale answer (no sighting yet) append one sighting."""
    log = any_log
    first = ItemReceived(
        item_id=item_id("main", guid="main-881"), feed_id="main", received=NOW, url=ARTICLE
    )
    log.append_events([first])
    ProjectionRunner(log, [ItemVersions()]).run()
    stale = ItemVersions.by_url(log, ARTICLE)
    assert stale is not None and stale["feeds"] == []
    agg = FeedConfig(id="agg", path=_local_feed(tmp_path, "agg", AGGREGATOR), interval=600)
    for _ in range(2):  # the projection is not run between them: both see no sighting
        poll_feed(log, agg, FeedState(feed_id="agg"), fetcher=_NoFetch(), clock=clock)
    assert [s.item_id for s in of(log, ItemSighted)] == [first.item_id]


def test_watchers_racing_on_two_feeds_store_two_items_and_say_so(tmp_path, any_log):
    """Two feeds polled before either's item is folded both store the article (the documented
    limit); the projection names the second `same_url_as` the first, and later polls of
    either feed add nothing."""
    log = any_log
    main = FeedConfig(id="main", path=_local_feed(tmp_path, "main", MAIN), interval=600)
    agg = FeedConfig(id="agg", path=_local_feed(tmp_path, "agg", AGGREGATOR), interval=600)
    for f in (main, agg):
        poll_feed(log, f, FeedState(feed_id=f.id), fetcher=_NoFetch(), clock=clock)
    items = of(log, ItemReceived)
    assert [i.feed_id for i in items] == ["main", "agg"]
    ProjectionRunner(log, [ItemVersions()]).run()
    second = ItemVersions.get(log, items[1].item_id)
    assert second is not None and second["same_url_as"] == items[0].item_id
    held = ItemVersions.by_url(log, ARTICLE)
    assert held is not None and held["item_id"] == items[0].item_id
    assert held["also_stored"] == [items[1].item_id] and held["also_stored_count"] == 1
    for f in (main, agg):
        report = poll_feed(log, f, FeedState(feed_id=f.id), fetcher=_NoFetch(), clock=clock)
        assert (report.new_items, report.sighted, report.revised) == (0, 0, 0)
    assert of(log, ItemSighted) == []


def test_history_and_events_commands_show_the_sighting(two_feeds, tmp_path):
    """`monitor items history ID --json` lists the sighting after the first version;
    `monitor events --type ItemSighted` prints it like any event."""
    main, agg = two_feeds
    db = tmp_path / "m.db"
    with Monitor.open(db, rules="default", clock=clock) as m:
        m.shared = False
        m.poll(main)
        m.poll(agg)
        stored = of(m.log, ItemReceived)[0].item_id
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": ""}
    base = [sys.executable, "-m", "monitor", "--db", str(db)]
    history = subprocess.run(
        [*base, "items", "history", stored, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert history.returncode == 0, history.stderr
    lines = [json.loads(line) for line in history.stdout.splitlines()]
    assert [(line["type"], line["feed_id"]) for line in lines] == [
        ("ItemReceived", "main"),
        ("ItemSighted", "agg"),
    ]
    table = subprocess.run(
        [*base, "items", "history", stored], capture_output=True, text=True, timeout=120, env=env
    )
    assert table.returncode == 0, table.stderr
    assert "sighted" in table.stdout and "agg" in table.stdout
    events = subprocess.run(
        [*base, "events", "--type", "ItemSighted"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert events.returncode == 0, events.stderr
    dumped = [json.loads(line) for line in events.stdout.splitlines()]
    assert [(d["type"], d["version"], d["dedupe_key"]) for d in dumped] == [
        ("ItemSighted", 1, f"sighting:{stored}:agg")
    ]


def _local_feed(tmp_path: Path, name: str, entries: list[dict[str, str]]) -> Path:
    """Write `entries` as an RSS file for a `path:` feed (polled without a server)."""
    path = tmp_path / f"{name}.xml"
    path.write_bytes(rss(entries))
    return path


class _NoFetch:
    """The fetcher `poll_feed` takes; a `path:` feed reads only its size cap."""

    max_bytes = 1_000_000

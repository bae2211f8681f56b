"""The search index on each backend: what it finds (folding as the rules fold), filters,
paging, revisions, rebuilds, the exactly-once commit, and SQLite and PostgreSQL agreeing."""

from __future__ import annotations

import os
import textwrap
from datetime import timedelta

import pytest

from monitor.errors import ProjectionError
from monitor.events import AlertRaised, EntitiesExtracted, Evidence, revision_of
from monitor.projections import ProjectionRunner
from monitor.rules import load_rules
from monitor.search import (
    Filters,
    QueryError,
    SearchIndex,
    catch_up,
    item_detail,
    list_items,
    rebuild,
    search,
)

from .conftest import T0, item, open_backend

CORPUS = [
    item(1, "US troops near al-Tanf", "A drone attack hit the al-Tanf garrison.", lang="en"),
    item(2, "هجوم على قاعدة التنف", "أعلن والجيش الأمريكي عن هجوم", lang="ar"),
    item(3, "Weather report", "Sunny in Damascus, rain in Baghdad.", feed="other", lang="en"),
    item(4, "الْجَيْش يصل", "وصل الجيش إلى المدينة", text_lang="ar"),
    item(5, "Deployment of forces", "Troops deployed to the border; deployment continues."),
    item(6, "Café politics", "The CAFÉ owner spoke; no troops were seen."),
]


def ids(page) -> list[str]:
    return [h.item_id for h in page.hits]


def ingest(log, items=CORPUS) -> None:
    log.append_events(list(items))
    catch_up(log)


def find(log, query, **kw) -> set[str]:
    return set(ids(search(log, query, limit=500, **kw)))


def test_words_phrases_prefixes_and_booleans(log):
    ingest(log)
    by = {i.item_id: n for n, i in enumerate(CORPUS, 1)}

    def found(q):
        return sorted(by[i] for i in find(log, q))

    assert found("troops") == [1, 5, 6]
    assert found('"al tanf"') == [1]
    assert found("al-Tanf") == [1]
    assert found("deploy*") == [5]
    assert found("troops AND drone") == [1]
    assert found("sunny OR drone") == [1, 3]
    assert found("troops NOT drone") == [5, 6]
    assert found("troops -(drone OR border)") == [6]
    assert found('"troops near" OR "troops deployed"') == [1, 5]
    assert found("cafe") == [6]  # case and diacritics folded


def test_arabic_folding_finds_what_the_rules_find(log, tmp_path):
    """Each query word, as a rule value, matches exactly the items the search finds."""
    ingest(log)
    for n, word in enumerate(["الجيش", "التنف", "هجوم", "قاعده", "الامريكي", "Tanf", "CAFE"]):
        folder = tmp_path / f"r{n}"
        folder.mkdir()
        (folder / "r.yaml").write_text(
            textwrap.dedent(
                f"""\
                id: probe-{n}
                title: probe
                detection:
                  hit:
                    text: ['{word}']
                  condition: hit
                """
            ),
            encoding="utf-8",
        )
        rules = load_rules(str(folder))
        expected = {i.item_id for i in CORPUS if rules.match(i)}
        assert expected, word
        assert find(log, word) == expected, word


def test_lexicon_reference_finds_every_spelling(log):
    ingest(log)
    pack = load_rules("default")
    assert find(log, "@places.al_tanf", ruleset=pack) == {CORPUS[0].item_id, CORPUS[1].item_id}


def test_filters(log):
    ingest(log)
    alert = AlertRaised(
        alert_id="al-1",
        rule_id="al-tanf-attack",
        item_ids=(CORPUS[0].item_id,),
        evidence=(Evidence(field="title", start=0, end=6, text="troops"),),
        event_time=T0,
    )
    entities = EntitiesExtracted.for_item(
        item_id=CORPUS[4].item_id,
        feed_id="wire",
        entities=("place:al-tanf", "actor:us-forces"),
        event_time=T0,
    )
    log.append_events([alert, entities])
    catch_up(log)
    troops = "troops"
    assert find(log, troops, filters=Filters(rule="al-tanf-attack")) == {CORPUS[0].item_id}
    assert find(log, troops, filters=Filters(place="place:al-tanf")) == {CORPUS[4].item_id}
    assert find(log, troops, filters=Filters(actor="actor:us-forces")) == {CORPUS[4].item_id}
    assert find(log, troops, filters=Filters(actor="actor:nobody")) == set()
    assert find(log, "sunny OR troops", filters=Filters(feed="other")) == {CORPUS[2].item_id}
    assert find(log, "الجيش", filters=Filters(lang="ar")) == {
        CORPUS[1].item_id,
        CORPUS[3].item_id,
    }
    since = Filters(since=T0 + timedelta(minutes=5))
    assert find(log, troops, filters=since) == {CORPUS[4].item_id, CORPUS[5].item_id}
    until = Filters(until=T0 + timedelta(minutes=1))
    assert find(log, troops, filters=until) == {CORPUS[0].item_id}
    assert ids(list_items(log, filters=Filters(feed="other"))) == [CORPUS[2].item_id]


def test_published_time_comes_before_received(log):
    early = item(9, "troops early", published=T0 - timedelta(days=3))
    ingest(log, [*CORPUS, early])
    page = search(log, "troops", sort="newest", limit=500)
    assert ids(page)[-1] == early.item_id
    assert page.hits[-1].time == T0 - timedelta(days=3)


def test_paging_newest_and_rank_cover_every_hit_once(log):
    many = [item(n, f"troops report {n}", "troops " * (n % 5 + 1)) for n in range(1, 26)]
    ingest(log, many)
    for sort in ("newest", "rank"):
        seen, cursor = [], None
        while True:
            page = search(log, "troops", sort=sort, limit=7, cursor=cursor)
            seen += ids(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(i.item_id for i in many), sort
        assert len(seen) == len(set(seen))
    newest = ids(search(log, "troops", sort="newest", limit=25))
    assert newest == [i.item_id for i in reversed(many)]
    listed, cursor = [], None
    while True:
        page = list_items(log, limit=10, cursor=cursor)
        listed += ids(page)
        if (cursor := page.next_cursor) is None:
            break
    assert listed == [i.item_id for i in reversed(many)]


def test_bad_cursor_limit_and_sort_are_query_errors(log):
    ingest(log)
    with pytest.raises(QueryError, match="cursor"):
        search(log, "troops", cursor="garbage")
    with pytest.raises(QueryError, match="cursor"):
        search(log, "troops", sort="rank", cursor="n1.2")
    with pytest.raises(QueryError, match="limit"):
        search(log, "troops", limit=0)
    with pytest.raises(QueryError, match="sort"):
        search(log, "troops", sort="oldest")


def test_a_revision_replaces_the_indexed_text(log):
    first = item(1, "Troops arrive", "Convoy seen near the border")
    ingest(log, [first])
    revised = revision_of(
        item(1, "Troops leave", "Withdrawal from the border"), revision=1, previous_hash=None
    )
    log.append_events([revised])
    catch_up(log)
    assert find(log, "convoy") == set()
    assert find(log, "withdrawal") == {first.item_id}
    assert find(log, "troops") == {first.item_id}
    (hit,) = search(log, "troops").hits
    assert hit.title == "Troops leave"
    ProjectionRunner(log).run()
    detail = item_detail(log, first.item_id)
    assert detail is not None and [v.title for v in detail.versions] == [
        "Troops arrive",
        "Troops leave",
    ]


def test_rebuild_from_zero_equals_incremental(log):
    for chunk in (CORPUS[:2], CORPUS[2:4], CORPUS[4:]):
        log.append_events(list(chunk))
        catch_up(log)  # one catch-up per chunk: incremental
    revised = revision_of(item(3, "Weather: storm", "Storm over Baghdad", feed="other"), revision=1)
    log.append_events([revised])
    catch_up(log)
    queries = ["troops", "الجيش", "storm OR sunny", "deploy*", '"al tanf"']
    before = {q: ids(search(log, q, sort="newest", limit=500)) for q in queries}
    listed = ids(list_items(log, limit=500))
    rebuild(log)
    assert {q: ids(search(log, q, sort="newest", limit=500)) for q in queries} == before
    assert ids(list_items(log, limit=500)) == listed
    assert before["storm OR sunny"] == [CORPUS[2].item_id]


def test_index_rows_commit_with_the_checkpoint(log):
    """A failing page commits nothing: neither index rows nor the checkpoint move."""
    ingest(log, CORPUS[:2])

    class Failing(SearchIndex):
        def apply(self, event, record, state):
            super().apply(event, record, state)
            if getattr(event, "title", "") == "boom":
                raise RuntimeError("boom")

    log.append_events([item(20, "troops before", ""), item(21, "boom", "troops")])
    runner = ProjectionRunner(log, [Failing()], page_size=10)
    with pytest.raises(ProjectionError):
        runner.run()
    assert log.projection_state("search").position == 2
    assert find(log, "troops") == {CORPUS[0].item_id}
    catch_up(log)
    assert find(log, "troops") == {CORPUS[0].item_id, item(20).item_id, item(21).item_id}


def test_projection_rows_are_not_kept(log):
    """The capture triggers turn the projection's rows into index rows: nothing is stored
    twice in projection_rows."""
    ingest(log)
    assert log.projection_scan("search", "", limit=5) == []
    assert log.projection_state("search").position == log.head()


def test_other_projections_rows_are_untouched(log):
    ingest(log)
    ProjectionRunner(log).run()
    assert log.projection_scan("item_versions", "", limit=1)


def test_memory_log_is_refused_clearly():
    from monitor.errors import MonitorError
    from monitor.log import MemoryLog

    with pytest.raises(MonitorError, match="SQLite or PostgreSQL"):
        search(MemoryLog(), "troops")


@pytest.mark.skipif(not os.environ.get("MONITOR_TEST_PG"), reason="needs MONITOR_TEST_PG")
def test_postgres_finds_what_sqlite_finds(tmp_path):
    pack = load_rules("default")
    lite, pg = open_backend("sqlite", tmp_path), open_backend("postgres", tmp_path)
    try:
        extra = [
            item(n, f"troops {n} al-Tanf", "deployment الجيش " * (n % 3)) for n in range(7, 30)
        ]
        for lg in (lite, pg):
            ingest(lg, [*CORPUS, *extra])
        queries = [
            "troops",
            "al-Tanf",
            '"troops near"',
            "deploy*",
            "troops NOT drone",
            "(sunny OR drone) OR الجيش",
            "@places.al_tanf",
            "cafe",
        ]
        for q in queries:
            got = [ids(search(lg, q, ruleset=pack, sort="newest", limit=500)) for lg in (lite, pg)]
            assert got[0] == got[1], q
            assert got[0], q
        assert ids(list_items(lite, limit=500)) == ids(list_items(pg, limit=500))
    finally:
        lite.close()
        pg.close()


def test_the_log_still_verifies_with_the_index_in_its_database(log):
    ingest(log)
    result = log.verify()
    assert result.ok and result.checked == len(CORPUS)


def test_a_query_past_its_timeout_is_stopped(log):
    from monitor.search import SearchTimeoutError

    many = [item(n, f"troops report {n}", "troops moved " * 50) for n in range(1, 3000)]
    ingest(log, many)
    with pytest.raises(SearchTimeoutError, match="stopped"):
        search(log, "tr* OR troops OR moved OR report", sort="rank", timeout=0.0)

"""The console's routes in process (Starlette's TestClient): pages, escaping, headers, token
refusal, actions appending events, and the live stream."""

from __future__ import annotations

import json
import re
import threading

import pytest

from monitor.console import CSP, AlertReview, precision
from monitor.events import AlertAcknowledged, AlertFeedback, SilenceCreated
from tests.console.conftest import TOKEN
from tests.console.data import ARABIC_TITLE, RLO

PAGES = ["/", "/search?q=convoy", "/feeds", "/rules", "/charts", "/silences"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_the_security_headers(readonly, path):
    """Strict CSP (no inline script, no framing), nosniff, no referrer, on every page."""
    client, _ = readonly
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "'unsafe-inline'" not in CSP
    assert "frame-ancestors 'none'" in CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert re.fullmatch(r"app;dur=\d+\.\d\d", response.headers["server-timing"])
    # no inline script or style, nothing loaded from elsewhere (links to originals are fine)
    assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", response.text)
    assert "<style" not in response.text and " style=" not in response.text
    assert not re.search(r"src=\"(https?:)?//|<link[^>]*href=\"(https?:)?//", response.text)


def test_static_assets_are_served_by_the_app(readonly):
    client, _ = readonly
    js = client.get("/static/console.js")
    css = client.get("/static/console.css")
    assert js.status_code == 200 and "EventSource" in js.text
    assert js.headers["content-type"].startswith("text/javascript")
    assert css.status_code == 200 and "svg.chart" in css.text  # the shared chart style
    assert client.get("/static/other.js").status_code == 404


def test_alerts_page_lists_the_latest_alerts_with_the_live_position(readonly):
    client, ids = readonly
    page = client.get("/").text
    for alert in ("english_alert", "arabic_alert", "hostile_alert"):
        assert f'/alerts/{ids[alert]}"' in page
    # each row has its item's current title beside the rule's
    assert '<span class="headline" dir="auto">Convoy of 40 trucks reaches Abu Kamal</span>' in page
    after = int(re.search(r'data-after="(\d+)"', page).group(1))
    assert after > 0
    only = client.get("/?rule=shelling").text
    assert ids["english_alert"] not in only and ids["rlo_alert"] in only


def test_alert_page_highlights_evidence_and_shows_revisions_and_sightings(readonly):
    client, ids = readonly
    page = client.get(f"/alerts/{ids['english_alert']}").text
    assert "<mark>Convoy</mark> of 40 trucks crosses toward Abu Kamal" in page
    assert "Revisions (2)" in page and "reaches Abu Kamal" in page
    assert "ap-news" in page and "Also carried by 1 other feed" in page
    assert 'href="https://www.reuters.example/world/convoy-abu-kamal"' in page
    assert "read-only" in page and '<form class="action"' not in page


def test_arabic_alert_is_marked_right_to_left_with_evidence(readonly):
    client, ids = readonly
    page = client.get(f"/alerts/{ids['arabic_alert']}").text
    assert 'dir="auto"' in page
    assert "<mark>رتل</mark>" in page
    title = ARABIC_TITLE.replace("رتل", "<mark>رتل</mark>")
    assert title in page


def test_hostile_content_is_escaped_links_dropped_and_bidi_removed(readonly):
    client, ids = readonly
    page = client.get(f"/alerts/{ids['hostile_alert']}").text
    assert "<script>document" not in page and "&lt;script&gt;" in page
    assert "<img" not in page and "&lt;img" in page
    assert "javascript:" not in page.split("<main>")[1].replace("&#39;", "'").split("href=")[0]
    assert not re.search(r"href=\"\s*javascript:", page, re.I)
    rlo = client.get(f"/alerts/{ids['rlo_alert']}").text
    assert RLO not in rlo and "txt.exe" in rlo
    search = client.get("/search?q=shelling").text
    assert RLO not in search


def test_search_uses_the_cli_query_language_and_reports_errors(readonly):
    client, ids = readonly
    page = client.get("/search", params={"q": "convoy AND kamal"}).text
    assert f"/items/{ids['item']}" in page
    arabic = client.get("/search", params={"q": "البوكمال"}).text
    assert f"/items/{ids['arabic_item']}" in arabic
    bad = client.get("/search", params={"q": '"unclosed'})
    assert bad.status_code == 400 and "unbalanced quote" in bad.text
    newest = client.get("/search").text  # no query: the newest items
    assert f"/items/{ids['quiet_item']}" in newest
    feed = client.get("/search", params={"q": "convoy", "feed": "sana-ar"}).text
    assert f"/items/{ids['item']}" not in feed


def test_correlation_alert_page_shows_its_condition_and_contributing_items(readonly):
    client, ids = readonly
    page = client.get(f"/alerts/{ids['correlation_alert']}").text
    assert "<h2>Correlation</h2>" in page and "value_count source &gt;= 2 within 2d" in page
    contributors = page.split("<h2>Correlation</h2>")[1]
    assert f"/alerts/{ids['english_alert']}" in contributors
    assert f"/alerts/{ids['arabic_alert']}" in contributors
    assert "<mark>Convoy</mark> of 40 trucks crosses toward Abu Kamal" in contributors
    assert "<mark>رتل</mark>" in contributors


def test_item_page_lists_its_alerts(readonly):
    client, ids = readonly
    page = client.get(f"/items/{ids['item']}").text
    assert "Alerts on this item" in page and ids["english_alert"] in page
    assert client.get("/items/nope").status_code == 404
    assert client.get("/alerts/nope").status_code == 404


def test_feed_health_shows_failures_backoff_and_degraded_reasons(readonly):
    client, _ = readonly
    page = client.get("/feeds").text
    assert "HTTP 503 Service Unavailable" in page and "600 s" in page
    assert "degraded" in page and "declares no dates" in page
    assert re.search(r'<span class="state failing">failing</span>', page)


def test_charts_share_one_scale_with_dated_axes(readonly):
    client, _ = readonly
    page = client.get("/charts").text
    assert page.count('<svg class="chart') == 2
    assert "One scale for every row" in page and 'viewBox="0 0 520' in page
    assert "abu-kamal" in page and "movement" in page
    assert re.search(r'class="tick"[^>]*>\d{1,2} [A-Z][a-z]{2}</text>', page)  # a dated tick


@pytest.mark.parametrize(
    "path,form",
    [
        ("/alerts/{a}/ack", {"note": "on it"}),
        ("/alerts/{a}/feedback", {"verdict": "false_positive", "note": "sports"}),
        ("/alerts/{a}/silence", {"match": "rule=movement", "for": "6h"}),
    ],
)
def test_actions_are_refused_without_the_right_token(client, readonly, path, form):
    """403 without a token, with a wrong one, and on a console that has none; nothing is
    appended. GET never acts."""
    app, monitor, ids = client
    url = path.format(a=ids["english_alert"])
    head = monitor.log.head()
    assert app.post(url, data=form, follow_redirects=False).status_code == 403
    wrong = app.post(url, data={**form, "token": TOKEN + "x"}, follow_redirects=False)
    assert wrong.status_code == 403 and "Wrong token" in wrong.text
    header = app.post(url, data=form, headers={"X-Console-Token": "nope"})
    assert header.status_code == 403
    assert app.get(url).status_code == 405
    ro, _ = readonly
    refused = ro.post(url, data={**form, "token": TOKEN}, follow_redirects=False)
    assert refused.status_code == 403 and "Read-only" in refused.text
    assert monitor.log.head() == head


def test_acknowledge_and_verdicts_append_events_and_count_against_the_rule(client):
    app, monitor, ids = client
    alert = ids["english_alert"]
    done = app.post(
        f"/alerts/{alert}/ack",
        data={"token": TOKEN, "note": "on it", "by": "amira"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith(f"/alerts/{alert}")
    acks = [e for _, e in monitor.log.iter_events(types=("AlertAcknowledged",))]
    assert acks == [acks[0]] and isinstance(acks[0], AlertAcknowledged)
    assert acks[0].by == "amira" and acks[0].rule_id == "movement"
    # by header too; the latest verdict counts
    for verdict in ("true_positive", "false_positive"):
        response = app.post(
            f"/alerts/{alert}/feedback",
            data={"verdict": verdict, "note": "checked"},
            headers={"X-Console-Token": TOKEN},
        )
        assert response.status_code == 200 and "Recorded" in response.text
    app.post(
        f"/alerts/{ids['arabic_alert']}/feedback",
        data={"verdict": "true_positive", "token": TOKEN},
    )
    verdicts = [e for _, e in monitor.log.iter_events(types=("AlertFeedback",))]
    assert [v.verdict for v in verdicts] == ["true_positive", "false_positive", "true_positive"]
    assert all(isinstance(v, AlertFeedback) for v in verdicts)
    counts = AlertReview.of_rule(monitor.log, "movement")
    assert counts["false_positive"] == 1 and counts["true_positive"] == 1
    assert precision(counts) == 0.5
    rules = app.get("/rules").text
    assert re.search(r'id="movement".*?<td[^>]*class="num precision"[^>]*>50%</td>', rules, re.S)
    page = app.get(f"/alerts/{alert}").text
    assert "acknowledged by" in page and "false positive" in page and "checked" in page
    bad = app.post(f"/alerts/{alert}/feedback", data={"verdict": "maybe", "token": TOKEN})
    assert bad.status_code == 400 and "choose a verdict" in bad.text
    missing = app.post("/alerts/nope/ack", data={"token": TOKEN})
    assert missing.status_code == 400 and "no alert" in missing.text


def test_silence_from_an_alert_and_end_it(client):
    app, monitor, ids = client
    response = app.post(
        f"/alerts/{ids['english_alert']}/silence",
        data={"token": TOKEN, "match": "rule=movement\nplace=abu-kamal", "for": "2h"},
    )
    assert response.status_code == 200 and "mutes rule=movement place=abu-kamal" in response.text
    silences = [e for _, e in monitor.log.iter_events(types=("SilenceCreated",))]
    assert len(silences) == 1 and isinstance(silences[0], SilenceCreated)
    assert [str(m) for m in silences[0].matchers] == ["rule=movement", "place=abu-kamal"]
    listing = app.get("/silences").text
    assert silences[0].silence_id in listing and "active" in listing
    bad = app.post(
        f"/alerts/{ids['english_alert']}/silence",
        data={"token": TOKEN, "match": "colour=red", "for": "2h"},
    )
    assert bad.status_code == 400 and "unknown match key" in bad.text
    ended = app.post(f"/silences/{silences[0].silence_id}/expire", data={"token": TOKEN})
    assert ended.status_code == 200 and "ended" in ended.text
    assert "No silence is active" in app.get("/silences").text


def test_live_stream_replays_missed_alerts_then_sends_new_ones(client):
    """A stream from `after` gets the alerts stored since, then a new one appended while it is
    open, each once, as JSON (the page puts the text in with textContent), bidi controls
    removed."""
    app, monitor, _ = client
    first = monitor.alerts(limit=50)
    oldest = min(a["position"] for a in first)
    received: list[dict] = []
    with app.stream("GET", f"/live?after={oldest}") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        appended = threading.Event()
        for line in lines:
            if line.startswith("data: "):
                received.append(json.loads(line[6:]))
            if len(received) == len(first) - 1 and not appended.is_set():
                appended.set()
                monitor.ingest(
                    [
                        {
                            "feed": "reuters-world",
                            "guid": "live-1",
                            "title": "New convoy spotted near al-Tanf",
                        }
                    ]
                )
            if len(received) == len(first):
                break
    titles = [m["title"] for m in received]
    assert len(set(m["alert_id"] for m in received)) == len(received)
    assert [m["position"] for m in received] == sorted(m["position"] for m in received)
    assert received[-1]["rule_id"] == "movement" and received[-1]["places"] == ["al-tanf"]
    # the item's title, or the rule's summary of it when the item view is a moment behind
    assert "New convoy spotted near al-Tanf" in received[-1]["headline"]
    assert all(RLO not in t for t in titles)


def test_live_stream_sends_heartbeats_when_idle(client):
    app, monitor, _ = client
    with app.stream("GET", f"/live?after={monitor.log.head()}") as stream:
        for line in stream.iter_lines():
            if line.startswith(": heartbeat"):
                break


def test_search_does_not_wait_for_an_index_far_behind(db_copy, monkeypatch):
    """Behind by more than it folds in a request, the search page answers at once with a
    note; the catch-up thread folds the index meanwhile, and then the new item is found."""
    import time

    from starlette.testclient import TestClient

    from monitor import Monitor
    from monitor.console import create_app
    from monitor.console._follow import CatchUp

    monkeypatch.setattr("monitor.console._app.QUICK_SEARCH", 0)  # never fold in the request
    start = CatchUp.start
    monkeypatch.setattr(CatchUp, "start", lambda self: None)  # held back for the first page
    db, _ = db_copy
    with Monitor.open(str(db)) as monitor, TestClient(create_app(monitor)) as app:
        new = monitor.item({"feed": "wire", "guid": "z1", "title": "Zeppelin sighted over Raqqa"})
        monitor.append([new])
        first = app.get("/search", params={"q": "zeppelin"}).text
        monkeypatch.setattr(CatchUp, "start", start)
        deadline = time.monotonic() + 30
        while "still catching up" in (page := app.get("/search", params={"q": "zeppelin"}).text):
            assert time.monotonic() < deadline, "the index never caught up"
            time.sleep(0.1)
    assert "still catching up" in first and f"/items/{new.item_id}" not in first
    assert f"/items/{new.item_id}" in page


@pytest.mark.postgres
def test_the_console_over_a_postgresql_log():
    """The same pages and actions over the PostgreSQL backend (its search index too)."""
    from starlette.testclient import TestClient

    from monitor import Monitor
    from monitor.console import create_app
    from tests.console.data import RULES, build
    from tests.pg import fresh_postgres_log, pg_url

    log = fresh_postgres_log(pg_url())
    try:
        ids = build(log)
        monitor = Monitor(log, rules=str(RULES))
        with TestClient(create_app(monitor, token=TOKEN)) as app:
            assert ids["english_alert"] in app.get("/").text
            arabic = app.get(f"/alerts/{ids['arabic_alert']}").text
            assert "<mark>رتل</mark>" in arabic
            assert f"/items/{ids['item']}" in app.get("/search", params={"q": "convoy"}).text
            assert "HTTP 503" in app.get("/feeds").text
            done = app.post(
                f"/alerts/{ids['english_alert']}/feedback",
                data={"token": TOKEN, "verdict": "false_positive"},
            )
            assert done.status_code == 200
            assert AlertReview.of_rule(log, "movement")["false_positive"] == 1
    finally:
        log.close()


def test_a_memory_log_has_no_search_and_says_so():
    from starlette.testclient import TestClient

    from monitor.console import create_app
    from monitor.log import MemoryLog

    with TestClient(create_app(MemoryLog())) as app:
        assert app.get("/").status_code == 200
        page = app.get("/search", params={"q": "convoy"})
        assert page.status_code == 400 and "search needs an SQLite or PostgreSQL log" in page.text


def test_a_foreign_host_header_is_refused_with_the_security_headers(db_copy):
    """With allowed hosts (what `monitor serve` passes on loopback), a request naming another
    host, as a DNS-rebinding page would, gets 400; the loopback names are served."""
    from starlette.testclient import TestClient

    from monitor import Monitor
    from monitor.cli._serve_cmds import LOOPBACK_NAMES
    from monitor.console import create_app

    db, _ = db_copy
    with Monitor.open(str(db)) as monitor:
        app = create_app(monitor, allowed_hosts=LOOPBACK_NAMES, stories=False)
        with TestClient(app, base_url="http://127.0.0.1:8080") as client:
            assert client.get("/").status_code == 200
            refused = client.get("/", headers={"host": "attacker.example:8080"})
            assert refused.status_code == 400
            assert "default-src 'none'" in refused.headers["content-security-policy"]


def test_an_internal_error_page_has_the_security_headers(db_copy, monkeypatch):
    """A page that crashes answers 500 with the same headers as every other page."""
    from starlette.testclient import TestClient

    from monitor import Monitor
    from monitor.console import create_app

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("monitor.console._app.alert_rows", broken)
    db, _ = db_copy
    with Monitor.open(str(db)) as monitor:
        app = create_app(monitor, stories=False)
        with TestClient(app, raise_server_exceptions=False) as client:
            page = client.get("/")
    assert page.status_code == 500
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "boom" not in page.text

"""The console in a real browser: Debian's headless chromium driven over DevTools, against a
`monitor serve` subprocess on a log with real-looking English and Arabic data."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from monitor import Monitor
from monitor.alerts import JsonlSettings, JsonlSink
from tests.console.browser import Browser, free_port, need_chromium, png_size_and_colours, visible
from tests.console.data import ARABIC_TITLE, RLO, RULES, build

pytestmark = pytest.mark.slow
TOKEN = "browser-token-91c2"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A `monitor serve` subprocess on a free loopback port over a fresh data log."""
    need_chromium()
    folder = tmp_path_factory.mktemp("serve")
    db = folder / "m.db"
    ids = build(db)
    token_file = folder / "token"
    token_file.write_text(TOKEN + "\n")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "--db",
            str(db),
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--token-file",
            str(token_file),
            "--rules",
            str(RULES),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"monitor serve did not start: {process.communicate()[1]}")
        time.sleep(0.2)
    yield base, db, ids, folder
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory, served):
    b = Browser(tmp_path_factory.mktemp("profile"))
    yield b
    b.close()


def _pages(ids):
    """Each page and the text that must be on it."""
    return {
        "alerts": ("/", ["Live alerts", "Troop or convoy movement", "Shelling reported"]),
        "alert": (
            f"/alerts/{ids['english_alert']}",
            ["Convoy of 40 trucks crosses toward Abu Kamal", "Revisions (2)", "ap-news"],
        ),
        "arabic": (f"/alerts/{ids['arabic_alert']}", [ARABIC_TITLE, "SANA"]),
        "search": ("/search?q=convoy", ["Search items", "Convoy of 40 trucks"]),
        "feeds": ("/feeds", ["Feed health", "HTTP 503 Service Unavailable", "degraded"]),
        "rules": ("/rules", ["Rules", "movement", "Precision", "Hits over time"]),
        "charts": ("/charts", ["Alerts per rule, by day", "Alerts per place, by day"]),
        "silences": ("/silences", ["Silences"]),
    }


@pytest.mark.parametrize("width", [390, 1366])
def test_every_page_renders_at_phone_and_desktop_width(served, browser, width):
    """Each page's DOM text holds what must be there, the page does not overflow the width,
    and its screenshot is a PNG of that width that is not blank."""
    base, _, ids, folder = served
    browser.width(width)
    for name, (path, wanted) in _pages(ids).items():
        browser.open(base + path)
        text = visible(browser.text())
        for needle in wanted:
            assert needle in text, f"{name} at {width}px lacks {needle!r}"
        overflow = browser.eval("document.documentElement.scrollWidth")
        assert overflow <= width + 1, f"{name} is {overflow}px wide at {width}px"
        shot = browser.screenshot(folder / f"{name}-{width}.png")
        shot_width, shot_height, colours = png_size_and_colours(shot)
        assert shot_width == width and shot_height >= 300
        assert colours > 8, f"{name} at {width}px looks blank"
    # the charts scale to the width they have
    browser.open(base + "/charts")
    chart = browser.eval("document.querySelector('svg.chart').getBoundingClientRect().width")
    assert 0.8 * min(width - 40, 760) <= chart <= width


def test_live_page_receives_an_alert_ingested_after_it_loaded(served, browser):
    base, db, _, _ = served
    browser.width(1366)
    browser.open(base + "/")
    browser.wait_for("document.getElementById('live-status').textContent === 'live'")
    before = browser.eval("document.querySelectorAll('#alert-list li').length")
    with Monitor.open(str(db), rules=str(RULES)) as m:
        report = m.ingest(
            [
                {
                    "feed": "reuters-world",
                    "guid": "live-browser-1",
                    "title": "Reinforcements arrive at al-Tanf garrison",
                    "source": "Reuters",
                }
            ]
        )
    assert len(report.alerts) == 1
    browser.wait_for(
        "document.querySelector('#alert-list li.fresh .places')"
        " && document.querySelector('#alert-list li.fresh').innerText.includes('al-tanf')"
    )
    assert browser.eval("document.querySelectorAll('#alert-list li').length") == before + 1
    fresh = browser.eval("document.querySelector('#alert-list li.fresh').innerText")
    assert "Reinforcements arrive at al-Tanf garrison" in fresh and "movement" in fresh
    assert browser.eval("document.title").startswith("(1) ")
    assert browser.eval("document.getElementById('new-count').textContent") == "1 new"


def test_search_from_the_form_finds_an_item(served, browser):
    base, _, ids, _ = served
    browser.open(base + "/search")
    browser.eval(
        "document.querySelector('input[name=q]').value = 'البوكمال';"
        "document.querySelector('form.search').submit()"
    )
    browser.wait_for(
        "location.search.includes('q=') && document.readyState === 'complete'"
        " && document.querySelectorAll('.hit').length > 0"
    )
    links = browser.eval("Array.from(document.querySelectorAll('.hit a.title'), a => a.href)")
    assert any(ids["arabic_item"] in link for link in links)
    assert ARABIC_TITLE in browser.text()


def test_a_silence_made_in_the_console_stops_delivery(served, browser):
    """Silence `shelling` from an alert page (token typed into the form); then a new shelling
    alert reaches no sink, while a movement alert raised with it is delivered."""
    base, db, ids, folder = served
    browser.open(base + f"/alerts/{ids['rlo_alert']}")
    browser.eval(
        "const f = document.querySelector('form[action$=\"/silence\"]');"
        "f.querySelector('textarea').value = 'rule=shelling';"
        f"f.querySelector('input[name=token]').value = {TOKEN!r};"
        "f.querySelector('input[name=by]').value = 'night shift';"
        "f.requestSubmit()"
    )
    browser.wait_for("document.querySelector('.done') !== null")
    assert "mutes rule=shelling" in browser.text()
    sink_file = folder / "delivered.jsonl"
    sink = JsonlSink(JsonlSettings(name="desk", path=str(sink_file)))
    with Monitor.open(str(db), rules=str(RULES), sinks=[sink]) as m:
        report = m.ingest(
            [
                {"feed": "afp-mideast", "guid": "after-1", "title": "Shelling near Abu Kamal"},
                {"feed": "afp-mideast", "guid": "after-2", "title": "Convoy leaves al-Tanf"},
            ]
        )
    raised = {a.rule_id: a.alert_id for a in report.alerts}
    assert {"shelling", "movement"} <= set(raised)
    delivered = [json.loads(line) for line in sink_file.read_text().splitlines()]
    ids_out = {d.get("alert_id") for d in delivered}
    assert raised["movement"] in ids_out
    assert raised["shelling"] not in ids_out
    # the console shows the muted alert as silenced, by the silence made there
    browser.open(base + f"/alerts/{raised['shelling']}")
    assert "silenced by" in browser.text()
    browser.open(base + "/silences")
    assert "night shift" in browser.text()


def test_hostile_feed_content_is_rendered_harmlessly(served, browser):
    """A <script> in a title does not run (the title stays), an onerror image is text, a
    javascript: link is no link, and a right-to-left override is removed."""
    base, _, ids, _ = served
    for alert in ("hostile_alert", "rlo_alert"):
        browser.open(base + f"/alerts/{alert and ids[alert]}")
        title = browser.eval("document.title")
        assert title != "pwned" and title.endswith("console")
        assert browser.eval("document.scripts.length") == 1
        assert browser.eval("document.querySelectorAll('main img').length") == 0
        hrefs = browser.eval("Array.from(document.links, a => a.href)")
        assert all(h.startswith(("http://", "https://")) for h in hrefs), hrefs
        assert RLO not in browser.text()
    browser.open(base + f"/alerts/{ids['hostile_alert']}")
    assert "<script>document.title='pwned'</script>" in browser.text()
    browser.open(base + "/search?q=shelling")
    assert "txt.exe" in browser.text() and RLO not in browser.text()


def test_binding_beyond_loopback_without_a_token_warns(tmp_path):
    """The warning comes before the server starts; a missing token file exits 4."""
    db = tmp_path / "m.db"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "--db",
            str(db),
            "serve",
            "--bind",
            f"0.0.0.0:{free_port()}",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stderr.readline()
        second = process.stderr.readline()
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert first.startswith("warning: serving on 0.0.0.0, not loopback, without a token")
    assert "(read-only)" in second
    bad = subprocess.run(
        [sys.executable, "-m", "monitor", "--db", str(db), "serve", "--token-file", str(db) + "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 4 and "cannot read the token" in bad.stderr

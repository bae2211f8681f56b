"""The HTML report: what it counts, that it escapes, and that headless Chromium renders it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from monitor.alerting import AlertEvaluator
from monitor.alerts import collect_report, highlight, render_html
from monitor.cli import cli
from monitor.log import MemoryLog, open_log
from tests.alerts.conftest import timed
from tests.alerts.test_evaluator import STORY

NOW = datetime(2026, 3, 5, tzinfo=UTC)
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def story_log(ruleset, clock):
    """A memory log with STORY evaluated by the test rule pack."""
    log = MemoryLog()
    log.append_events(STORY)
    AlertEvaluator(log, ruleset, clock=clock).run()
    return log


def test_collect_report_counts_rules_places_and_latest(story_log):
    """Counts per rule and per place by day, entity totals, latest alerts and their items."""
    data = collect_report(story_log, now=NOW, latest=3)
    assert sum(sum(c.values()) for c in data.per_rule.values()) == data.alerts
    assert data.suppressed == 2
    assert sum(data.per_rule["shelling"].values()) == 2
    assert data.entities["place:deir-ez-zor"] >= 3
    assert [a.event_time for a in data.latest] == sorted(
        (a.event_time for a in data.latest), reverse=True
    )
    assert len(data.latest) == 3
    assert all(i in data.items for a in data.latest for i in a.item_ids)


def test_highlight_escapes_and_marks():
    """Spans are wrapped in <mark>, everything else is HTML-escaped (no markup injection)."""
    assert (
        highlight("<b>Convoy</b> near", [(3, 9)]) == "&lt;b&gt;<mark>Convoy</mark>&lt;/b&gt; near"
    )
    assert highlight("abc", [(1, 2), (1, 2), (5, 9)]) == "a<mark>b</mark>c"


def test_render_is_self_contained_and_escaped(ruleset, clock):
    """No script, no external URL; a hostile title is escaped; charts are inline SVG."""
    log = MemoryLog()
    log.append_events([timed(1, 0, "<script>alert(1)</script> Convoy near Abu Kamal")])
    AlertEvaluator(log, ruleset, clock=clock).run()
    page = render_html(collect_report(log, now=NOW))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r"(src|href)=['\"]https?://", page)
    assert page.count("<svg") == 2


HOSTILE_LINKS = [
    "javascript:alert(document.domain)",
    "JavaScript:alert(1)",
    " \tjava\nscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/x",
    "/relative/item.html",
]


def _hostile_page(ruleset, clock) -> str:
    log = MemoryLog()
    items = [
        timed(n, n, f"Convoy near Abu Kamal, report {n}", url=url)
        for n, url in enumerate(HOSTILE_LINKS, start=1)
    ]
    items.append(timed(99, 20, "Convoy near Abu Kamal, the real one", url="https://example.org/a"))
    log.append_events(items)
    AlertEvaluator(log, ruleset, clock=clock).run()
    return render_html(collect_report(log, now=NOW, latest=50))


def test_only_http_links_become_hrefs(ruleset, clock):
    """A feed's javascript:, data:, vbscript:, file: or relative link is shown as plain text,
    never as a live href; an https link stays a link, opened without a referrer."""
    page = _hostile_page(ruleset, clock)
    shown = set(re.findall(r"report (\d+)", page))
    assert shown == {str(n) for n in range(1, len(HOSTILE_LINKS) + 1)}  # every item is there
    hrefs = re.findall(r"href='([^']*)'", page)
    assert hrefs and set(hrefs) == {"https://example.org/a"}
    assert "rel='noopener noreferrer nofollow'" in page
    assert "javascript" not in page.lower() and "data:text" not in page


def test_report_has_a_content_security_policy(story_log):
    """The page forbids scripts, external loads, base changes and forms in its own head."""
    page = render_html(collect_report(story_log, now=NOW))
    csp = re.search(r"<meta http-equiv='Content-Security-Policy' content=\"([^\"]+)\">", page)
    assert csp is not None and page.index(csp.group(0)) < page.index("<style>")
    policy = dict(part.strip().split(" ", 1) for part in csp.group(1).split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["base-uri"] == "'none'" and policy["form-action"] == "'none'"
    assert "script-src" not in policy  # falls back to default-src 'none'


def _chromium_dom(path) -> str:
    """Render `path` in headless Chromium and return the DOM it built."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--dump-dom",
        path.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_report_renders_in_headless_chromium(tmp_path, ruleset, clock):
    """`monitor report --html` writes a page that Chromium renders with charts and evidence."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"{CHROMIUM} is missing; CI must install chromium (apt-get install chromium)"
            )
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); CI runs this test")
    db = tmp_path / "m.db"
    with open_log(str(db)) as log:
        log.append_events(STORY)
        AlertEvaluator(log, ruleset, clock=clock).run()
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["--db", str(db), "report", "--html", str(out)])
    assert result.exit_code == 0 and "wrote" in result.output
    dom = _chromium_dom(out)
    assert "Alerts per rule, by day" in dom and "Alerts per place, by day" in dom
    assert dom.count("<svg") == 2 and dom.count('class="bar"') >= 8
    assert "<mark>Convoy</mark>" in dom or "<mark>Convoys</mark>" in dom
    assert "deir-ez-zor" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            f"--screenshot={shot}",
            "--window-size=1100,1400",
            out.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000  # a real picture, not a blank page


def test_report_unwritable_path_is_a_clear_error(tmp_path, story_log):
    """Writing the report where no file can be created exits 1 with one error line."""
    db = tmp_path / "m.db"
    with open_log(str(db)):
        pass
    result = CliRunner().invoke(
        cli, ["--db", str(db), "report", "--html", str(tmp_path / "no" / "dir" / "r.html")]
    )
    assert result.exit_code == 1 and "cannot write" in result.output

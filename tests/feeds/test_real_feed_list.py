"""feeds/syria-iraq.yaml, the real Syria/Iraq feed list: it loads and is well formed.

There is no network in CI, so nothing here fetches a feed: the list is loaded and checked as
text (ids, URLs, tags, intervals, the source comment on every entry), and `monitor feeds check`
is run on it.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli._main import cli
from monitor.feeds import load_feeds

from .conftest import REPO

LIST = REPO / "feeds" / "syria-iraq.yaml"
LANGS = {"en", "ar"}
#: Query parameter names that would carry a secret; a public feed needs none of them.
SECRET_PARAMS = re.compile(
    r"^(token|access_token|key|api_?key|apikey|secret|password|passwd|pwd|sig|signature|auth)$",
    re.I,
)


@pytest.fixture(scope="module")
def feedlist():
    return load_feeds(LIST)


def test_it_loads_and_every_feed_is_enabled(feedlist):
    assert len(feedlist.feeds) >= 15
    assert feedlist.enabled == feedlist.feeds


def test_ids_are_unique(feedlist):
    ids = [f.id for f in feedlist.feeds]
    assert len(ids) == len(set(ids))


def test_urls_are_public_https_without_credentials(feedlist):
    for feed in feedlist.feeds:
        assert feed.path is None and feed.url is not None, feed.id
        parts = urlsplit(feed.url)
        assert parts.scheme == "https", f"{feed.id}: {feed.url} (every outlet here serves https)"
        assert parts.username is None and parts.password is None, feed.id
        assert "@" not in parts.netloc, feed.id
        assert feed.auth is None and not feed.allow_networks, feed.id
        host = parts.hostname or ""
        with pytest.raises(ValueError):
            ipaddress.ip_address(host)  # a name, not an address
        assert "." in host and not host.endswith((".local", ".internal", ".example")), feed.id
        secrets = [k for k, _ in parse_qsl(parts.query) if SECRET_PARAMS.match(k)]
        assert not secrets, f"{feed.id}: query parameters {secrets}"


def test_every_feed_has_one_language_tag_and_a_third_are_arabic(feedlist):
    for feed in feedlist.feeds:
        assert len(LANGS & set(feed.tags)) == 1, f"{feed.id}: tags {feed.tags}"
        assert feed.tags[0] in LANGS, f"{feed.id}: the language tag comes first"
    arabic = [f for f in feedlist.feeds if "ar" in f.tags]
    assert 3 * len(arabic) >= len(feedlist.feeds)


def test_intervals_and_jitter_are_sensible(feedlist):
    for feed in feedlist.feeds:
        assert 5 * 60 <= feed.interval <= 24 * 3600, f"{feed.id}: {feed.interval}s"
        assert 0 < feed.jitter < feed.interval, feed.id


def test_written_in_the_readme_style():
    """A header comment, `defaults:`, and per feed: id, title, url, interval, tags, with a
    comment saying where the URL was found right above it."""
    text = LIST.read_text(encoding="utf-8")
    assert text.startswith("# ")
    header = text.split("\ndefaults:", 1)[0]
    for needed in ("feeds/default.yaml", "credentials", "410", "redirect"):
        assert needed in header, needed
    doc = yaml.safe_load(text)
    assert set(doc) == {"defaults", "feeds"}
    assert {"interval", "jitter"} <= set(doc["defaults"])
    for raw in doc["feeds"]:
        assert set(raw) == {"id", "title", "url", "interval", "tags"}, raw["id"]
    lines = text.splitlines()
    url_lines = [i for i, line in enumerate(lines) if line.strip().startswith("url: ")]
    assert len(url_lines) == len(doc["feeds"])
    for i in url_lines:
        assert lines[i - 1].strip().startswith("#"), f"line {i + 1}: no source comment above"


def test_monitor_feeds_check_accepts_it():
    result = CliRunner().invoke(cli, ["feeds", "check", "--feeds", str(LIST)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output

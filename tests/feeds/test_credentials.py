"""Feed credentials: sent as an Authorization header to the feed's own origin, recorded nowhere.

The password is ``s3cret`` throughout; every test looks for it (and for its Base64 form inside
a Basic header) in whatever the code under test writes.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from monitor.errors import ConfigError, FeedError
from monitor.feeds import (
    FeedAuth,
    FeedConfig,
    FeedState,
    Fetcher,
    check_feed_url,
    export_opml,
    feeds_to_yaml,
    import_opml,
    load_feeds,
    poll_feed,
)
from monitor.log import open_log

from .conftest import LOCAL, REPO, rss

SECRET = "s3cret"
BASIC = "Basic " + base64.b64encode(b"user:s3cret").decode()
LEAKS = (SECRET, base64.b64encode(b"user:s3cret").decode())


def clock() -> datetime:
    return datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def assert_clean(text: str | bytes, where: str) -> None:
    """Neither the password nor the Basic token appears in `text`."""
    data = text if isinstance(text, bytes) else text.encode()
    for leak in LEAKS:
        assert leak.encode() not in data, f"{leak!r} found in {where}"


def items_with_relative_links() -> bytes:
    """A feed whose item links are relative, so they are resolved against the feed's URL."""
    return rss([{"title": f"Item {i}", "link": f"news/{i}", "guid": f"g{i}"} for i in range(3)])


def feed_list(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(body)
    return path


@pytest.fixture
def other_origin(httpserver):
    """A second server on 127.0.0.2 (another origin) that records what it receives."""
    server = HTTPServer(host="127.0.0.2", port=0)
    server.expect_request("/feed.xml").respond_with_data(items_with_relative_links())
    server.start()
    yield server
    server.clear()
    server.stop()


def test_userinfo_is_sent_as_basic_and_recorded_nowhere(tmp_path, httpserver, caplog):
    """user:s3cret@ in the feed list reaches the server as a Basic header, and s3cret is in no
    log record's bytes, no DEBUG log line, no config repr, no event, no item link."""
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request("/feed.xml").respond_with_data(items_with_relative_links())
    url = httpserver.url_for("/feed.xml").replace("http://", f"http://user:{SECRET}@")
    entry = f"{{id: wire, url: '{url}', allow_networks: [127.0.0.1]}}"
    feeds = load_feeds(feed_list(tmp_path, f"feeds:\n  - {entry}\n"))
    feed = feeds.feeds[0]
    assert feed.url == httpserver.url_for("/feed.xml")
    assert_clean(repr(feeds) + str(feed) + repr(feed.auth), "the config's repr")
    db = tmp_path / "news.db"
    with open_log(db) as log, Fetcher(trust_env=False) as fetcher:
        report = poll_feed(log, feed, None, fetcher=fetcher, clock=clock)
        assert report.ok and report.new_items == 3
        events = [e for _, e in log.iter_events()]
    assert httpserver.log[0][0].headers.get("Authorization") == BASIC
    links = [e.url for e in events if type(e).__name__ == "ItemReceived"]
    assert links == [httpserver.url_for(f"/news/{i}") for i in range(3)]
    assert_clean(repr(events), "the events")
    assert_clean(caplog.text, "the DEBUG log")
    for file in tmp_path.glob("news.db*"):  # the database and any WAL: every record's bytes
        assert_clean(file.read_bytes(), file.name)


def test_watch_status_and_export_never_show_the_password(tmp_path, httpserver):
    """`monitor -vv watch --once`, `feeds status --json` and `feeds export` as a user runs them
    (debug logging on): the password appears in no output and in no byte of the database."""
    httpserver.expect_request("/feed.xml").respond_with_data(items_with_relative_links())
    url = httpserver.url_for("/feed.xml").replace("http://", f"http://user:{SECRET}@")
    feeds = feed_list(
        tmp_path,
        "defaults: {allow_networks: [127.0.0.1/32]}\n"
        f"feeds:\n  - {{id: wire, url: '{url}'}}\n"
        f"  - {{id: down, url: '{url.replace('/feed.xml', '/missing.xml')}'}}\n",
    )
    db = str(tmp_path / "m.db")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MONITOR_DB", None)

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "-vv", "--db", db, *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    outputs = {
        "watch": run("watch", "--once", "--json", "--no-rules", "--feeds", str(feeds)),
        "status": run("feeds", "status", "--json", "--feeds", str(feeds)),
        "export": run("feeds", "export", "--feeds", str(feeds)),
    }
    assert all(r[0].headers.get("Authorization") == BASIC for r in httpserver.log)
    assert '"last_error_kind": "http_status"' in outputs["status"]  # the failure is shown...
    assert "127.0.0.1" in outputs["export"]
    assert f"GET {httpserver.url_for('/feed.xml')}" in outputs["watch"]  # the -vv log was read
    for name, text in outputs.items():
        assert_clean(text, name)  # ...without the password
        assert "user:" not in text
    for file in tmp_path.glob("m.db*"):
        assert_clean(file.read_bytes(), file.name)


def test_a_redirect_to_another_origin_does_not_carry_the_credentials(
    tmp_path, httpserver, other_origin, log
):
    """Authorization goes to the feed's origin only: not to a redirect target on another host,
    and not to the new address of a feed that moved there, on later polls either."""
    target = other_origin.url_for("/feed.xml")
    httpserver.expect_request("/feed.xml").respond_with_data(
        "", status=301, headers={"Location": target}
    )
    auth = FeedAuth(
        scheme="basic", origin=f"http://127.0.0.1:{httpserver.port}", username="user",
        secret=SECRET,
    )  # fmt: skip
    feed = FeedConfig(
        id="wire", url=httpserver.url_for("/feed.xml"), auth=auth,
        allow_networks=("127.0.0.1/32", "127.0.0.2/32"),
    )  # fmt: skip
    with Fetcher(trust_env=False) as fetcher:
        first = poll_feed(log, feed, None, fetcher=fetcher, clock=clock)
        assert first.ok and first.url == target
        moved = FeedState(feed_id="wire", url=target, moved_from=feed.url)
        second = poll_feed(log, feed, moved, fetcher=fetcher, clock=clock)
    assert second.ok
    assert httpserver.log[0][0].headers.get("Authorization") == BASIC
    assert [r.headers.get("Authorization") for r, _ in other_origin.log] == [None, None]


def test_a_same_origin_redirect_keeps_the_credentials(httpserver):
    """A redirect within the feed's origin still carries the Authorization header."""
    httpserver.expect_request("/old.xml").respond_with_data(
        "", status=302, headers={"Location": "/new.xml"}
    )
    httpserver.expect_request("/new.xml").respond_with_data(items_with_relative_links())
    auth = FeedAuth(scheme="bearer", origin=f"http://127.0.0.1:{httpserver.port}", secret="tok")
    with Fetcher(trust_env=False, allow_networks=LOCAL) as fetcher:
        assert fetcher.fetch(httpserver.url_for("/old.xml"), auth=auth).status == 200
    assert [r.headers.get("Authorization") for r, _ in httpserver.log] == ["Bearer tok"] * 2


def test_secrets_from_the_environment_and_from_files(tmp_path, monkeypatch):
    """password_env and bearer_token_file are read once at load; the secret becomes the header
    and its reference (never the secret) is what `feeds_to_yaml` writes back."""
    monkeypatch.setenv("WIRE_PASSWORD", SECRET)
    (tmp_path / "token.txt").write_text("tok-123\n")
    feeds = load_feeds(
        feed_list(
            tmp_path,
            "feeds:\n"
            "  - id: wire\n    url: https://wire.example/rss\n"
            "    auth: {username: user, password_env: WIRE_PASSWORD}\n"
            "  - id: desk\n    url: https://desk.example/rss\n"
            "    auth: {bearer_token_file: token.txt}\n",
        )
    )
    monkeypatch.delenv("WIRE_PASSWORD")  # read once: the loaded feed keeps working
    wire, desk = feeds.feeds
    assert wire.auth.header() == BASIC and wire.auth.origin == "https://wire.example:443"
    assert desk.auth.header() == "Bearer tok-123"
    written = feeds_to_yaml(feeds)
    assert "password_env: WIRE_PASSWORD" in written and "bearer_token_file: token.txt" in written
    assert_clean(written + repr(feeds), "feeds_to_yaml and repr")
    assert "tok-123" not in written + repr(feeds)


@pytest.mark.parametrize(
    ("auth", "line", "message"),
    [
        ("{username: u, password_env: NOT_SET_ANYWHERE}", 4, "'NOT_SET_ANYWHERE' is not set"),
        ("{username: u, password_file: missing.txt}", 4, "does not exist"),
        ("{username: u}", 4, "needs exactly one of"),
        ("{password_env: X, password_file: y}", 4, "needs exactly one of"),
        ("{password_env: HOME}", 4, "needs a `username`"),
        ("{username: u, bearer_token_env: HOME}", 4, "takes no `username`"),
        ("{username: u, password: s3cret}", 4, "did you mean 'password_env'"),
        ("just-text", 4, "must be a mapping"),
    ],
)
def test_auth_mistakes_name_the_line(tmp_path, monkeypatch, auth, line, message):
    """A missing variable or file, or a wrong `auth:` mapping, stops the load with
    file:line:column, what to fix, and never the secret."""
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = feed_list(
        tmp_path, f"feeds:\n  - id: wire\n    url: https://wire.example/rss\n    auth: {auth}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_feeds(path)
    text = str(info.value)
    assert f"feeds.yaml:{line}:" in text and message in text, text
    assert_clean(text, "the error")


def test_credentials_twice_or_a_user_without_password_are_refused(tmp_path):
    """Credentials both in the URL and in `auth:`, or a user with no password, are errors that
    do not repeat the URL's password."""
    both = feed_list(
        tmp_path,
        "feeds:\n  - id: a\n    url: 'https://u:s3cret@a.example/'\n"
        "    auth: {username: u, password_env: HOME}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_feeds(both)
    assert "both in its URL and in `auth:`" in str(info.value)
    assert_clean(str(info.value), "the error")
    alone = feed_list(tmp_path, "feeds:\n  - {id: a, url: 'https://u@a.example/'}\n")
    with pytest.raises(ConfigError, match="no password"):
        load_feeds(alone)


def test_messages_about_a_url_never_repeat_its_password(tmp_path):
    """check_feed_url, FeedConfig, Fetcher.fetch and load_feeds redact user:password@."""
    with pytest.raises(ValueError) as info:
        check_feed_url(f"ftp://user:{SECRET}@a.example/f")
    assert_clean(str(info.value), "check_feed_url")
    with pytest.raises(ValueError) as info:
        FeedConfig(id="a", url=f"http://user:{SECRET}@a.example/f")
    assert "auth=FeedAuth" in str(info.value)
    assert_clean(str(info.value), "FeedConfig")
    with Fetcher(trust_env=False) as fetcher, pytest.raises(FeedError) as fetched:
        fetcher.fetch(f"http://user:{SECRET}@a.example/f")
    assert fetched.value.kind == "url"
    assert_clean(str(fetched.value), "FeedError")
    bad = feed_list(tmp_path, f"feeds:\n  - {{id: a, url: 'gopher://user:{SECRET}@a.example/'}}\n")
    with pytest.raises(ConfigError) as loaded:
        load_feeds(bad)
    assert_clean(str(loaded.value), "ConfigError")


def test_opml_import_drops_credentials_and_export_never_has_them(tmp_path, caplog):
    """An OPML URL with user:password@ is imported without them (a warning, without the
    password, says how to add `auth:`); export writes the clean URL."""
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><head/><body>'
        f'<outline text="Wire" xmlUrl="https://user:{SECRET}@wire.example/rss"/>'
        "</body></opml>"
    ).encode()
    with caplog.at_level(logging.WARNING):
        feeds = import_opml(opml)
    assert [f.url for f in feeds] == ["https://wire.example/rss"]
    assert "were not imported" in caplog.text and "auth:" in caplog.text
    assert_clean(caplog.text + feeds_to_yaml(feeds), "the import")
    auth = FeedAuth(scheme="basic", origin="https://wire.example:443", username="u", secret=SECRET)
    loaded = load_feeds(
        feed_list(tmp_path, f"feeds:\n  - {{id: w, url: 'https://user:{SECRET}@wire.example/'}}\n")
    )
    exported = export_opml(loaded)
    assert 'xmlUrl="https://wire.example/"' in exported
    assert_clean(exported + repr(auth) + str(auth), "the export and FeedAuth's repr")

"""Feed lists (YAML) and OPML: what loads, and the located errors for what does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.feeds import (
    FeedConfig,
    FeedList,
    export_opml,
    feeds_to_yaml,
    import_opml,
    load_feeds,
    parse_duration,
)

from .conftest import REPO


def write(tmp_path: Path, text: str, name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_feeds(write(tmp_path, text))
    return info.value


def test_default_feed_list_loads():
    """feeds/default.yaml loads: four enabled local samples and one disabled remote example."""
    feeds = load_feeds(REPO / "feeds" / "default.yaml")
    assert [f.id for f in feeds.enabled] == [
        "euphrates-wire",
        "levant-desk",
        "badia-bulletin",
        "tigris-evening-post",
    ]
    assert all(f.path is not None and f.path.is_file() for f in feeds.enabled)
    assert feeds.get("example-remote").enabled is False
    assert feeds.defaults["interval"] == "15m"


def test_defaults_apply_and_feeds_override(tmp_path):
    """`defaults:` fill what a feed leaves out; a feed's own keys win; durations parse."""
    path = write(
        tmp_path,
        "defaults: {interval: 1h, jitter: 90s, tags: [wire]}\n"
        "feeds:\n"
        "  - {id: a, url: 'https://a.example/rss'}\n"
        "  - {id: b, url: 'http://b.example/rss', interval: 15m, tags: [x, y], enabled: false}\n",
    )
    a, b = load_feeds(path).feeds
    assert (a.interval, a.jitter, a.tags, a.enabled) == (3600, 90, ("wire",), True)
    assert (b.interval, b.tags, b.enabled) == (900, ("x", "y"), False)


def test_relative_path_is_relative_to_the_yaml_file(tmp_path):
    """`path:` is resolved against the feed list's folder, not the working directory."""
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "x.xml").write_text("<rss/>")
    feed = load_feeds(write(tmp_path, "feeds: [{id: x, path: samples/x.xml}]")).feeds[0]
    assert feed.path == tmp_path / "samples" / "x.xml"
    assert feed.interval == 900


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("feeds:\n  - {id: a, url: 'https://a.example/'}\n  - {id: a, url: 'https://b.example/'}\n",
         3, "duplicate feed id 'a'"),
        ("feeds:\n  - id: a\n    url: https://a.example/\n    path: x.xml\n", 2, "exactly one of"),
        ("feeds:\n  - id: a\n    interval: 5m\n", 2, "exactly one of"),
        ("feeds:\n  - id: a\n    url: file:///etc/passwd\n", 3, "use `path:`"),
        ("feeds:\n  - id: a\n    url: ftp://a.example/f\n", 3, "only http:// and https://"),
        ("feeds:\n  - id: a\n    url: javascript:alert(1)\n", 3, "only http:// and https://"),
        ("feeds:\n  - id: a\n    url: https:///nohost\n", 3, "no host"),
        ("feeds:\n  - id: a\n    url: https://a.example/\n    interval: often\n", 4, "90s, 15m"),
        ("feeds:\n  - id: a\n    url: https://a.example/\n    interval: 0s\n", 4, "at least 1s"),
        ("feeds:\n  - id: a\n    url: https://a.example/\n    intervall: 5m\n", 2,
         "did you mean 'interval'"),
        ("feeds:\n  - url: https://a.example/\n", 2, "no `id`"),
        ("feeds:\n  - id: 'bad id!'\n    url: https://a.example/\n", 2, "must start with"),
        ("feeds:\n  - id: a\n    path: missing.xml\n", 3, "does not exist"),
        ("feeds:\n  - id: a\n    url: https://a.example/\n    enabled: maybe\n", 4,
         "true or false"),
        ("feeds: {id: a}\n", 1, "must be a list"),
        ("feeds:\n  - id: a\n  url: x\n", 3, "not valid YAML"),
        ("- just a list\n", 1, "a mapping with a `feeds:` list"),
        ("feed:\n  - id: a\n", 1, "did you mean 'feeds'"),
    ],
)  # fmt: skip
def test_errors_name_file_line_and_fix(tmp_path, text, line, words):
    """Each mistake is a ConfigError at file:line that says what to change."""
    err = error_of(tmp_path, text)
    assert err.source.path == str(tmp_path / "feeds.yaml")
    assert err.source.line == line, str(err)
    assert words in err.message
    assert str(err).startswith(f"{tmp_path / 'feeds.yaml'}:{line}:")


def test_missing_file_is_a_config_error(tmp_path):
    """A feed list that does not exist is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="not found"):
        load_feeds(tmp_path / "none.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("15m", 900.0), ("1h", 3600.0), ("1.5h", 5400.0),
     ("2d", 172800.0), ("500ms", 0.5)],
)  # fmt: skip
def test_parse_duration(text, seconds):
    """Durations accept bare seconds and s/m/h/d/ms suffixes."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5m", "5 minutes", True])
def test_parse_duration_refuses_nonsense(text):
    """Anything else is a ValueError that shows the accepted forms."""
    with pytest.raises(ValueError):
        parse_duration(text)


def test_yaml_roundtrip(tmp_path):
    """feeds_to_yaml writes what load_feeds reads back identically."""
    (tmp_path / "x.xml").write_text("<rss/>")
    original = (
        FeedConfig(id="a", url="https://a.example/rss", interval=1800, jitter=30, tags=("t",)),
        FeedConfig(id="b", path=tmp_path / "x.xml", interval=90, enabled=False, title="B feed"),
    )
    path = write(tmp_path, feeds_to_yaml(list(original)))
    assert load_feeds(path).feeds == original


def test_opml_roundtrip():
    """export_opml then import_opml keeps URLs, titles and tags; local feeds are left out."""
    feeds = FeedList(
        feeds=(
            FeedConfig(id="a", url="https://a.example/rss?x=1&y=2", title="A & Co", tags=("wire",)),
            FeedConfig(id="local", path=Path("/tmp/x.xml")),
        )
    )
    text = export_opml(feeds)
    assert "local feed local" in text
    [back] = import_opml(text.encode())
    assert (back.url, back.title, back.tags) == (
        "https://a.example/rss?x=1&y=2",
        "A & Co",
        ("wire",),
    )


def test_opml_import_folders_become_tags_and_ids_are_unique(tmp_path):
    """Nested outlines give tags; same titles give distinct ids; non-http outlines are skipped."""
    opml = tmp_path / "subs.opml"
    opml.write_text(
        """<?xml version="1.0"?><opml version="1.0"><head><title>x</title></head><body>
        <outline text="Middle East">
          <outline type="rss" text="Wire" xmlUrl="https://one.example/rss"/>
          <outline type="rss" text="Wire" xmlUrl="https://two.example/rss" category="/syria"/>
          <outline type="rss" text="Local" xmlUrl="file:///etc/passwd"/>
        </outline></body></opml>"""
    )
    feeds = import_opml(opml)
    assert [f.id for f in feeds] == ["wire", "wire-2"]
    assert feeds[0].tags == ("Middle East",) and feeds[1].tags == ("Middle East", "syria")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml/>', "DTD"),
        (b"<opml><body><outline></body></opml>", "not well-formed"),
        (b"<rss/>", "not an OPML"),
        (b"<opml/>", "no <body>"),
    ],
)
def test_opml_bad_input(data, words):
    """Hostile or broken OPML is a ConfigError, never an expansion or a traceback."""
    with pytest.raises(ConfigError, match=words):
        import_opml(data)

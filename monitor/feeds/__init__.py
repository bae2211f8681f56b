"""Feed ingestion: feed lists, fetching, parsing, normalizing, polling, and the watcher.

The pieces, in the order an item travels: `load_feeds` reads the YAML feed list into
`FeedConfig` values (credentials split off into `FeedAuth`); `Fetcher` gets the bytes
(timeouts, deadline, size cap, redirects, conditional GET, public addresses only unless a
network is allowed); `parse_feed` hands them to feedparser after removing entity declarations;
`normalize_entries` makes `ItemReceived` events (plain text, UTC dates, deterministic ids);
`poll_feed` does all of that for one feed and records the outcome in the log; `Watcher` runs
`poll` on a schedule (APScheduler), reloads the feed list on change and stops cleanly.

This package meets rules, projections and alerts only through events in the log.
"""

from ._auth import FeedAuth
from ._config import (
    DEFAULT_INTERVAL,
    FeedConfig,
    FeedList,
    check_feed_url,
    feeds_to_yaml,
    load_feeds,
    parse_duration,
)
from ._fetch import DEFAULT_USER_AGENT, Fetcher, FetchResult, parse_retry_after
from ._items import read_items_file
from ._language import detect_language
from ._normalize import html_to_text, normalize_entries, publisher_domain
from ._opml import export_opml, import_opml
from ._parse import ParsedFeed, parse_feed, strip_dtd
from ._poll import MAX_BACKOFF, PollReport, backoff_delay, poll_feed
from ._poll_record import RecordPolicy, live_state, pending_heartbeat
from ._state import FeedState
from ._watcher import Watcher

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_USER_AGENT",
    "MAX_BACKOFF",
    "FeedAuth",
    "FeedConfig",
    "FeedList",
    "FeedState",
    "FetchResult",
    "Fetcher",
    "ParsedFeed",
    "PollReport",
    "RecordPolicy",
    "Watcher",
    "backoff_delay",
    "check_feed_url",
    "detect_language",
    "export_opml",
    "feeds_to_yaml",
    "html_to_text",
    "import_opml",
    "live_state",
    "load_feeds",
    "normalize_entries",
    "parse_duration",
    "parse_feed",
    "parse_retry_after",
    "pending_heartbeat",
    "poll_feed",
    "publisher_domain",
    "read_items_file",
    "strip_dtd",
]

"""Real-looking data for the console tests: English and Arabic items from several outlets, a
revision, a sighting, feed polls and failures, and hostile items (script tags, javascript:
links, right-to-left override characters)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor import Monitor
from monitor.events import FeedFailed, FeedPolled, ItemSighted, revision_of
from monitor.log import EventLog

RULES = Path(__file__).parent / "rulepack"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: reverses what follows it unless neutralised

#: A title whose script, if it ever ran, would change the page's title.
HOSTILE_TITLE = "Convoy <script>document.title='pwned'</script> near Abu Kamal"
#: A title with a bidi override that would show "exe.txt" reversed.
RLO_TITLE = f"Shelling near Deir ez-Zor {RLO}txt.exe"
ARABIC_TITLE = "رتل عسكري يتجه نحو البوكمال"


def now_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def items(base: datetime) -> list[dict]:
    """The items, oldest first, published over the last three days before `base`."""

    def at(hours: float) -> datetime:
        return base - timedelta(hours=hours)

    return [
        {
            "feed": "reuters-world",
            "source": "Reuters",
            "guid": "r-1",
            "url": "https://www.reuters.example/world/convoy-abu-kamal",
            "title": "Convoy of 40 trucks crosses toward Abu Kamal",
            "summary": "A convoy of about 40 trucks was seen moving toward Abu Kamal on Monday.",
            "published": at(70),
            "lang": "en",
        },
        {
            "feed": "sana-ar",
            "source": "SANA",
            "guid": "s-1",
            "url": "https://sana.example/ar/1",
            "title": ARABIC_TITLE,
            "summary": "أفادت مصادر محلية بأن رتل عسكري يتجه نحو البوكمال فجر اليوم.",
            "published": at(50),
            "lang": "ar",
        },
        {
            "feed": "afp-mideast",
            "source": "AFP",
            "guid": "a-1",
            "url": "https://afp.example/shelling-deir",
            "title": "Heavy shelling reported in Deir ez-Zor countryside",
            "summary": "Residents said shelling lasted several hours.",
            "published": at(30),
            "lang": "en",
        },
        {
            "feed": "local-blog",
            "source": "Local Blog",
            "guid": "h-1",
            "url": "javascript:document.title='pwned'",
            "title": HOSTILE_TITLE,
            "summary": "<img src=x onerror=\"document.title='pwned'\"> reinforcements arrived.",
            "published": at(20),
            "lang": "en",
        },
        {
            "feed": "local-blog",
            "source": "Local Blog",
            "guid": "h-2",
            "url": "https://blog.example/rlo",
            "title": RLO_TITLE,
            "summary": "Unverified report.",
            "published": at(10),
            "lang": "en",
        },
        {
            "feed": "reuters-world",
            "source": "Reuters",
            "guid": "r-2",
            "url": "https://www.reuters.example/world/al-tanf-quiet",
            "title": "Markets steady as talks resume near al-Tanf",
            "summary": "No incidents were reported.",
            "published": at(5),
            "lang": "en",
        },
    ]


def build(db: str | Path | EventLog, base: datetime | None = None) -> dict[str, str]:
    """Write the data into the log at `db` (a path, or an open log left open) and evaluate
    the rules; return the ids tests use."""
    base = base or now_hour()
    if isinstance(db, EventLog):
        opened = contextlib.nullcontext(Monitor(db, rules=str(RULES), clock=lambda: base))
    else:
        opened = Monitor.open(str(db), rules=str(RULES), clock=lambda: base)
    with opened as m:
        events = [m.item(fields) for fields in items(base)]
        m.ingest(events)
        first = events[0]
        revised = first.__class__(
            **{
                **{f: getattr(first, f) for f in ("item_id", "feed_id", "guid", "url", "source")},
                "title": "Convoy of 40 trucks reaches Abu Kamal",
                "summary": first.summary + " Updated: it reached the town.",
                "published": first.published,
                "received": base,
                "lang": "en",
            }
        )
        m.append(
            [
                revision_of(revised, revision=1, previous_hash=None),
                ItemSighted(
                    item_id=first.item_id,
                    feed_id="ap-news",
                    seen=base - timedelta(hours=69),
                    entry_id="ap-news:1",
                    canonical_url="https://www.reuters.example/world/convoy-abu-kamal",
                    url="https://apnews.example/convoy",
                    title="Convoy crosses toward Abu Kamal",
                ),
                FeedPolled(
                    feed_id="reuters-world",
                    url="https://www.reuters.example/world/rss",
                    polled_at=base - timedelta(minutes=5),
                    new_items=2,
                ),
                FeedPolled(
                    feed_id="sana-ar",
                    url="https://sana.example/ar/rss",
                    polled_at=base - timedelta(minutes=7),
                    degraded=True,
                    problem="the feed declares no dates; received times are used",
                ),
                FeedFailed(
                    feed_id="local-blog",
                    url="https://blog.example/feed",
                    failed_at=base - timedelta(minutes=3),
                    error_kind="http",
                    message="HTTP 503 Service Unavailable",
                    status=503,
                    retry_after=600,
                ),
            ]
        )
        m.process()
        listed = m.alerts(limit=50)
    by_item = {a["item_ids"][0]: a["alert_id"] for a in listed if "-" not in a["rule_id"]}
    ids = {e.guid: e.item_id for e in events}
    corroborated = [a for a in listed if a["rule_id"] == "movement-corroborated"]
    return {
        "correlation_alert": next(
            a["alert_id"] for a in corroborated if ids["r-1"] in a["item_ids"]
        ),
        "english_alert": by_item[ids["r-1"]],
        "arabic_alert": by_item[ids["s-1"]],
        "hostile_alert": by_item[ids["h-1"]],
        "rlo_alert": by_item[ids["h-2"]],
        "item": first.item_id,
        "arabic_item": ids["s-1"],
        "quiet_item": ids["r-2"],
    }

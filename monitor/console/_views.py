"""What each console page shows, read from the projections with limits (never the whole log).

Every function takes the open log (and the rule set where rules matter) and returns plain
values for the templates. Feed text stays text here: the templates escape it and strip bidi
controls from every value they print; only evidence highlighting returns markup, built by
`monitor.alerts.highlight`, which escapes what it does not mark.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from markupsafe import Markup

from ..alerting import explain_correlation
from ..alerts import daily_chart, highlight, safe_link
from ..events import AlertRaised, Evidence, ItemReceived, ItemRevised, parse_time
from ..log import EventLog
from ..projections import AlertTimeline, ItemVersions, RuleHits, Silences, Stories
from ._feedback import AlertReview, precision

__all__ = [
    "CHART_CAP",
    "CHART_DAYS",
    "alert_rows",
    "alert_view",
    "charts",
    "item_view",
    "rules_view",
]

#: The charts cover this many days up to today...
CHART_DAYS = 30
#: ...and count at most this many alerts (newest first), so a page never reads more.
CHART_CAP = 20_000
#: The most items of one alert shown in full.
MAX_ITEMS = 10
#: Characters of an item's text shown (the rest is cut with "…").
TEXT_LIMIT = 4_000


def _time(value: str | datetime | None) -> datetime | None:
    return parse_time(value) if value else None


def alert_rows(
    log: EventLog,
    *,
    limit: int,
    rule: str | None = None,
    level: str | None = None,
    place: str | None = None,
) -> list[dict[str, Any]]:
    """The latest alerts' listings (newest first), each with ``review`` (or None),
    ``silenced_by`` (a silence id or None), ``places``, ``when`` (a datetime) and
    ``headline``: the current title of its first item (what happened, beside the rule's
    title, which says what kind of thing it is)."""
    rows = AlertTimeline.latest(log, limit=limit, rule=rule, level=level, place=place)
    for row in rows:
        item = ItemVersions.get(log, row["item_ids"][0]) if row["item_ids"] else None
        row["headline"] = (item or {}).get("title", "")
        row["review"] = AlertReview.of_alert(log, row["alert_id"])
        row["silenced_by"] = Silences.muting(log, row["alert_id"])
        row["places"] = [e.split(":", 1)[1] for e in row["entities"] if e.startswith("place:")]
        row["when"] = _time(row["event_time"])
    return rows


def raised_event(log: EventLog, position: int) -> AlertRaised | None:
    """The `AlertRaised` stored at `position` (one record read)."""
    page = log.read_page(position - 1, 1)
    if page and page[0].position == position:
        evt = page[0].event()
        if isinstance(evt, AlertRaised):
            return evt
    return None


def _spans(evidence: Sequence[Evidence], field: str) -> list[tuple[int, int]]:
    return [(e.start, e.end) for e in evidence if e.field in (field, "text")]


def _marked(text: str, evidence: Sequence[Evidence], field: str, limit: int) -> Markup:
    # `highlight` escapes every character it does not wrap in <mark>.
    return Markup(highlight(text, _spans(evidence, field), limit))


def _version_at(
    versions: Sequence[ItemReceived | ItemRevised], row: dict[str, Any] | None, position: int
) -> ItemReceived | ItemRevised:
    """The version of an item current when the record at `position` was appended (the one
    the alert's evidence spans refer to)."""
    if row is None:
        return versions[-1]
    chosen = versions[0]
    for version, entry in zip(
        versions, sorted(row["versions"], key=lambda v: v["position"]), strict=False
    ):
        if entry["position"] < position:
            chosen = version
    return chosen


def item_view(
    log: EventLog,
    item_id: str,
    *,
    evidence: Sequence[Evidence] = (),
    at_position: int | None = None,
) -> dict[str, Any] | None:
    """An item for a page: the version at `at_position` (default: the current one) with
    `evidence` highlighted, every version (``revisions``), other feeds' sightings, its story
    (outlets, size) and its link when it is http(s). None when the log has no such item."""
    row = ItemVersions.get(log, item_id)
    versions = ItemVersions.versions(log, item_id)
    if not versions:
        return None
    shown = _version_at(versions, row, at_position) if at_position else versions[-1]
    story_id = Stories.story_of(log, item_id)
    story = Stories.get(log, story_id) if story_id else None
    return {
        "item_id": item_id,
        "feed_id": shown.feed_id,
        "source": shown.source or shown.feed_id,
        "lang": shown.lang or shown.text_lang,
        "time": shown.published or shown.received,
        "link": safe_link(shown.url),
        "title": _marked(shown.title, evidence, "title", 600),
        "summary": _marked(shown.summary, evidence, "summary", TEXT_LIMIT),
        "content": _marked(shown.content, evidence, "content", TEXT_LIMIT),
        "revision": versions.index(shown),
        "revisions": [
            {
                "revision": i,
                "received": v.received,
                "title": v.title,
                "current": i == len(versions) - 1,
                "shown": v is shown,
            }
            for i, v in enumerate(versions)
        ],
        "sightings": [
            {**s, "link": safe_link(s.get("url")), "seen": _time(s.get("seen"))}
            for s in (row or {}).get("sightings", ())
        ],
        "story": story,
    }


def alert_view(log: EventLog, alert_id: str, ruleset: Any = None) -> dict[str, Any] | None:
    """Everything the alert page shows, None when there is no such alert."""
    listing = AlertTimeline.get(log, alert_id)
    if listing is None:
        return None
    alert = raised_event(log, listing["position"])
    if alert is None:  # pragma: no cover: the timeline names only stored alerts
        return None
    single = len(alert.item_ids) == 1
    items = []
    for item in alert.item_ids[:MAX_ITEMS]:
        view = item_view(
            log,
            item,
            evidence=alert.evidence if single else (),
            at_position=listing["position"],
        )
        items.append(view or {"item_id": item, "missing": True})
    correlation = None
    if alert.annotations.get("contributing"):
        explained = explain_correlation(log, alert, ruleset)
        correlation = {
            "condition": explained.condition(),
            "contributors": [
                {
                    "alert_id": c.alert_id,
                    "rule_id": c.rule_id,
                    "event_time": c.event_time,
                    "raised": c.raised,
                    "items": [
                        {
                            "item_id": i.item_id,
                            "source": i.source or i.feed_id,
                            "link": safe_link(i.url),
                            "title": _marked(i.title, c.evidence, "title", 300),
                        }
                        for i in c.items
                    ],
                }
                for c in explained.contributors
            ],
        }
    silence_id = Silences.muting(log, alert_id)
    places = [e.split(":", 1)[1] for e in alert.entities if e.startswith("place:")]
    return {
        "alert": alert,
        "listing": listing,
        "items": items,
        "places": places,
        "actors": [e.split(":", 1)[1] for e in alert.entities if e.startswith("actor:")],
        "review": AlertReview.of_alert(log, alert_id),
        "silence": Silences.get(log, silence_id) if silence_id else None,
        "silence_id": silence_id,
        "correlation": correlation,
        "search_terms": _search_terms(alert.evidence),
        "silence_match": "\n".join([f"rule={alert.rule_id}"] + [f"place={p}" for p in places[:1]]),
    }


def _search_terms(evidence: Iterable[Evidence]) -> str:
    """A search query for "what else do we have on this?": the evidence, each as a phrase."""
    terms: list[str] = []
    for e in evidence:
        text = " ".join(e.text.replace('"', " ").split())
        if text and text not in terms:
            terms.append(text)
    return " OR ".join(f'"{t}"' for t in terms[:6])


def _day(value: str) -> date:
    when = parse_time(value)
    assert when is not None
    return when.astimezone(UTC).date()


def charts(log: EventLog, now: datetime, days: int = CHART_DAYS) -> dict[str, Any]:
    """Alerts per day per rule and per place over the last `days` days (at most `CHART_CAP`
    alerts read), as two SVG charts sharing the same days."""
    last = now.astimezone(UTC).date()
    first = last - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    per_rule: dict[str, Counter[date]] = defaultdict(Counter)
    per_place: dict[str, Counter[date]] = defaultdict(Counter)
    listings = AlertTimeline.latest(log, limit=CHART_CAP, since=since)
    for listing in listings:
        day = _day(listing["event_time"])
        per_rule[listing["rule_id"]][day] += 1
        for entity in listing["entities"]:
            if entity.startswith("place:"):
                per_place[entity.split(":", 1)[1]][day] += 1
    return {
        "first": first,
        "last": last,
        "counted": len(listings),
        "capped": len(listings) >= CHART_CAP,
        "rules": Markup(daily_chart(per_rule, css_class="rules", first=first, last=last)),
        "places": Markup(daily_chart(per_place, css_class="places", first=first, last=last)),
        "per_rule": per_rule,
    }


def rules_view(log: EventLog, ruleset: Any, now: datetime) -> dict[str, Any]:
    """Every rule that fired or is loaded: its alerts, levels, last hit, suppressed repeats,
    review counts and precision, and its hits over the last `CHART_DAYS` days as a chart."""
    hits = {h["rule_id"]: h for h in RuleHits.all(log)}
    reviews = AlertReview.rules(log)
    loaded = {}
    if ruleset is not None:
        for rule in (*ruleset.rules, *getattr(ruleset, "correlations", ())):
            loaded[rule.id] = rule
    rows = []
    for rule_id in sorted(set(hits) | set(loaded) | set(reviews)):
        counts = reviews.get(rule_id) or AlertReview.of_rule(log, rule_id)
        hit = hits.get(rule_id) or {}
        rule = loaded.get(rule_id)
        rows.append(
            {
                "rule_id": rule_id,
                "title": getattr(rule, "title", "") or "",
                "level": getattr(rule, "level", None),
                "loaded": rule is not None,
                "alerts": hit.get("alerts", 0),
                "suppressed": hit.get("suppressed", 0),
                "last": _time(hit.get("last")),
                "review": counts,
                "precision": precision(counts),
            }
        )
    rows.sort(key=lambda r: (-r["alerts"], r["rule_id"]))
    return {"rows": rows, "charts": charts(log, now)}

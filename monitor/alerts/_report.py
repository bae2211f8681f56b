"""A self-contained HTML report of the alerts in a log: timelines per rule and per place as
inline SVG (`daily_chart`, the console's charts too), the top places and actors, and the
latest alerts with their evidence highlighted.

No JavaScript, no CDN, no external file: the page opens anywhere, offline, and can be mailed.
`collect_report` streams the log once for alerts (counts per rule/place per day, the latest N
alerts in a heap) and once more only until it has found the items of those latest alerts, so
memory stays bounded by the number of rules, places and days, not by the log.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from html import escape

import attrs

from ..events import (
    AlertRaised,
    AlertSuppressed,
    Evidence,
    ItemReceived,
    RepeatsFolded,
    format_time,
)
from ..log import EventLog
from ._charts import CHART_CSS, daily_chart
from ._safe_output import REPORT_CSP, safe_link

__all__ = ["ReportData", "collect_report", "highlight", "render_html"]

_LEVEL_COLOURS = {
    "critical": "#8b0000",
    "high": "#c0392b",
    "medium": "#d68910",
    "low": "#2874a6",
    "informational": "#7f8c8d",
}


@attrs.define
class ReportData:
    """Everything the page shows, already counted."""

    generated_at: datetime
    source: str = ""
    alerts: int = 0
    suppressed: int = 0
    per_rule: dict[str, Counter[date]] = attrs.field(factory=lambda: defaultdict(Counter))
    per_place: dict[str, Counter[date]] = attrs.field(factory=lambda: defaultdict(Counter))
    entities: Counter[str] = attrs.field(factory=Counter)
    levels: Counter[str] = attrs.field(factory=Counter)
    latest: list[AlertRaised] = attrs.field(factory=list)
    folded: Counter[str] = attrs.field(factory=Counter)
    items: dict[str, ItemReceived] = attrs.field(factory=dict)


def collect_report(
    log: EventLog,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    latest: int = 25,
) -> ReportData:
    """Count the log's alerts with event time in [since, until] and keep the `latest` ones."""
    data = ReportData(generated_at=now, source=getattr(log, "url", ""))
    heap: list[tuple[datetime, int, AlertRaised]] = []
    counted: dict[str, int] = {}  # alert id -> highest folded item position counted
    for record, evt in log.iter_events(types=("AlertRaised", "AlertSuppressed", "RepeatsFolded")):
        if isinstance(evt, RepeatsFolded):
            if (since is not None and evt.last_time < since) or (
                until is not None and evt.first_time > until
            ):
                continue
            new = evt.count_new(counted)
            data.suppressed += new
            data.folded[evt.folded_into] += new
            continue
        when = evt.event_time  # type: ignore[attr-defined]
        if (since is not None and when < since) or (until is not None and when > until):
            continue
        if isinstance(evt, AlertSuppressed):
            if evt.folded_into:  # empty: a `generate: false` match, not a repeat
                data.suppressed += 1
                data.folded[evt.folded_into] += 1
            continue
        assert isinstance(evt, AlertRaised)
        data.alerts += 1
        day = when.astimezone(UTC).date()
        data.per_rule[evt.rule_id][day] += 1
        data.levels[evt.level] += 1
        for entity in evt.entities:
            data.entities[entity] += 1
        for place in {e for e in evt.entities if e.startswith("place:")}:
            data.per_place[place][day] += 1
        entry = (when, record.position, evt)
        if len(heap) < latest:
            heapq.heappush(heap, entry)
        elif entry[:2] > heap[0][:2]:
            heapq.heapreplace(heap, entry)
    data.latest = [e[2] for e in sorted(heap, key=lambda e: e[:2], reverse=True)]
    wanted = {f"item:{i}" for a in data.latest for i in a.item_ids}
    if wanted:
        for record in log.read(types=("ItemReceived",)):
            if record.dedupe_key in wanted:
                item = record.event()
                assert isinstance(item, ItemReceived)
                data.items[item.item_id] = item
                wanted.discard(record.dedupe_key)
                if not wanted:
                    break
    return data


def highlight(text: str, spans: Iterable[tuple[int, int]], limit: int = 600) -> str:
    """HTML-escape `text` (cut at `limit` characters) with the character spans in <mark>."""
    cut = text[:limit]
    out: list[str] = []
    pos = 0
    for start, end in sorted(set(spans)):
        start, end = max(start, pos), min(end, len(cut))
        if start >= end:
            continue
        out.append(escape(cut[pos:start]))
        out.append(f"<mark>{escape(cut[start:end])}</mark>")
        pos = end
    out.append(escape(cut[pos:]))
    if len(text) > limit:
        out.append("…")
    return "".join(out)


def _top_list(entities: Counter[str], kind: str, limit: int = 15) -> str:
    rows = [(e, n) for e, n in entities.most_common() if e.startswith(kind + ":")][:limit]
    if not rows:
        return "<p class='empty'>None.</p>"
    top = rows[0][1]
    items = "".join(
        f"<tr><td>{escape(e.split(':', 1)[1])}</td><td class='num'>{n}</td>"
        f"<td><span class='meter' style='width:{120 * n / top:.0f}px'></span></td></tr>"
        for e, n in rows
    )
    return f"<table class='top'>{items}</table>"


def _spans(evidence: Sequence[Evidence], field: str) -> list[tuple[int, int]]:
    return [(e.start, e.end) for e in evidence if e.field in (field, "text")]


def _alert_card(alert: AlertRaised, data: ReportData) -> str:
    colour = _LEVEL_COLOURS.get(alert.level, "#555")
    group = f" · {escape(alert.group_key)}" if alert.group_key else ""
    folded = data.folded.get(alert.alert_id, 0)
    repeats = f" · {folded} repeat(s) folded in" if folded else ""
    window = ""
    if alert.window_start and alert.window_end:
        window = f" · window {format_time(alert.window_start)} – {format_time(alert.window_end)}"
    parts = [
        f"<article class='alert'><header><span class='level' style='background:{colour}'>"
        f"{escape(alert.level)}</span> <strong>{escape(alert.title)}</strong></header>"
        f"<p class='meta'>{escape(format_time(alert.event_time))} · "
        f"<code>{escape(alert.rule_id)}</code>{group}{repeats}{window}</p>"
    ]
    summary = alert.annotations.get("summary")
    if summary:
        parts.append(f"<p class='summary'>{escape(summary)}</p>")
    single = len(alert.item_ids) == 1
    for item_id in alert.item_ids[:5]:
        item = data.items.get(item_id)
        if item is None:
            parts.append(f"<p class='item missing'>item {escape(item_id)} not found</p>")
            continue
        ev = alert.evidence if single else ()
        link = safe_link(item.url)
        title = highlight(item.title, _spans(ev, "title"), 300)
        head = (
            f"<a href='{escape(link)}' rel='noopener noreferrer nofollow'>{title}</a>"
            if link
            else title
        )
        parts.append(
            f"<div class='item'><p class='title'>{head} <span class='src'>"
            f"{escape(item.source or item.feed_id)}</span></p>"
        )
        if item.summary:
            parts.append(f"<p>{highlight(item.summary, _spans(ev, 'summary'))}</p>")
        parts.append("</div>")
    if alert.evidence:
        terms = ", ".join(
            f"<mark>{escape(e.text)}</mark> <small>({escape(e.field)})</small>"
            for e in alert.evidence[:12]
        )
        parts.append(f"<p class='evidence'>Evidence: {terms}</p>")
    parts.append("</article>")
    return "".join(parts)


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:980px;
color:#1b1b1b;padding:0 1em}h1{margin-bottom:.1em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.sub{color:#666;margin-top:0}.stats span{display:inline-block;margin-right:1.5em}
.cols{display:flex;flex-wrap:wrap;gap:0 3em}
table.top td{padding:1px 8px 1px 0}.num{text-align:right}.meter{display:inline-block;height:9px;
background:#7fb3d5}.alert{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:.8em 0}
.level{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px;text-transform:uppercase}
.meta{color:#555;font-size:13px;margin:.3em 0}mark{background:#ffe27a;padding:0 1px}
.item{border-left:3px solid #eee;padding-left:.7em}.src{color:#888;font-size:12px}
.evidence{font-size:13px}.empty{color:#888}
"""


def render_html(data: ReportData, *, title: str = "news-monitor alert report") -> str:
    """Render `data` as one self-contained HTML page (inline CSS and SVG, no scripts).

    Only http(s) item links become `href`s, and the page carries a Content-Security-Policy
    that forbids scripts, external loads and forms."""
    levels = ", ".join(f"{escape(k)} {n}" for k, n in sorted(data.levels.items()))
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p class='sub'>Generated {escape(format_time(data.generated_at))}"
        f" from {escape(data.source)}</p>",
        f"<p class='stats'><span><strong>{data.alerts}</strong> alerts</span>"
        f"<span><strong>{data.suppressed}</strong> throttled repeats</span>"
        f"<span><strong>{len(data.per_rule)}</strong> rules fired</span>"
        f"<span>{levels}</span></p>",
        "<h2>Alerts per rule, by day</h2>",
        daily_chart(data.per_rule, css_class="rules"),
        "<h2>Alerts per place, by day</h2>",
        daily_chart(data.per_place, css_class="places"),
        "<div class='cols'><section><h2>Top places</h2>",
        _top_list(data.entities, "place"),
        "</section><section><h2>Top actors</h2>",
        _top_list(data.entities, "actor"),
        "</section></div>",
        f"<h2>Latest alerts ({len(data.latest)})</h2>",
    ]
    body += [_alert_card(a, data) for a in data.latest] or ["<p class='empty'>No alerts.</p>"]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{REPORT_CSP}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_CSS}{CHART_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )

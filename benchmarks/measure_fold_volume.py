"""Run: .venv/bin/python benchmarks/measure_fold_volume.py

Alert records per stored item with every repeat stored (fold_after=None, as before) and with
folding (the default), on a day of wire copy: 40 stories all about al-Tanf, each run by 25 outlets
over 5 hours, beside 1,000 unrelated items; the default pack's al-tanf-attack-like rule."""

import random
from datetime import UTC, datetime, timedelta

from monitor.alerting import AlertEvaluator
from monitor.events import ItemReceived, item_id
from monitor.log import MemoryLog
from monitor.rules import load_rules

rng = random.Random(1)
T0 = datetime(2026, 5, 1, tzinfo=UTC)
items = []
for s in range(40):
    place = "al-Tanf"
    start = T0 + timedelta(hours=s * 0.6)
    for o in range(25):
        t = start + timedelta(minutes=12 * o)
        feed = f"outlet-{o}"
        items.append(
            ItemReceived(
                item_id=item_id(feed, guid=f"s{s}-{o}"),
                feed_id=feed,
                guid=f"s{s}-{o}",
                received=t,
                published=t,
                source=feed,
                title=f"Drone attack on base near {place}, story {s}",
                summary=f"A drone struck a military base near {place} on day {s}; "
                "the garrison reported no casualties.",
            )
        )
for n in range(1000):
    t = T0 + timedelta(minutes=rng.randrange(24 * 60))
    items.append(
        ItemReceived(
            item_id=item_id("misc", guid=f"m{n}"),
            feed_id="misc",
            guid=f"m{n}",
            received=t,
            published=t,
            title=f"Market prices {n}",
            summary="Bread and fuel prices rose in the capital.",
        )
    )
items.sort(key=lambda i: i.published)
rules = load_rules("default")
for label, fold, page in (
    ("every repeat stored (before)", None, 10),
    ("folded, pages of 10", 3, 10),
    ("folded, pages of 500", 3, 500),
):
    log = MemoryLog()
    log.append_events(items)
    AlertEvaluator(log, rules, clock=lambda: T0, fold_after=fold, page_size=page).run()
    counts = {}
    for r in log.read(0):
        counts[r.type] = counts.get(r.type, 0) + 1
    alert_records = sum(
        counts.get(k, 0) for k in ("AlertRaised", "AlertSuppressed", "RepeatsFolded")
    )
    kinds = ", ".join(
        f"{k} {counts.get(k, 0)}" for k in ("AlertRaised", "AlertSuppressed", "RepeatsFolded")
    )
    print(
        f"{label}: {len(items)} items, {kinds}; alert records per item "
        f"{alert_records / len(items):.3f}; all records per item "
        f"{sum(counts.values()) / len(items):.3f}"
    )

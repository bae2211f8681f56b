"""Fixtures for the story tests: one wire story, its reprints, and look-alike other stories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.events import ItemReceived, item_id

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)

WIRE_TITLE = "Convoy of fuel trucks crosses into Deir ez-Zor after week-long closure"
WIRE_PARAGRAPHS = [
    "A convoy of about forty fuel trucks crossed into Deir ez-Zor province on Sunday morning, "
    "ending a week-long closure of the desert road that had left bakeries and water pumps "
    "in the eastern city without diesel, two local officials said.",
    "The trucks, escorted by pickup trucks carrying armed guards, entered through the "
    "al-Shola checkpoint shortly after dawn and were expected to reach the city centre by "
    "the afternoon, according to a municipal employee who asked not to be named.",
    "Residents had queued for hours outside the few stations still selling fuel, and prices "
    "on the black market tripled during the closure, traders in the main market said.",
    "The road was shut after an attack on a checkpoint near the village of al-Kabar killed "
    "three guards last Sunday. No group has claimed responsibility for the attack.",
    "Officials said a second convoy carrying flour and medical supplies was due to leave "
    "Homs on Tuesday if the road remained open.",
]


def wire_text() -> str:
    """The wire story's body."""
    return "\n\n".join(WIRE_PARAGRAPHS)


def item(
    n: int,
    *,
    title: str,
    content: str,
    outlet: str,
    hours: float = 0.0,
    feed: str | None = None,
) -> ItemReceived:
    """Item `n` from `outlet`, published `hours` after T0 (received a minute later)."""
    feed = feed or f"{outlet}-feed"
    published = T0 + timedelta(hours=hours)
    return ItemReceived(
        item_id=item_id(feed, guid=f"{outlet}-{n}"),
        feed_id=feed,
        guid=f"{outlet}-{n}",
        received=published + timedelta(minutes=1),
        published=published,
        title=title,
        content=content,
        source=outlet,
    )


def wire_and_reprints(hours: float = 0.0, base: int = 0) -> list[ItemReceived]:
    """The wire item and five lightly edited reprints by five other outlets (guids numbered
    from `base` + 1)."""
    body = WIRE_PARAGRAPHS
    items = [
        item(base + 1, title=WIRE_TITLE, content=wire_text(), outlet="wire", hours=hours),
        # headline words reordered
        item(
            base + 2,
            title="After week-long closure, fuel truck convoy crosses into Deir ez-Zor",
            content=wire_text(),
            outlet="eastern-courier",
            hours=hours + 0.5,
        ),
        # byline and dateline added
        item(
            base + 3,
            title=WIRE_TITLE,
            content="By Staff Reporter\n\nDEIR EZ-ZOR (Levant Daily) - " + wire_text(),
            outlet="levant-daily",
            hours=hours + 1,
        ),
        # last paragraph trimmed
        item(
            base + 4,
            title="Fuel convoy crosses into Deir ez-Zor after closure",
            content="\n\n".join(body[:-1]),
            outlet="gulf-times",
            hours=hours + 2,
        ),
        # byline, trimmed, and an editor's line at the end
        item(
            base + 5,
            title="Deir ez-Zor: convoy of fuel trucks crosses after week-long closure",
            content="By Amira Haddad\n\n"
            + "\n\n".join(body[:-1])
            + "\n\nAdditional reporting by our correspondent in Homs.",
            outlet="syria-monitor",
            hours=hours + 5,
        ),
        # a light copy edit: some words changed
        item(
            base + 6,
            title=WIRE_TITLE,
            content=wire_text()
            .replace("about forty", "around 40")
            .replace("two local officials said", "local officials told reporters"),
            outlet="region-news",
            hours=hours + 9,
        ),
    ]
    return items


#: Other stories about the same place on the same day: each must start its own story.
SAME_PLACE_OTHER_EVENTS = [
    (
        "Shelling hits market in Deir ez-Zor, killing four",
        "Artillery shells struck a crowded vegetable market in Deir ez-Zor on Sunday "
        "afternoon, killing four people and wounding at least a dozen, a hospital doctor said. "
        "Witnesses said the shells came from positions across the Euphrates river. Ambulances "
        "took the wounded to the national hospital, which appealed for blood donations.",
    ),
    (
        "Deir ez-Zor council announces new water rationing schedule",
        "The city council in Deir ez-Zor announced on Sunday that neighbourhoods on the east "
        "bank will receive piped water on alternate days from next week, blaming damage to "
        "the main pumping station. The council said engineers were waiting for spare parts "
        "from Damascus and urged residents to store water.",
    ),
    (
        "Protesters in Deir ez-Zor demand release of detained teachers",
        "Several hundred people gathered outside the governor's office in Deir ez-Zor on "
        "Sunday to demand the release of six teachers detained last month. Protesters carried "
        "photographs of the teachers and chanted slogans before security forces dispersed the "
        "crowd without violence, according to an activist who attended.",
    ),
    (
        "Fuel prices in Deir ez-Zor fall as traders expect supplies",
        "Black market fuel prices in Deir ez-Zor fell on Sunday as traders said they expected "
        "new supplies to arrive within days. A litre of diesel sold for half the price of last "
        "week in the main market, although queues remained outside official stations, "
        "according to residents interviewed by telephone.",
    ),
]


def other_events(hours: float = 3.0, base: int = 100) -> list[ItemReceived]:
    """The same-place, same-day other stories, one per outlet."""
    return [
        item(base + n, title=title, content=body, outlet=f"outlet-{n}", hours=hours + n)
        for n, (title, body) in enumerate(SAME_PLACE_OTHER_EVENTS)
    ]

"""Charts an analyst can read: alerts per day for several series (rules, places) as one SVG.

Shared by the static report (`render_html`) and the console (``monitor serve``), so both draw
the same picture. Server-side SVG, no script: it renders offline, in a mail client and under
a Content-Security-Policy that forbids scripts.

What makes it readable, and why it is drawn by hand rather than with a plotting library (none
of them renders small, dependency-free, CSP-safe SVG with text that stays text):

* every row shares ONE vertical scale, so two bars of the same height mean the same number of
  alerts whatever the row (scaling each row to its own maximum made one alert look as big as
  forty);
* a y axis per row says what the scale is (0 and the shared maximum), an x axis at the bottom
  carries dated ticks (day and month; the note above the rows gives the years), and light grid
  lines run through every row at those dates;
* the SVG has a viewBox and no fixed size: it fills its container from a phone to a wall
  screen (the page caps its width with CSS), with labels above the bars so a narrow screen
  keeps the whole width for them;
* every number and name is escaped, and each bar has a ``<title>`` with its exact count.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from datetime import date, timedelta
from html import escape

__all__ = ["CHART_CSS", "MAX_BARS", "MAX_ROWS", "daily_chart"]

#: At most this many bars per row: longer periods are grouped into buckets of several days.
MAX_BARS = 120
#: At most this many rows; the rest are summed into one "other" row.
MAX_ROWS = 12

# The drawing's own units (the viewBox); the page scales them to the width it has.
_WIDTH = 520
_LEFT = 34  # room for the y axis labels
_RIGHT = 44  # room for each row's total
_ROW = 52  # one row: its label line, then the bars
_LABEL = 16  # the label line's height
_BAR_AREA = 30  # the tallest bar
_AXIS = 34  # the x axis and its dates
_HEAD = 36  # two lines above the rows: the period, and the scale

#: The style the charts need (the report inlines it; the console serves it in its CSS file).
CHART_CSS = """
svg.chart{display:block;width:100%;height:auto;max-width:760px;margin:.4em 0 1em}
svg.chart text{font:12px system-ui,sans-serif;fill:#333}
svg.chart .label{font-size:14px;font-weight:600}
svg.chart .count{font-size:13px;fill:#555}
svg.chart .axis{stroke:#888;stroke-width:1}
svg.chart .grid{stroke:#e3e3e3;stroke-width:1}
svg.chart .bar{fill:#2e6da4}
svg.chart.places .bar{fill:#b9770e}
svg.chart .note{font-size:12px;fill:#666}
@media (max-width:600px){svg.chart text{font-size:16px}svg.chart .label{font-size:17px}
svg.chart .count{font-size:16px}svg.chart .note{font-size:15px}}
"""


def _buckets(first: date, last: date) -> tuple[int, int]:
    """Days per bar and number of bars covering `first`..`last` (inclusive)."""
    span = (last - first).days + 1
    size = max(1, math.ceil(span / MAX_BARS))
    return size, math.ceil(span / size)


def _nice_max(value: int) -> int:
    """The axis maximum: `value` rounded up to 1, 2 or 5 times a power of ten (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** int(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover: the loop always returns


def _tick_days(bars: int, count: int = 6) -> list[int]:
    """Bar indexes to label on the x axis: about `count`, evenly spread, the first and the
    last included, never two closer than 0.6 of the spacing (their labels would overlap)."""
    if bars <= 1:
        return [0]
    step = max(1, math.ceil((bars - 1) / (count - 1)))
    ticks = list(range(0, bars, step))
    if bars - 1 - ticks[-1] >= 0.6 * step:
        ticks.append(bars - 1)
    elif len(ticks) > 1:
        ticks[-1] = bars - 1
    return ticks


def _date_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def _rows(series: Mapping[str, Mapping[date, int]]) -> list[tuple[str, Mapping[date, int]]]:
    """The series by total (largest first, then name), the tail summed into one row."""
    ordered = sorted(series.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    if len(ordered) <= MAX_ROWS:
        return ordered
    head, tail = ordered[: MAX_ROWS - 1], ordered[MAX_ROWS - 1 :]
    other: Counter[date] = Counter()
    for _, counts in tail:
        other.update(counts)
    return [*head, (f"{len(tail)} others", other)]


def daily_chart(
    series: Mapping[str, Mapping[date, int]],
    *,
    css_class: str = "",
    first: date | None = None,
    last: date | None = None,
    what: str = "alerts",
    empty: str = "No alerts in this period.",
) -> str:
    """One SVG: a row of bars per series (``{name: {day: count}}``), on a shared time axis
    from `first` to `last` (default: the days present) and a shared count scale.

    Returns a ``<p class='empty'>`` with `empty` when there is nothing to draw. `css_class`
    is added to the SVG's classes (``rules``, ``places``) for its colour; `what` names the
    counted thing in the tooltips and the scale note.
    """
    days = [d for counts in series.values() for d, n in counts.items() if n]
    if not days:
        return f"<p class='empty'>{escape(empty)}</p>"
    first = min(days) if first is None else min(first, min(days))
    last = max(days) if last is None else max(last, max(days))
    size, bars = _buckets(first, last)
    rows = _rows(series)
    bucketed: list[tuple[str, Counter[int], int]] = []
    for name, counts in rows:
        buckets: Counter[int] = Counter()
        for day, n in counts.items():
            if n and first <= day <= last:
                buckets[(day - first).days // size] += n
        bucketed.append((name, buckets, sum(buckets.values())))
    top = _nice_max(max(max(b.values(), default=0) for _, b, _ in bucketed))
    plot_w = _WIDTH - _LEFT - _RIGHT
    bar_w = plot_w / bars
    height = _HEAD + _ROW * len(bucketed) + _AXIS
    per = "day" if size == 1 else f"{size} days"
    label = escape(f"{what.capitalize()} per {per}, {first.isoformat()} to {last.isoformat()}")
    out = [
        f'<svg class="chart {escape(css_class)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="{label}">'
        f"<title>{label}</title>",
        f'<text class="note" x="{_LEFT}" y="13">{escape(_date_label(first))} {first.year} – '
        f"{escape(_date_label(last))} {last.year}</text>"
        f'<text class="note" x="{_LEFT}" y="28">One scale for every row: a full bar is {top} '
        f"{escape(what)} per {per}</text>",
    ]
    ticks = _tick_days(bars)
    plot_bottom = _HEAD + _ROW * len(bucketed)
    for index in ticks:  # grid lines through every row at the labelled dates
        x = _LEFT + (index + 0.5) * bar_w
        out.append(
            f'<line class="grid" x1="{x:.1f}" y1="{_HEAD}" x2="{x:.1f}" y2="{plot_bottom}"/>'
        )
    for row, (name, buckets, total) in enumerate(bucketed):
        y0 = _HEAD + row * _ROW
        base = y0 + _LABEL + _BAR_AREA + 2
        out.append(
            f'<text class="label" x="{_LEFT}" y="{y0 + _LABEL - 3}"><tspan>'
            f"{escape(name[:60])}</tspan></text>"
            f'<text class="count" x="{_WIDTH - 4}" y="{base}" text-anchor="end">{total}</text>'
            f'<line class="axis" x1="{_LEFT}" y1="{base}" x2="{_LEFT + plot_w}" y2="{base}"/>'
            f'<line class="axis" x1="{_LEFT}" y1="{base - _BAR_AREA}" x2="{_LEFT}" y2="{base}"/>'
            f'<text class="scale" x="{_LEFT - 4}" y="{base - _BAR_AREA + 9}" '
            f'text-anchor="end">{top}</text>'
            f'<text class="scale" x="{_LEFT - 4}" y="{base}" text-anchor="end">0</text>'
        )
        for index, n in sorted(buckets.items()):
            h = max(1.5, _BAR_AREA * n / top)
            x = _LEFT + index * bar_w
            start = first + timedelta(days=index * size)
            when = (
                start.isoformat()
                if size == 1
                else f"{start.isoformat()} to {(start + timedelta(days=size - 1)).isoformat()}"
            )
            out.append(
                f'<rect class="bar" x="{x + 0.5:.1f}" y="{base - h:.1f}" '
                f'width="{max(1.0, bar_w - 1):.1f}" height="{h:.1f}">'
                f"<title>{escape(name)}: {n} {escape(what)}, {when}</title></rect>"
            )
    axis_y = plot_bottom + 4
    out.append(
        f'<line class="axis" x1="{_LEFT}" y1="{axis_y}" x2="{_LEFT + plot_w}" y2="{axis_y}"/>'
    )
    for k, index in enumerate(ticks):
        x = _LEFT + (index + 0.5) * bar_w
        day = first + timedelta(days=index * size)
        anchor = (
            "start" if k == 0 and len(ticks) > 1 else "end" if k == len(ticks) - 1 else "middle"
        )
        if len(ticks) == 1:
            anchor = "middle"
        out.append(
            f'<line class="axis" x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}"/>'
            f'<text class="tick" x="{x:.1f}" y="{axis_y + 17}" text-anchor="{anchor}">'
            f"{escape(_date_label(day))}</text>"
        )
    out.append("</svg>")
    return "".join(out)

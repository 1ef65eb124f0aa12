"""Server-rendered SVG bar charts of the statistics: no JavaScript, readable by screen readers.

Pure functions of their input, like ``agencies.charts``: each bar has a <title>
(tooltip, read aloud) and the chart a title and a description. Colours come
from the page's stylesheet (classes only: no inline style under the CSP).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from agencies.charts import _fmt, _label, axis_top
from core.money import ZERO, money_str

WIDTH = 560
ROW_H = 26
LEFT = 150  # room for the group labels
RIGHT = 76  # room for the value at the end of each bar
TOP = 34
BOTTOM = 30
MAX_BARS = 20


def bar_chart_svg(
    bars: Sequence[tuple[str, Decimal, int]], *, title: str, chart_id: str = "chart"
) -> str:
    """A horizontal bar chart of (label, amount, forms), the first MAX_BARS in the given order."""
    shown = list(bars[:MAX_BARS])
    hidden = len(bars) - len(shown)
    top, step = axis_top(max((amount for _, amount, _ in shown), default=ZERO))
    plot_w = WIDTH - LEFT - RIGHT
    height = TOP + BOTTOM + ROW_H * max(len(shown), 1)
    total = sum((amount for _, amount, _ in bars), ZERO)
    summary = f"{len(bars)} groups, RMB {money_str(total)} in all."
    if shown:
        first = max(shown, key=lambda bar: bar[1])
        summary += f" Largest: {first[0]}, RMB {money_str(first[1])} ({first[2]} forms)."
    if hidden:
        summary += f" {hidden} smaller groups are not drawn."

    def x_of(value: Decimal) -> float:
        return LEFT + float(value / top) * plot_w

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart hbar" role="img"'
        f' viewBox="0 0 {WIDTH} {height}" width="100%"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>',
        f'<text class="head" x="{LEFT}" y="20">{escape(title)} (RMB)</text>',
        '<g class="x-axis" aria-hidden="true">',
    ]
    base = TOP + ROW_H * max(len(shown), 1)
    value = ZERO
    while value <= top:
        x = x_of(value)
        out.append(
            f'<line class="grid" x1="{_fmt(x)}" x2="{_fmt(x)}" y1="{TOP}" y2="{base}"/>'
            f'<text class="tick" x="{_fmt(x)}" y="{base + 16}" text-anchor="middle">'
            f"{_label(value)}</text>"
        )
        value += step
    out.append("</g>")
    out.append('<g class="bars">')
    if not shown:
        out.append(
            f'<text class="empty" x="{LEFT + 8}" y="{TOP + 17}">No forms in this period.</text>'
        )
    for index, (label, amount, forms) in enumerate(shown):
        y = TOP + index * ROW_H
        width = max(x_of(max(amount, ZERO)) - LEFT, 0.0)
        tip = f"{label}: RMB {money_str(amount)}, {forms} forms"
        out.append(
            f'<text class="label" x="{LEFT - 8}" y="{_fmt(y + 17)}" text-anchor="end">'
            f"{escape(label[:22])}</text>"
            f'<rect class="bar" data-key="{escape(label)}" data-amount="{money_str(amount)}"'
            f' x="{LEFT}" y="{_fmt(y + 4)}" width="{_fmt(width)}" height="{ROW_H - 8}">'
            f"<title>{escape(tip)}</title></rect>"
            f'<text class="value" x="{_fmt(LEFT + width + 6)}" y="{_fmt(y + 17)}">'
            f"{money_str(amount)}</text>"
        )
    out.append("</g></svg>")
    return "".join(out)

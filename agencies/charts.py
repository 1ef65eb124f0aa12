"""Server-rendered SVG chart of daily refund totals: no JavaScript, readable by screen readers.

A pure function of its input, so the settlement page, a printed report and the
tests all get the same picture. Each bar carries a <title> (hover tooltip, read
aloud) and the whole chart a title and a description summarizing the month.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from html import escape

from core.money import ZERO, money_str

WIDTH = 760
HEIGHT = 300
LEFT = 72  # room for the amount labels of the y axis
RIGHT = 16
TOP = 40  # room for the title
BOTTOM = 44  # room for the day labels and the axis caption
BAR_GAP = 0.25  # share of a day's slot left empty between bars


@dataclass(frozen=True)
class Tick:
    """One y-axis gridline: its value and its height in the plot."""

    value: Decimal
    y: float


def nice_step(maximum: Decimal, target_ticks: int = 5) -> Decimal:
    """A 1, 2 or 5 x 10^k step giving about ``target_ticks`` gridlines up to ``maximum``."""
    if maximum <= 0:
        return Decimal(1)
    raw = maximum / target_ticks
    exponent = raw.adjusted()
    base = Decimal(10) ** exponent
    for factor in (1, 2, 5, 10):
        step = base * factor
        if step >= raw:
            return step
    return base * 10  # pragma: no cover - the loop always returns


def axis_top(maximum: Decimal) -> tuple[Decimal, Decimal]:
    """The axis maximum (a whole number of steps at or above ``maximum``) and the step."""
    step = nice_step(maximum)
    if maximum <= 0:
        return step * 5, step
    steps = (maximum / step).to_integral_value(rounding=ROUND_CEILING)
    return step * steps, step


def _label(value: Decimal) -> str:
    """Axis labels: grouped thousands, no decimals unless the step needs them."""
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():,f}"


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def daily_totals_svg(
    days: Iterable[tuple[date, Decimal, int]],
    *,
    month: date,
    title: str = "Daily net refunds paid",
) -> str:
    """An SVG bar chart of net refunds per day of ``month`` (its year and month are used).

    ``days`` holds (day, net total, refund count); days outside the month are
    ignored and missing days are drawn as empty slots.
    """
    year, mon = month.year, month.month
    last_day = calendar.monthrange(year, mon)[1]
    totals: dict[int, tuple[Decimal, int]] = {}
    for day, net, count in days:
        if not count and not net:
            continue  # an empty day of a full-month series: no bar, not a day with refunds
        if day.year == year and day.month == mon:
            old_net, old_count = totals.get(day.day, (ZERO, 0))
            totals[day.day] = (old_net + net, old_count + count)

    month_net = sum((net for net, _ in totals.values()), ZERO)
    month_count = sum(count for _, count in totals.values())
    busiest = max(totals.items(), key=lambda item: (item[1][0], -item[0]), default=None)
    top, step = axis_top(max((net for net, _ in totals.values()), default=ZERO))

    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / last_day
    bar_w = slot * (1 - BAR_GAP)

    def y_of(value: Decimal) -> float:
        return TOP + plot_h - float(value / top) * plot_h

    month_label = f"{year}-{mon:02d}"
    summary = (
        f"{month_label}: {month_count} refunds, RMB {money_str(month_net)} net paid"
        f" over {len(totals)} days."
    )
    if busiest is not None:
        summary += (
            f" Highest day: {year}-{mon:02d}-{busiest[0]:02d},"
            f" RMB {money_str(busiest[1][0])} ({busiest[1][1]} refunds)."
        )
    else:
        summary += " No refunds this month."

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" width="100%"'
        f' aria-labelledby="chart-title chart-desc" data-month="{month_label}">',
        f'<title id="chart-title">{escape(title)} · {month_label}</title>',
        f'<desc id="chart-desc">{escape(summary)}</desc>',
        f'<text class="head" x="{LEFT}" y="22">{escape(title)} (RMB) · {month_label}</text>',
    ]

    # Gridlines and amount labels.
    out.append('<g class="y-axis" aria-hidden="true">')
    value = ZERO
    while value <= top:
        y = y_of(value)
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_fmt(y)}" y2="{_fmt(y)}"/>'
        )
        out.append(
            f'<text class="tick" x="{LEFT - 8}" y="{_fmt(y + 4)}" text-anchor="end">'
            f"{_label(value)}</text>"
        )
        value += step
    out.append("</g>")

    # One bar per day with a refund; its <title> is the tooltip and the spoken label.
    out.append('<g class="bars">')
    for day_no in range(1, last_day + 1):
        if day_no not in totals:
            continue
        net, count = totals[day_no]
        x = LEFT + (day_no - 1) * slot + (slot - bar_w) / 2
        y = y_of(max(net, ZERO))
        h = TOP + plot_h - y
        label = f"{year}-{mon:02d}-{day_no:02d}: RMB {money_str(net)}, {count} refunds"
        out.append(
            f'<rect class="bar" data-day="{day_no}" data-net="{money_str(net)}"'
            f' data-count="{count}" x="{_fmt(x)}" y="{_fmt(y)}"'
            f' width="{_fmt(bar_w)}" height="{_fmt(h)}"><title>{escape(label)}</title></rect>'
        )
    out.append("</g>")

    # Day labels: the 1st, every 5th and the last day keep the axis uncluttered.
    out.append('<g class="x-axis" aria-hidden="true">')
    base_y = TOP + plot_h
    out.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base_y}" y2="{base_y}"/>')
    for day_no in _day_labels(last_day):
        x = LEFT + (day_no - 0.5) * slot
        out.append(
            f'<text class="day" x="{_fmt(x)}" y="{base_y + 16}" text-anchor="middle">'
            f"{day_no}</text>"
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"Day of {calendar.month_name[mon]} {year}</text>"
    )
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def _day_labels(last_day: int) -> Sequence[int]:
    days = [1, *range(5, last_day + 1, 5)]
    if last_day - days[-1] >= 2:
        days.append(last_day)
    return days

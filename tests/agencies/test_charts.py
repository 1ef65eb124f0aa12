"""The settlement chart: a pure SVG function, checked by parsing its output."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from xml.etree import ElementTree as ET

from agencies.charts import axis_top, daily_totals_svg, nice_step

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output


def text(root: ET.Element, path: str) -> str:
    found = root.find(path, NS)
    assert found is not None, path
    return found.text or ""


def texts(root: ET.Element, css_class: str) -> list[str]:
    return [t.text or "" for t in root.findall(f".//svg:text[@class='{css_class}']", NS)]


def bars(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//svg:rect[@class='bar']", NS)


def height(bar: ET.Element) -> float:
    return float(bar.get("height", "nan"))


def test_one_bar_per_day_with_refunds_and_tooltips():
    root = parse(
        daily_totals_svg(
            [
                (date(2026, 3, 2), Decimal("324.00"), 1),
                (date(2026, 3, 2), Decimal("18.00"), 1),  # same day again: summed
                (date(2026, 3, 17), Decimal("1250.50"), 3),
                (date(2026, 4, 1), Decimal("999.00"), 1),  # other month: ignored
                (date(2026, 3, 9), Decimal("0.00"), 0),  # an empty day of a full series
            ],
            month=date(2026, 3, 1),
        )
    )
    found = bars(root)
    assert [b.get("data-day") for b in found] == ["2", "17"]
    assert [b.get("data-net") for b in found] == ["342.00", "1250.50"]
    assert text(found[0], "svg:title") == "2026-03-02: RMB 342.00, 2 refunds"
    # The taller bar is the bigger day.
    assert height(found[1]) > height(found[0])


def test_accessible_title_and_summary():
    root = parse(
        daily_totals_svg(
            [(date(2026, 3, 17), Decimal("1250.50"), 3), (date(2026, 3, 2), Decimal("18"), 1)],
            month=date(2026, 3, 9),
            title="Net <refunds>",
        )
    )
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chart-title chart-desc"
    assert text(root, "svg:title") == "Net <refunds> · 2026-03"  # escaped, parsed back
    desc = text(root, "svg:desc")
    assert "4 refunds, RMB 1268.50 net paid over 2 days" in desc
    assert "Highest day: 2026-03-17, RMB 1250.50 (3 refunds)" in desc


def test_axis_max_label_rounds_up_to_a_nice_step():
    root = parse(
        daily_totals_svg([(date(2026, 2, 10), Decimal("1250.50"), 3)], month=date(2026, 2, 1))
    )
    assert texts(root, "tick") == ["0", "500", "1,000", "1,500"]
    assert texts(root, "day") == ["1", "5", "10", "15", "20", "25", "28"]  # Feb 2026: 28 days


def test_bar_heights_scale_to_the_axis():
    root = parse(
        daily_totals_svg(
            [(date(2026, 1, 1), Decimal("1500"), 1), (date(2026, 1, 31), Decimal("750"), 1)],
            month=date(2026, 1, 1),
        )
    )
    full, half = (height(b) for b in bars(root))
    assert abs(full - 2 * half) < 0.2
    assert texts(root, "day")[-1] == "30"  # 31 sits too close to 30 to label


def test_empty_month_draws_axes_and_says_so():
    root = parse(daily_totals_svg([], month=date(2026, 6, 1)))
    assert bars(root) == []
    assert "No refunds this month." in text(root, "svg:desc")
    assert len(texts(root, "tick")) == 6


def test_nice_steps():
    assert nice_step(Decimal("1250.50")) == Decimal("500")
    assert nice_step(Decimal("90")) == Decimal("20")
    assert nice_step(Decimal("0.3")) == Decimal("0.1")
    assert axis_top(Decimal("20000")) == (Decimal("20000"), Decimal("5000"))

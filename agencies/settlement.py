"""Monthly settlement of an agency with the tax authority: sums, daily series, CSV and XLSX.

A refund counts in the month it was paid (Asia/Shanghai). Sums are of the
gross refundable VAT, the agency fee and the net refund paid, by payout
method, store, port and traveler nationality, with a daily series for the chart.
"""

from __future__ import annotations

import calendar
import io
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from openpyxl import Workbook
from openpyxl.styles import Font

from agencies.models import PayoutMethod, Refund, RefundStatus
from core.exports import SafeCsvWriter, neutralize_workbook
from core.models import Agency
from core.money import ZERO, money_str

MONEY_FORMAT = "#,##0.00"
COLUMNS = ("count", "goods_total", "refundable_vat", "fee", "net_refund")


@dataclass(frozen=True)
class SettlementRow:
    """Count and sums of one group (a payout method, store, port, nationality or day)."""

    key: str
    label: str
    count: int
    goods_total: Decimal
    refundable_vat: Decimal
    fee: Decimal
    net_refund: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "count": self.count,
            "goods_total": money_str(self.goods_total),
            "refundable_vat": money_str(self.refundable_vat),
            "fee": money_str(self.fee),
            "net_refund": money_str(self.net_refund),
        }


@dataclass(frozen=True)
class Settlement:
    """One agency's month: totals, breakdowns, the daily series and the refunds themselves."""

    agency: Agency
    year: int
    month: int
    total: SettlementRow
    by_method: list[SettlementRow]
    by_store: list[SettlementRow]
    by_port: list[SettlementRow]
    by_nationality: list[SettlementRow]
    daily: list[SettlementRow]
    refunds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def period(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def count(self) -> int:
        return self.total.count

    def breakdowns(self) -> dict[str, list[SettlementRow]]:
        return {
            "payout_method": self.by_method,
            "store": self.by_store,
            "port": self.by_port,
            "nationality": self.by_nationality,
        }

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of GET /api/v1/settlements/{YYYY-MM}/."""
        return {
            "agency": self.agency.code,
            "month": self.period,
            "count": self.total.count,
            "totals": self.total.as_dict(),
            **{
                f"by_{name}": [r.as_dict() for r in rows]
                for name, rows in self.breakdowns().items()
            },
            "daily": [r.as_dict() for r in self.daily],
        }


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """[start, end) of a calendar month in business time (Asia/Shanghai)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    first = date(year, month, 1)
    following = first + timedelta(days=calendar.monthrange(year, month)[1])
    return datetime.combine(first, time.min, tz), datetime.combine(following, time.min, tz)


def parse_period(text: str) -> tuple[int, int] | None:
    """'2026-11' -> (2026, 11); None when it is not a month."""
    parts = text.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
        return None
    year, month = int(parts[0]), int(parts[1])
    # The platform's first policy is of 2015; past 2100 a month is a typo (and 9999-12
    # would overflow the month's end).
    if not 1 <= month <= 12 or not 2015 <= year <= 2100:
        return None
    return year, month


def previous_month(day: date) -> tuple[int, int]:
    """The month before the one ``day`` is in."""
    last = day.replace(day=1) - timedelta(days=1)
    return last.year, last.month


def _paid_in_month(agency_id: int, year: int, month: int) -> QuerySet[Refund]:
    start, end = month_bounds(year, month)
    return Refund.objects.filter(
        agency_id=agency_id, status=RefundStatus.PAID, paid_at__gte=start, paid_at__lt=end
    )


_SUMS = {
    "n": Count("id"),
    "goods": Sum("verified_total"),
    "refundable": Sum("refundable_vat"),
    "fees": Sum("fee"),
    "net": Sum("net_refund"),
}


def _row(key: str, label: str, values: dict[str, Any]) -> SettlementRow:
    return SettlementRow(
        key=key,
        label=label,
        count=values.get("n") or 0,
        goods_total=values.get("goods") or ZERO,
        refundable_vat=values.get("refundable") or ZERO,
        fee=values.get("fees") or ZERO,
        net_refund=values.get("net") or ZERO,
    )


def _grouped(
    refunds: QuerySet[Refund], key_field: str, label_field: str | None = None
) -> list[SettlementRow]:
    fields = [key_field] + ([label_field] if label_field else [])
    rows = refunds.values(*fields).annotate(**_SUMS).order_by(key_field)
    return [
        _row(str(r[key_field] or ""), str(r[label_field] if label_field else r[key_field] or ""), r)
        for r in rows
    ]


def settlement_for(*, agency: Agency, year: int, month: int) -> Settlement:
    """The month's settlement of an agency: a fixed number of aggregate queries."""
    refunds = _paid_in_month(agency.pk, year, month)
    total = _row("total", "Total", refunds.aggregate(**_SUMS))
    labels = dict(PayoutMethod.choices)
    by_method = [
        SettlementRow(**{**r.__dict__, "label": str(labels.get(r.key, r.key))})
        for r in _grouped(refunds, "payout_method")
    ]
    tz = ZoneInfo(settings.TIME_ZONE)
    per_day: dict[date, dict[str, Any]] = {
        r["day"]: dict(r)
        for r in refunds.annotate(day=TruncDate("paid_at", tzinfo=tz))
        .values("day")
        .annotate(**_SUMS)
        .order_by("day")
    }
    days = calendar.monthrange(year, month)[1]
    daily = []
    for offset in range(days):
        day = date(year, month, 1) + timedelta(days=offset)
        daily.append(_row(day.isoformat(), day.isoformat(), per_day.get(day, {})))
    detail = [
        {
            "refund": r.pk,
            "form": r.form.number,
            "paid_at": r.paid_at.astimezone(tz).isoformat() if r.paid_at else "",
            "store": r.form.store.code,
            "port": r.port.code if r.port else "",
            "nationality": r.form.nationality,
            "payout_method": r.payout_method,
            "payout_account": r.payout_account_masked,
            "goods_total": r.verified_total,
            "refundable_vat": r.refundable_vat,
            "fee": r.fee,
            "net_refund": r.net_refund,
        }
        for r in refunds.select_related("form", "form__store", "port").order_by("paid_at", "pk")
    ]
    return Settlement(
        agency=agency,
        year=year,
        month=month,
        total=total,
        by_method=by_method,
        by_store=_grouped(refunds, "form__store__code", "form__store__name"),
        by_port=_grouped(refunds, "port__code", "port__name"),
        by_nationality=_grouped(refunds, "form__nationality"),
        daily=daily,
        refunds=detail,
    )


# --- Exports --------------------------------------------------------------------

# One column per field: a refund row fills the refund columns, summary rows leave them empty.
REFUND_COLUMNS = ["paid_at", "store", "port", "nationality", "payout_method", "payout_account"]
CSV_HEADER = ["section", "key", "label", *COLUMNS, *REFUND_COLUMNS]
NO_REFUND = [""] * len(REFUND_COLUMNS)


def _csv_values(row: SettlementRow) -> list[str]:
    return [
        str(row.count),
        money_str(row.goods_total),
        money_str(row.refundable_vat),
        money_str(row.fee),
        money_str(row.net_refund),
    ]


def settlement_csv(settlement: Settlement) -> bytes:
    """One flat UTF-8 CSV (with BOM, so Excel reads Chinese): totals, breakdowns, days, refunds."""
    out = io.StringIO()
    writer = SafeCsvWriter(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    blank = [""] * len(COLUMNS)
    writer.writerow(["agency", settlement.agency.code, settlement.agency.name, *blank, *NO_REFUND])
    writer.writerow(["month", settlement.period, "", *blank, *NO_REFUND])
    writer.writerow(["total", "total", "Total", *_csv_values(settlement.total), *NO_REFUND])
    for section, rows in settlement.breakdowns().items():
        for row in rows:
            writer.writerow([section, row.key, row.label, *_csv_values(row), *NO_REFUND])
    for row in settlement.daily:
        writer.writerow(["day", row.key, row.label, *_csv_values(row), *NO_REFUND])
    for item in settlement.refunds:
        writer.writerow(
            [
                "refund",
                item["form"],
                "",
                "1",
                money_str(item["goods_total"]),
                money_str(item["refundable_vat"]),
                money_str(item["fee"]),
                money_str(item["net_refund"]),
                *(str(item[name]) for name in REFUND_COLUMNS),
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _sheet_rows(sheet: Any, title: str, rows: list[SettlementRow], key_label: str) -> None:
    sheet.title = title
    sheet.append(
        [key_label, "Label", "Count", "Goods total", "Refundable VAT", "Fee", "Net refund"]
    )
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(
            [
                row.key,
                row.label,
                row.count,
                row.goods_total,
                row.refundable_vat,
                row.fee,
                row.net_refund,
            ]
        )
    for column in "DEFG":
        for cell in sheet[column][1:]:
            cell.number_format = MONEY_FORMAT
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 36
    for column in "CDEFG":
        sheet.column_dimensions[column].width = 16


def settlement_xlsx(settlement: Settlement) -> bytes:
    """A workbook: Summary, one sheet per breakdown, Daily, Refunds (money as numbers)."""
    book = Workbook()
    summary = book.active
    summary.title = "Summary"
    summary.append(["Agency", settlement.agency.code, settlement.agency.name])
    summary.append(["Month", settlement.period])
    summary.append([])
    summary.append(["", "Count", "Goods total", "Refundable VAT", "Fee", "Net refund"])
    for cell in summary[4]:
        cell.font = Font(bold=True)
    t = settlement.total
    summary.append(["Total", t.count, t.goods_total, t.refundable_vat, t.fee, t.net_refund])
    for column in "CDEF":
        summary[f"{column}5"].number_format = MONEY_FORMAT
    summary.column_dimensions["A"].width = 14
    summary.column_dimensions["C"].width = 36
    titles = {
        "payout_method": "By payout method",
        "store": "By store",
        "port": "By port",
        "nationality": "By nationality",
    }
    for name, rows in settlement.breakdowns().items():
        _sheet_rows(book.create_sheet(), titles[name], rows, name.replace("_", " ").title())
    _sheet_rows(book.create_sheet(), "Daily", settlement.daily, "Day")
    detail = book.create_sheet("Refunds")
    header = [
        "Form",
        "Paid at",
        "Store",
        "Port",
        "Nationality",
        "Payout method",
        "Account",
        "Goods total",
        "Refundable VAT",
        "Fee",
        "Net refund",
    ]
    detail.append(header)
    for cell in detail[1]:
        cell.font = Font(bold=True)
    for item in settlement.refunds:
        detail.append(
            [
                item["form"],
                item["paid_at"],
                item["store"],
                item["port"],
                item["nationality"],
                item["payout_method"],
                item["payout_account"],
                item["goods_total"],
                item["refundable_vat"],
                item["fee"],
                item["net_refund"],
            ]
        )
    for column in "HIJK":
        for cell in detail[column][1:]:
            cell.number_format = MONEY_FORMAT
    detail.column_dimensions["A"].width = 20
    detail.column_dimensions["B"].width = 28
    neutralize_workbook(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def settlement_filename(settlement: Settlement, extension: str) -> str:
    """settlement-DEMO-AGENCY-2026-11.csv"""
    return f"settlement-{settlement.agency.code}-{settlement.period}.{extension}"


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def settlement_write_files(
    *, agency: Agency, year: int, month: int, directory: Path | None = None
) -> list[Path]:
    """Write the month's CSV and XLSX under VAR_DIR/settlements/<agency>/ (replaced if present)."""
    settlement = settlement_for(agency=agency, year=year, month=month)
    folder = (directory or Path(settings.VAR_DIR) / "settlements") / agency.code
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for extension, data in (
        ("csv", settlement_csv(settlement)),
        ("xlsx", settlement_xlsx(settlement)),
    ):
        path = folder / settlement_filename(settlement, extension)
        _write_atomically(path, data)
        paths.append(path)
    return paths

"""National figures for the tax authority, computed by SQL aggregates (SPEC §4).

What counts: every refund form **not voided** whose purchase date (the date of
its invoices, which picks the policy) falls in the period, with its amounts **as
issued**: sales are the VAT-inclusive goods total on the form, refundable VAT,
fee and net refund the form's own figures (FAQ Q36). Forms later verified,
partially verified, rejected or refunded keep counting with those figures, so a
month's numbers do not move as travelers leave; what customs verified and what
agencies paid are in the agencies' settlements. Voided forms (goods returned)
never count.

Groupings: nationality (of the form), store (code), port (where customs
verified or rejected the form; ``null`` until then), month (of the purchase
date) and goods category. A form whose lines fall in several categories counts
once in each of them, with its lines' amounts: refundable VAT and fee are
apportioned per line (line total x refund rate, x fee rate) and rounded half-up
once per row, so category rows can differ by a few cents from the form totals.
``totals`` always count each form and each traveler once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, QuerySet, Sum
from django.db.models.functions import TruncMonth

from core.money import ZERO, money_str, quantize_money
from stores.models import FormStatus, GoodsCategory, RefundForm, RefundFormLine

GROUPINGS = ("nationality", "port", "store", "category", "month")
PRODUCT = DecimalField(max_digits=24, decimal_places=6)


@dataclass(frozen=True)
class StatRow:
    """One group's figures (``key`` None: forms not yet at a port)."""

    key: str | None
    forms: int
    travelers: int
    sales: Decimal
    refundable_vat: Decimal
    fee: Decimal
    net_refund: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "forms": self.forms,
            "travelers": self.travelers,
            "sales": money_str(self.sales),
            "refundable_vat": money_str(self.refundable_vat),
            "fee": money_str(self.fee),
            "net_refund": money_str(self.net_refund),
        }


@dataclass(frozen=True)
class Statistics:
    """The figures of a period grouped one way, with the totals."""

    start: date
    end: date
    by: str
    rows: list[StatRow]
    totals: StatRow

    def as_dict(self) -> dict[str, Any]:
        totals = self.totals.as_dict()
        del totals["key"]
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "by": self.by,
            "rows": [row.as_dict() for row in self.rows],
            "totals": totals,
        }


def counted_forms(*, start: date, end: date) -> QuerySet[RefundForm]:
    """The forms the statistics count: not voided, purchase date in [start, end]."""
    return (
        RefundForm.objects.filter(purchase_date__gte=start, purchase_date__lte=end)
        .exclude(status=FormStatus.VOIDED)
        .order_by()
    )


def _money(value: Decimal | None) -> Decimal:
    return quantize_money(value) if value is not None else ZERO


def _row(key: str | None, values: dict[str, Any]) -> StatRow:
    refundable = _money(values["refundable_vat"])
    fee = _money(values["fee"])
    net = values.get("net_refund")
    return StatRow(
        key=key,
        forms=values["forms"] or 0,
        travelers=values["travelers"] or 0,
        sales=_money(values["sales"]),
        refundable_vat=refundable,
        fee=fee,
        net_refund=_money(net) if "net_refund" in values else refundable - fee,
    )


FORM_FIGURES: dict[str, Any] = {
    "forms": Count("id"),
    "travelers": Count("traveler_id", distinct=True),
    "sales": Sum("total"),
    "refundable_vat": Sum("refundable_vat"),
    "fee": Sum("fee"),
    "net_refund": Sum("net_refund"),
}

KEYS: dict[str, Any] = {
    "nationality": F("nationality"),
    "store": F("store__code"),
    "port": F("verification__port__code"),
    "month": TruncMonth("purchase_date"),
}


def _key_text(by: str, value: Any) -> str | None:
    if value is None:
        return None
    if by == "month":
        return f"{value:%Y-%m}"
    return str(value)


def statistics_for(*, start: date, end: date, by: str) -> Statistics:
    """The period's figures grouped by ``by`` (one of GROUPINGS): two aggregate queries."""
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}")
    forms = counted_forms(start=start, end=end)
    rows: list[StatRow]
    grouped: Any
    if by == "category":
        # A join on the form (not "form IN (subquery)"): one pass over lines and forms.
        grouped = (
            RefundFormLine.objects.filter(
                form__purchase_date__gte=start, form__purchase_date__lte=end
            )
            .exclude(form__status=FormStatus.VOIDED)
            .order_by()
            .values("category")
            .annotate(
                forms=Count("form_id", distinct=True),
                travelers=Count("form__traveler_id", distinct=True),
                sales=Sum("total"),
                refundable_vat=Sum(F("total") * F("refund_rate"), output_field=PRODUCT),
                fee=Sum(F("total") * F("form__fee_rate"), output_field=PRODUCT),
            )
        )
        order = {code: index for index, code in enumerate(GoodsCategory.values)}
        rows = sorted(
            (_row(values["category"], dict(values)) for values in grouped),
            key=lambda row: order.get(row.key or "", len(order)),
        )
    else:
        grouped = (
            forms.annotate(group_key=KEYS[by])
            .values("group_key")
            .annotate(**FORM_FIGURES)
            .order_by("group_key")
        )
        rows = [_row(_key_text(by, values["group_key"]), dict(values)) for values in grouped]
        if by != "month":
            # Largest first reads best in a table and a bar chart; months stay in order.
            rows.sort(key=lambda row: (-row.sales, row.key or "~"))
    totals = _row(None, forms.aggregate(**FORM_FIGURES))
    return Statistics(start=start, end=end, by=by, rows=rows, totals=totals)


CSV_HEADER = ["key", "forms", "travelers", "sales", "refundable_vat", "fee", "net_refund"]


def _cells(row: StatRow, key: str) -> list[Any]:
    return [
        key,
        row.forms,
        row.travelers,
        row.sales,
        row.refundable_vat,
        row.fee,
        row.net_refund,
    ]


def statistics_table(stats: Statistics) -> list[list[Any]]:
    """The rows then a totals line, as exported."""
    lines = [_cells(row, row.key if row.key is not None else "(none)") for row in stats.rows]
    lines.append(_cells(stats.totals, "TOTAL"))
    return lines


def statistics_filename(stats: Statistics, extension: str) -> str:
    return f"statistics-{stats.by}-{stats.start.isoformat()}-{stats.end.isoformat()}.{extension}"

"""Goods categories on invoice lines (POST /api/v1/invoices/), carried to the form lines."""

from __future__ import annotations

from stores.models import RefundFormLine, VatInvoiceLine
from tests.authority.helpers import goods, issue, traveler
from tests.stores.helpers import assert_error


def test_lines_take_a_category_default_other_and_forms_carry_it(demo, api):
    form = issue(
        api(demo.clerk),
        traveler("Marie Dupont", "18AB12345", "FR"),
        goods("Scarf", "1", "300.00", "0.13", "clothing"),
        goods("Mug", "1", "100.00", "0.13", None),
    )
    assert [x["category"] for x in form["lines"]] == ["clothing", "other"]
    assert list(VatInvoiceLine.objects.order_by("position").values_list("category", flat=True)) == [
        "clothing",
        "other",
    ]
    assert list(RefundFormLine.objects.order_by("position").values_list("category", flat=True)) == [
        "clothing",
        "other",
    ]


def test_an_unknown_category_is_400_and_issues_nothing(demo, api):
    reply = api(demo.clerk).post(
        "/api/v1/invoices/",
        {"buyer_name": "X", "lines": [goods("Sword", "1", "300.00", "0.13", "weapons")]},
        format="json",
    )
    body = assert_error(reply, 400, "invalid")
    assert "category" in body["extra"]["fields"]["lines"]["0"]
    assert not VatInvoiceLine.objects.exists()

"""Amounts that are not whole yuan pay like any other (SQLite compares in floating point)."""

from decimal import Decimal

import pytest

from agencies.models import Refund
from tests.agencies.conftest import DOCUMENT, verify
from tests.factories import line, make_form

URL = "/api/v1/refunds/"


@pytest.mark.parametrize(
    ("unit_price", "quantity", "presented", "expected"),
    [
        # RMB 1,234.50 at 13%: 135.80 - 24.69 = 111.11
        ("1234.50", "1", None, ("135.80", "24.69", "111.11")),
        # partial: 1 of 3 presented at 149.27 -> 16.42 - 2.99 = 13.43
        ("149.27", "3", Decimal("1"), ("16.42", "2.99", "13.43")),
    ],
)
def test_refund_with_odd_cents_is_paid(demo, api, unit_price, quantity, presented, expected):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price=unit_price, quantity=quantity))
    quantities = {form.lines.get().pk: presented} if presented is not None else None
    verify(form, demo, quantities=quantities)

    reply = api(demo.agent).post(
        URL,
        {
            "form": form.number,
            "qr": form.qr_payload,
            "document_number": DOCUMENT,
            "payout_method": "cash",
        },
        format="json",
    )

    assert reply.status_code == 201, reply.json()
    body = reply.json()
    assert (body["refundable_vat"], body["fee"], body["net_refund"]) == expected
    assert body["status"] == "awaiting_handover"
    handover = api(demo.agent).post(f"/api/v1/refunds/{body['id']}/handover/")
    assert handover.status_code == 200, handover.json()
    assert (handover.json()["status"], handover.json()["handed_over_by"]) == ("paid", "agent")
    assert Refund.objects.get(form=form).status == "paid"


def test_form_detail_shows_the_refund_on_verified_goods(demo, api):
    # given RMB 3,600 at 13% of which customs saw 2 of 3 items (2,400.00)
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="1200.00", quantity="3"))
    verify(form, demo, quantities={form.lines.get().pk: Decimal("2")})
    api(demo.agent).post(
        URL,
        {
            "form": form.number,
            "qr": form.qr_payload,
            "document_number": DOCUMENT,
            "payout_method": "alipay",
            "payout_account": "traveler@example.com",
        },
        format="json",
    )
    # when the clerk reads the form
    detail = api(demo.clerk).get(f"/api/v1/forms/{form.number}/").json()
    # then the issue estimate stays, and the refund shows what was paid: 264.00 - 48.00
    assert detail["net_refund"] == "324.00"
    assert detail["status"] == "refunded"
    refund = detail["refund"]
    assert (refund["verified_total"], refund["refundable_vat"], refund["fee"]) == (
        "2400.00",
        "264.00",
        "48.00",
    )
    assert refund["net_refund"] == "216.00" and refund["status"] == "paid"


def test_cash_cap_is_the_one_of_the_invoice_date_policy(demo, api, settings):
    # given an invoice of 2025-04-20 (policy of 2019: cash cap RMB 10,000), refunded today
    # (policy of 2025-04-27: cap 20,000) with a net refund of 10,800.00
    from datetime import date

    from tests.factories import traveler

    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="120000.00"),
        issued_on=date(2025, 4, 20),
        who=traveler(last_entry_date=date(2025, 4, 10)),
    )
    form.refresh_from_db()
    assert form.net_refund == Decimal("10800.00")
    # customs verified it on departure (the D and E checks are not what this test is about)
    from agencies.models import Refund as RefundModel

    verify(form, demo)

    check = api(demo.agent).post(
        "/api/v1/refunds/check/",
        {"form": form.number, "qr": form.qr_payload, "document_number": DOCUMENT},
        format="json",
    )
    assert check.status_code == 200, check.json()
    cash = next(o for o in check.json()["payout_options"] if o["method"] == "cash")
    assert cash["allowed"] is False
    assert "10000" in cash["reason"].replace(",", "")
    assert not RefundModel.objects.exists()

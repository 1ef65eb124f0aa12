"""Rates in API replies and error extras: short decimal strings ("0.13", "0.02"), one helper."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from agencies.models import Refund
from core.money import rate_pct, rate_str
from core.rules import InvoiceFacts, LineFacts, Policy, TravelerFacts, form_violations
from stores.models import RefundForm
from tests.agencies.conftest import DOCUMENT, GOOD_CARD, verify
from tests.factories import line, make_form, make_invoice, traveler
from tests.stores.helpers import FORMS, assert_error, form_body

REFUNDS = "/api/v1/refunds/"
LONG_FORM = ("0.1100", "0.0200", "0.0600", "0.1300", "0.0800", "0.0900")


@pytest.mark.parametrize(
    ("rate", "text", "pct"),
    [
        ("0.1300", "0.13", "13%"),
        ("0.1100", "0.11", "11%"),
        ("0.0200", "0.02", "2%"),
        ("0.0800", "0.08", "8%"),
        ("0.0600", "0.06", "6%"),
        ("0.1", "0.10", "10%"),
        ("0", "0.00", "0%"),
        ("0.0000", "0.00", "0%"),
        ("0.0125", "0.0125", "1.25%"),
    ],
)
def test_rate_str_and_rate_pct(rate, text, pct):
    assert rate_str(Decimal(rate)) == text
    assert rate_pct(Decimal(rate)) == pct


def _no_long_rates(data: Any) -> None:
    """No value anywhere in the reply is a four-decimal rate string."""
    if isinstance(data, dict):
        for value in data.values():
            _no_long_rates(value)
    elif isinstance(data, list):
        for value in data:
            _no_long_rates(value)
    else:
        assert data not in LONG_FORM, data


@pytest.fixture
def verified_two_rates(demo: Any) -> RefundForm:
    """A form with 13% and 9% goods (refunded at 11% and 8%), verified at PVG."""
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="1000.00"),
        line(item="茶叶 Tea", unit_price="500.00", vat_rate="0.09"),
        who=traveler(),
    )
    return verify(form, demo)


def _groups(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(g["vat_rate"], g["refund_rate"]) for g in data["groups"]]


def test_refund_replies_write_short_rates(demo, api, verified_two_rates):
    form = verified_two_rates
    client = api(demo.agent)
    body = {
        "form": form.number,
        "qr": form.qr_payload,
        "document_number": DOCUMENT,
        "payout_method": "bank_card",
        "payout_account": GOOD_CARD,
    }
    check_body = {k: body[k] for k in ("form", "qr", "document_number")}
    check = client.post(f"{REFUNDS}check/", check_body, format="json")
    assert check.status_code == 200, check.json()
    assert check.json()["fee_rate"] == "0.02"
    _no_long_rates(check.json())

    paid = client.post(REFUNDS, body, format="json")
    assert paid.status_code == 201, paid.json()
    data = paid.json()
    assert data["fee_rate"] == "0.02"
    assert _groups(data) == [("0.13", "0.11"), ("0.09", "0.08")]
    _no_long_rates(data)

    detail = client.get(f"{REFUNDS}{data['id']}/").json()
    assert detail["fee_rate"] == "0.02"
    assert _groups(detail) == [("0.13", "0.11"), ("0.09", "0.08")]
    listed = client.get(REFUNDS).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["fee_rate"] for r in rows] == ["0.02"]
    _no_long_rates(listed)


def test_groups_stored_in_the_long_form_are_rendered_short(demo, api, verified_two_rates):
    form = verified_two_rates
    client = api(demo.agent)
    body = {
        "form": form.number,
        "qr": form.qr_payload,
        "document_number": DOCUMENT,
        "payout_method": "cash",
    }
    refund_id = client.post(REFUNDS, body, format="json").json()["id"]
    refund = Refund.objects.get(pk=refund_id)
    refund.groups = [
        {
            **g,
            "vat_rate": f"{Decimal(g['vat_rate']):.4f}",
            "refund_rate": f"{Decimal(g['refund_rate']):.4f}",
        }
        for g in refund.groups
    ]
    Refund.objects.filter(pk=refund_id).update(groups=refund.groups)
    assert Refund.objects.get(pk=refund_id).groups[0]["refund_rate"] == "0.1100"
    detail = client.get(f"{REFUNDS}{refund_id}/").json()
    assert _groups(detail) == [("0.13", "0.11"), ("0.09", "0.08")]


def test_customs_form_reply_writes_short_vat_rates(demo, api):
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="1000.00"),
        line(item="茶叶 Tea", unit_price="500.00", vat_rate="0.09"),
        who=traveler(),
    )
    reply = api(demo.officer).get(f"/api/v1/customs/forms/{form.qr_payload}/")
    assert reply.status_code == 200, reply.json()
    assert [x["vat_rate"] for x in reply.json()["lines"]] == ["0.13", "0.09"]
    _no_long_rates(reply.json())


def test_form_replies_write_short_rates(demo, api):
    invoice = make_invoice(
        demo.store_sh,
        demo.clerk,
        line(unit_price="1000.00"),
        line(item="茶叶 Tea", unit_price="500.00", vat_rate="0.09"),
    )
    issued = api(demo.clerk).post(FORMS, form_body([invoice.number]), format="json")
    assert issued.status_code == 201, issued.json()
    assert [(x["vat_rate"], x["refund_rate"]) for x in issued.json()["lines"]] == [
        ("0.13", "0.11"),
        ("0.09", "0.08"),
    ]
    detail = api(demo.clerk).get(f"{FORMS}{issued.json()['number']}/").json()
    assert detail["fee_rate"] == "0.02"
    _no_long_rates(detail)


def test_goods_not_eligible_names_the_rate_short_and_as_a_percentage(demo, api):
    invoice = make_invoice(
        demo.store_sh,
        demo.clerk,
        line(unit_price="500.00"),
        line(item="Service", unit_price="100.00", vat_rate="0.06"),
    )
    response = api(demo.clerk).post(FORMS, form_body([invoice.number]), format="json")
    data = assert_error(response, 422, "goods_not_eligible")
    assert data["extra"]["vat_rate"] == "0.06"
    assert data["message"] == (
        f"Goods at VAT rate 6% have no refund rate (invoice {invoice.number})."
    )
    assert "0.0600" not in str(data)


def test_form_violations_formats_the_rate_of_a_long_decimal():
    # the database hands rates back with four decimals; the rules engine must not echo that
    policy = Policy(
        effective_from=date(2025, 4, 27),
        minimum_amount=Decimal("200.00"),
        cash_cap=Decimal("20000.00"),
        refund_rates={Decimal("0.13"): Decimal("0.11")},
    )
    invoice = InvoiceFacts(
        number="1" * 20,
        issued_on=date(2026, 1, 5),
        store_id=1,
        lines=(LineFacts(vat_rate=Decimal("0.0600"), total=Decimal("1000.00"), item="Svc"),),
    )
    facts = TravelerFacts(
        document_type="passport", nationality="FR", last_entry_date=date(2026, 1, 1)
    )
    [violation] = form_violations(traveler=facts, invoices=[invoice], policy=policy)
    assert violation.code == "goods_not_eligible"
    assert violation.extra["vat_rate"] == "0.06"
    assert violation.message == f"Goods at VAT rate 6% have no refund rate (invoice {'1' * 20})."

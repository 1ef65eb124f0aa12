"""Every 422 code of POST /api/v1/forms/ end to end, the same-day minimum, policy history."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.factories import line, make_form, make_invoice
from tests.stores.helpers import (
    FORMS,
    assert_error,
    days_ago,
    form_body,
    snapshot,
    traveler_body,
)

pytestmark = pytest.mark.django_db


def post_form(api: Any, user: Any, numbers: list[str], **overrides: Any) -> Any:
    return api(user).post(FORMS, form_body(numbers, **overrides), format="json")


def refused(api: Any, user: Any, numbers: list[str], code: str, **overrides: Any) -> dict:
    """Post a form that a rule refuses: 422 with ``code``, and nothing written."""
    before = snapshot()
    data = assert_error(post_form(api, user, numbers, **overrides), 422, code)
    assert snapshot() == before
    return data


def test_below_minimum(demo, api):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="199.99"))
    data = refused(api, demo.clerk, [invoice.number], "below_minimum")
    assert data["extra"]["day_total"] == "199.99"
    assert data["extra"]["minimum"] == "200.00"


def test_exactly_the_minimum_is_allowed(demo, api):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="200.00"))
    assert post_form(api, demo.clerk, [invoice.number]).status_code == 201


def test_stay_over_183_days(demo, api):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    entered = traveler_body(last_entry_date=days_ago(184).isoformat())
    data = refused(api, demo.clerk, [invoice.number], "stay_over_183_days", traveler=entered)
    assert data["extra"]["days"] == 184


def test_stay_of_exactly_183_days_is_allowed(demo, api):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    entered = traveler_body(last_entry_date=days_ago(183).isoformat())
    assert post_form(api, demo.clerk, [invoice.number], traveler=entered).status_code == 201


def test_invoice_before_entry(demo, api):
    invoice = make_invoice(
        demo.store_sh, demo.clerk, line(unit_price="500.00"), issued_on=days_ago(5)
    )
    entered = traveler_body(last_entry_date=days_ago(2).isoformat())
    data = refused(api, demo.clerk, [invoice.number], "invoice_before_entry", traveler=entered)
    assert data["extra"]["invoice"] == invoice.number


def test_invoice_not_found(demo, api):
    data = refused(api, demo.clerk, ["26319999999999999999"], "invoice_not_found")
    assert data["extra"]["invoices"] == ["26319999999999999999"]


def test_another_stores_invoice_is_not_found(demo, api):
    beijing = make_invoice(demo.store_bj, demo.clerk2, line(unit_price="500.00"))
    refused(api, demo.clerk, [beijing.number], "invoice_not_found")


def test_invoice_already_used(demo, api):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    used = form.invoices.get()
    data = refused(api, demo.clerk, [used.number], "invoice_already_used")
    assert data["extra"]["invoice"] == used.number


@pytest.mark.parametrize(
    ("document_type", "nationality"),
    [
        ("passport", "CN"),  # mainland residents are not eligible
        ("hk_macao_permit", "FR"),  # permits only for HK / Macao residents
        ("taiwan_permit", "HK"),
    ],
)
def test_traveler_not_eligible(demo, api, document_type, nationality):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    person = traveler_body(document_type=document_type, nationality=nationality)
    refused(api, demo.clerk, [invoice.number], "traveler_not_eligible", traveler=person)


@pytest.mark.parametrize(
    ("document_type", "nationality"),
    [("hk_macao_permit", "HK"), ("hk_macao_permit", "MO"), ("taiwan_permit", "TW")],
)
def test_permit_holders_are_eligible(demo, api, document_type, nationality):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    person = traveler_body(
        document_type=document_type, nationality=nationality, document_number="H12345678"
    )
    assert post_form(api, demo.clerk, [invoice.number], traveler=person).status_code == 201


@pytest.mark.parametrize("vat_rate", ["0", "0.06", "0.03"])
def test_goods_not_eligible(demo, api, vat_rate):
    # exempt (0%) goods or a VAT rate with no refund rate, next to eligible goods
    invoice = make_invoice(
        demo.store_sh,
        demo.clerk,
        line(unit_price="500.00"),
        line(item="Service", unit_price="100.00", vat_rate=vat_rate),
    )
    data = refused(api, demo.clerk, [invoice.number], "goods_not_eligible")
    assert data["extra"]["item"] == "Service"


def test_invoices_of_two_days_cannot_share_a_form(demo, api):
    today = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    yesterday = make_invoice(
        demo.store_sh, demo.clerk, line(unit_price="500.00"), issued_on=days_ago(1)
    )
    refused(api, demo.clerk, [today.number, yesterday.number], "invoices_not_same_store_day")


def test_buy_and_refund_needs_a_buy_and_refund_store(demo, api):
    invoice = make_invoice(demo.store_bj, demo.clerk2, line(unit_price="500.00"))
    refused(api, demo.clerk2, [invoice.number], "not_buy_and_refund_store", buy_and_refund=True)


def test_every_violation_is_listed_in_extra(demo, api):
    # a purchase that breaks two rules names the first and lists both
    invoice = make_invoice(
        demo.store_sh,
        demo.clerk,
        line(unit_price="100.00", vat_rate="0.06"),
    )
    data = refused(api, demo.clerk, [invoice.number], "goods_not_eligible")
    assert {v["code"] for v in data["extra"]["violations"]} == {
        "goods_not_eligible",
        "below_minimum",
    }


# --- Same-store same-day minimum ----------------------------------------------------


def test_same_day_minimum_counts_earlier_forms_of_that_day(demo, api):
    # given two invoices of 150 at DEMO-SH-001 today for the same traveler
    first = make_invoice(demo.store_sh, demo.clerk, line(unit_price="150.00"))
    second = make_invoice(demo.store_sh, demo.clerk, line(unit_price="150.00"))
    # one alone is below the RMB 200 minimum (no earlier form today)
    refused(api, demo.clerk, [first.number], "below_minimum")
    # both together make 300: allowed
    assert post_form(api, demo.clerk, [first.number, second.number]).status_code == 201
    # a later form of 100 the same day counts the 300 already on a form: allowed
    third = make_invoice(demo.store_sh, demo.clerk, line(unit_price="100.00"))
    response = post_form(api, demo.clerk, [third.number])
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == "100.00"


def test_same_day_minimum_is_per_traveler(demo, api):
    make_form(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    other = make_invoice(demo.store_sh, demo.clerk, line(unit_price="100.00"))
    someone_else = traveler_body(name="Kim Minji", document_number="M12345678", nationality="KR")
    refused(api, demo.clerk, [other.number], "below_minimum", traveler=someone_else)


def test_same_day_minimum_is_per_store(demo, api):
    make_form(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    beijing = make_invoice(demo.store_bj, demo.clerk2, line(unit_price="100.00"))
    refused(api, demo.clerk2, [beijing.number], "below_minimum")


def test_same_day_minimum_is_per_day(demo, api):
    make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="300.00"),
        issued_on=days_ago(1),
    )
    today = make_invoice(demo.store_sh, demo.clerk, line(unit_price="100.00"))
    data = refused(api, demo.clerk, [today.number], "below_minimum")
    assert data["extra"]["day_total"] == "100.00"


def test_same_day_minimum_ignores_voided_forms(demo, api):
    from stores.services import refund_form_void

    earlier = make_form(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    refund_form_void(form=earlier, clerk=demo.clerk, reason="Returned")
    small = make_invoice(demo.store_sh, demo.clerk, line(unit_price="100.00"))
    refused(api, demo.clerk, [small.number], "below_minimum")


# --- Policy history: the invoice date picks the policy ---------------------------------

BEFORE_2025_CHANGE = date(2025, 4, 20)


def dated_form(demo, api, amount: str, day: date, vat_rate: str = "0.13") -> Any:
    invoice = make_invoice(
        demo.store_sh, demo.clerk, line(unit_price=amount, vat_rate=vat_rate), issued_on=day
    )
    entered = traveler_body(last_entry_date=date(day.year, day.month, 1).isoformat())
    return post_form(api, demo.clerk, [invoice.number], traveler=entered)


def test_before_2025_04_27_the_minimum_is_500(demo, api):
    response = dated_form(demo, api, "300.00", BEFORE_2025_CHANGE)
    data = assert_error(response, 422, "below_minimum")
    assert data["extra"]["minimum"] == "500.00"


def test_before_2025_04_27_500_is_enough_and_cash_cap_is_10000(demo, api):
    response = dated_form(demo, api, "600.00", BEFORE_2025_CHANGE)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["purchase_date"] == "2025-04-20"
    assert data["lines"][0]["refund_rate"] == "0.11"
    assert (data["refundable_vat"], data["fee"], data["net_refund"]) == ("66.00", "12.00", "54.00")
    detail = api(demo.clerk).get(f"{FORMS}{data['number']}/").json()
    assert detail["policy"] == {
        "effective_from": "2019-04-01",
        "minimum_amount": "500.00",
        "cash_cap": "10000.00",
    }


def test_from_2025_04_27_the_minimum_is_200(demo, api):
    response = dated_form(demo, api, "300.00", date(2025, 4, 27))
    assert response.status_code == 201, response.json()


def test_2015_policy_refunds_11_percent_flat(demo, api):
    response = dated_form(demo, api, "1000.00", date(2019, 3, 1), vat_rate="0.16")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["lines"][0]["vat_rate"] == "0.16"
    assert data["lines"][0]["refund_rate"] == "0.11"
    assert data["refundable_vat"] == "110.00"


def test_9_percent_goods_refund_8_percent_since_2019(demo, api):
    response = dated_form(demo, api, "1000.00", date(2019, 4, 1), vat_rate="0.09")
    assert response.status_code == 201, response.json()
    assert response.json()["lines"][0]["refund_rate"] == "0.08"
    assert response.json()["refundable_vat"] == "80.00"


def test_16_percent_goods_after_2019_04_01_are_not_eligible(demo, api):
    response = dated_form(demo, api, "1000.00", date(2019, 5, 1), vat_rate="0.16")
    assert_error(response, 422, "goods_not_eligible")

"""POST /api/v1/forms/{number}/void/: red-ink invoices, state rules, scoping, idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.ledger import record_history
from core.models import IdempotencyRecord
from customs.services import verification_create
from stores.models import RefundForm, VatInvoice
from stores.services import business_today
from tests.factories import line, make_form, make_invoice
from tests.stores.helpers import FORMS, assert_error, form_body, snapshot

pytestmark = pytest.mark.django_db


def void_url(form: RefundForm) -> str:
    return f"{FORMS}{form.number}/void/"


def test_void_returns_negative_red_invoices_and_the_detail_shows_it(demo, api):
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(quantity="2", unit_price="1239.00"),
        line(item="茶叶 Tea", unit_price="100.00", vat_rate="0.09"),
    )
    original = form.invoices.get()

    response = api(demo.clerk).post(void_url(form), {"reason": "客户退货 Returned"}, format="json")

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == "voided"
    assert data["number"] == form.number
    (red,) = data["red_invoices"]
    assert red["kind"] == "red"
    assert red["original"] == original.number
    assert red["reason"] == "销货退回 Sales return"
    assert red["issued_on"] == business_today().isoformat()
    assert len(red["number"]) == 20 and red["number"] != original.number
    assert red["total"] == "-2578.00"
    assert Decimal(red["total_excl_vat"]) + Decimal(red["total_vat"]) == Decimal("-2578.00")
    assert red["total_in_words"] == "负贰仟伍佰柒拾捌圆整"
    assert [(ln["item"], ln["quantity"], ln["total"]) for ln in red["lines"]] == [
        ("丝巾 Silk scarf", "-2.00", "-2478.00"),
        ("茶叶 Tea", "-1.00", "-100.00"),
    ]
    assert all(Decimal(ln["amount"]) < 0 and Decimal(ln["vat_amount"]) < 0 for ln in red["lines"])

    detail = api(demo.clerk).get(f"{FORMS}{form.number}/").json()
    assert detail["status"] == "voided"
    assert detail["void_reason"] == "客户退货 Returned"
    assert detail["voided_at"]
    assert [h["action"] for h in detail["history"]] == ["form_issued", "form_voided"]
    assert detail["history"][1]["from_status"] == "issued"
    assert detail["history"][1]["to_status"] == "voided"
    assert detail["invoices"] == [
        {
            "number": original.number,
            "issued_on": original.issued_on.isoformat(),
            "status": "reversed",
            "total": "2578.00",
            "red_invoice": red["number"],
        }
    ]
    red_detail = api(demo.clerk).get(f"/api/v1/invoices/{red['number']}/").json()
    assert red_detail["original"] == original.number and red_detail["total"] == "-2578.00"


def test_void_writes_ledger_for_form_and_invoices(demo, api):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    original = form.invoices.get()

    api(demo.clerk).post(void_url(form), {"reason": "Returned"}, format="json")

    assert record_history(form)[-1].action == "form_voided"
    assert record_history(original)[-1].action == "invoice_reversed"
    red = VatInvoice.objects.get(original=original)
    assert [e.action for e in record_history(red)] == ["invoice_issued"]


def test_reversed_invoice_cannot_go_on_a_new_form(demo, api):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    original = form.invoices.get()
    api(demo.clerk).post(void_url(form), {"reason": "Returned"}, format="json")
    before = snapshot()

    response = api(demo.clerk).post(FORMS, form_body([original.number]), format="json")

    assert_error(response, 422, "invoice_already_used")
    assert snapshot() == before


def test_void_twice_is_409(demo, api):
    form = make_form(demo.store_sh, demo.clerk)
    api(demo.clerk).post(void_url(form), {"reason": "Returned"}, format="json")
    before = snapshot()

    response = api(demo.clerk).post(void_url(form), {"reason": "Again"}, format="json")

    data = assert_error(response, 409, "form_not_voidable")
    assert data["extra"]["status"] == "voided"
    assert snapshot() == before


def test_void_of_a_customs_verified_form_is_409(demo, api):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    verification_create(
        port=demo.port,
        officer=demo.officer,
        form_number=form.number,
        departure_date=business_today(),
    )
    before = snapshot()

    response = api(demo.clerk).post(void_url(form), {"reason": "Returned"}, format="json")

    data = assert_error(response, 409, "form_not_voidable")
    assert data["extra"]["status"] == "verified"
    assert snapshot() == before
    assert form.invoices.get().status == "issued"


@pytest.mark.parametrize("status", ["partially_verified", "rejected", "refunded"])
def test_void_after_customs_or_payment_is_409(demo, api, status):
    form = make_form(demo.store_sh, demo.clerk)
    RefundForm.objects.filter(pk=form.pk).update(status=status)
    assert_error(
        api(demo.clerk).post(void_url(form), {"reason": "Returned"}, format="json"),
        409,
        "form_not_voidable",
    )


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 301}, {"reason": None}]
)
def test_void_needs_a_reason(demo, api, body):
    form = make_form(demo.store_sh, demo.clerk)
    before = snapshot()
    assert_error(api(demo.clerk).post(void_url(form), body, format="json"), 400, "invalid")
    assert snapshot() == before


def test_clerk2_cannot_see_or_void_clerks_forms(demo, api):
    form = make_form(demo.store_sh, demo.clerk)
    before = snapshot()

    assert_error(api(demo.clerk2).get(f"{FORMS}{form.number}/"), 404, "not_found")
    assert_error(
        api(demo.clerk2).post(void_url(form), {"reason": "x"}, format="json"), 404, "not_found"
    )
    assert snapshot() == before
    form.refresh_from_db()
    assert form.status == "issued"


def test_other_roles_cannot_void(demo, api):
    form = make_form(demo.store_sh, demo.clerk)
    for user in (demo.officer, demo.agent, demo.admin):
        assert_error(
            api(user).post(void_url(form), {"reason": "x"}, format="json"),
            403,
            "permission_denied",
        )
    assert_error(
        api().post(void_url(form), {"reason": "x"}, format="json"), 401, "not_authenticated"
    )
    form.refresh_from_db()
    assert form.status == "issued"


def test_unknown_form_is_404(demo, api):
    assert_error(
        api(demo.clerk).post(f"{FORMS}3126000000000000/void/", {"reason": "x"}, format="json"),
        404,
        "not_found",
    )


def test_void_is_idempotent(demo, api):
    form = make_form(demo.store_sh, demo.clerk)
    client = api(demo.clerk)

    first = client.post(
        void_url(form), {"reason": "Returned"}, format="json", HTTP_IDEMPOTENCY_KEY="void-1"
    )
    again = client.post(
        void_url(form), {"reason": "Returned"}, format="json", HTTP_IDEMPOTENCY_KEY="void-1"
    )
    other = client.post(
        void_url(form), {"reason": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="void-1"
    )

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert_error(other, 422, "idempotency_key_reused")
    assert VatInvoice.objects.filter(kind="red").count() == 1
    assert IdempotencyRecord.objects.filter(key="void-1").count() == 1


def test_void_of_a_multi_invoice_form_reverses_each(demo, api):
    from stores.services import refund_form_issue
    from tests.factories import traveler

    invoices = [make_invoice(demo.store_sh, demo.clerk, line(unit_price="100.00")) for _ in "abc"]
    form = refund_form_issue(
        store=demo.store_sh,
        clerk=demo.clerk,
        traveler=traveler(),
        invoice_numbers=[inv.number for inv in invoices],
    )

    data = api(demo.clerk).post(void_url(form), {"reason": "Returned"}, format="json").json()

    assert sorted(r["original"] for r in data["red_invoices"]) == sorted(
        inv.number for inv in invoices
    )
    assert all(r["total"] == "-100.00" for r in data["red_invoices"])
    assert VatInvoice.objects.filter(status="reversed").count() == 3

"""POST/GET /api/v1/forms/: issuance reply, bad input, scoping, list filters, idempotency."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.crypto import decrypt_document
from core.ledger import record_history
from core.signing import parse_form_qr
from stores.models import RefundForm, Traveler, VatInvoice
from stores.services import business_today
from tests.factories import line, make_form, make_invoice, traveler
from tests.stores.helpers import (
    FORMS,
    assert_error,
    days_ago,
    form_body,
    snapshot,
    traveler_body,
)

pytestmark = pytest.mark.django_db


def test_issue_form_reply_matches_spec(demo, api):
    # given two invoices of today: 13% goods 3,600 and 9% goods 200
    scarf = make_invoice(demo.store_sh, demo.clerk, line(quantity="2", unit_price="1800.00"))
    tea = make_invoice(
        demo.store_sh, demo.clerk, line(item="茶叶 Tea", unit_price="200.00", vat_rate="0.09")
    )

    response = api(demo.clerk).post(FORMS, form_body([scarf.number, tea.number]), format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "issued"
    assert data["store"] == "DEMO-SH-001"
    assert data["purchase_date"] == business_today().isoformat()
    assert len(data["number"]) == 16 and data["number"].isdigit()
    # SPEC §2 worked example: 3,600 at 13% -> 396.00 - 72.00; 200 at 9% -> 16.00 - 4.00
    assert data["total"] == "3800.00"
    assert data["refundable_vat"] == "412.00"
    assert data["fee"] == "76.00"
    assert data["net_refund"] == "336.00"
    lines = data["lines"]
    assert [
        (ln["item"], ln["quantity"], ln["vat_rate"], ln["total"], ln["refund_rate"]) for ln in lines
    ] == [
        ("丝巾 Silk scarf", "2.00", "0.13", "3600.00", "0.11"),
        ("茶叶 Tea", "1.00", "0.09", "200.00", "0.08"),
    ]
    form = RefundForm.objects.get(number=data["number"])
    assert sorted(ln["id"] for ln in lines) == sorted(form.lines.values_list("id", flat=True))
    # the QR is the signed payload of this form
    assert data["qr"] == form.qr_payload
    parsed = parse_form_qr(data["qr"])
    assert parsed.number == data["number"] and parsed.signature_valid
    assert parsed.matches_digest(form.content_digest)
    # the invoices are now on this form, the document encrypted and hashed
    assert set(form.invoices.values_list("number", flat=True)) == {scarf.number, tea.number}
    assert decrypt_document(form.document_number_encrypted) == "18AB12345"
    assert form.document_masked == "1*****345"
    assert form.issued_by == demo.clerk
    # ledger: the form was issued, each invoice attached
    (issued,) = record_history(form)
    assert (issued.action, issued.to_status) == ("form_issued", "issued")
    assert record_history(scarf)[-1].action == "invoice_attached_to_form"
    assert record_history(tea)[-1].action == "invoice_attached_to_form"


def test_spec_worked_example_200(demo, api):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="200.00"))
    data = api(demo.clerk).post(FORMS, form_body([invoice.number]), format="json").json()
    assert (data["total"], data["refundable_vat"], data["fee"], data["net_refund"]) == (
        "200.00",
        "22.00",
        "4.00",
        "18.00",
    )


def test_document_number_is_normalized_and_traveler_reused(demo, api):
    first = make_invoice(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    second = make_invoice(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    client = api(demo.clerk)
    client.post(FORMS, form_body([first.number]), format="json")
    body = form_body([second.number], traveler=traveler_body(document_number="18ab 12345"))

    response = client.post(FORMS, body, format="json")

    assert response.status_code == 201
    assert Traveler.objects.count() == 1


def test_buy_and_refund_form_at_a_buy_and_refund_store(demo, api):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    response = api(demo.clerk).post(
        FORMS, form_body([invoice.number], buy_and_refund=True), format="json"
    )
    assert response.status_code == 201
    assert response.json()["buy_and_refund"] is True


BAD_FORM_BODIES: dict[str, dict[str, Any]] = {
    "unknown document type": {"traveler": traveler_body(document_type="id_card")},
    "bad nationality (3 letters)": {"traveler": traveler_body(nationality="FRA")},
    "bad nationality (not ISO)": {"traveler": traveler_body(nationality="XX")},
    "bad nationality (digits)": {"traveler": traveler_body(nationality="12")},
    "missing last entry date": {
        "traveler": {k: v for k, v in traveler_body().items() if k != "last_entry_date"}
    },
    "null last entry date": {"traveler": traveler_body(last_entry_date=None)},
    "future last entry date": {
        "traveler": traveler_body(last_entry_date=(business_today() + timedelta(1)).isoformat())
    },
    "bad document number": {"traveler": traveler_body(document_number="E1")},
    "blank name": {"traveler": traveler_body(name=" ")},
    "no traveler": {"traveler": None},
    "empty invoice list": {"invoice_numbers": []},
    "invoice number not 20 digits": {"invoice_numbers": ["12345"]},
    "invoice numbers not a list": {"invoice_numbers": "26312000000000000001"},
    "too many invoices": {"invoice_numbers": [f"{n:020d}" for n in range(101)]},
    "buy_and_refund not a boolean": {"buy_and_refund": "perhaps"},
}


@pytest.mark.parametrize("case", BAD_FORM_BODIES, ids=list(BAD_FORM_BODIES))
def test_bad_form_input_is_400_and_writes_nothing(demo, api, case):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    body = form_body([invoice.number])
    body.update(BAD_FORM_BODIES[case])
    before = snapshot()

    response = api(demo.clerk).post(FORMS, body, format="json")

    assert_error(response, 400, "invalid")
    assert snapshot() == before


def test_malformed_json_form_is_400_and_writes_nothing(demo, api):
    before = snapshot()
    response = api(demo.clerk).post(
        FORMS, b'{"traveler": {"name": "x"', content_type="application/json"
    )
    assert_error(response, 400, "malformed_request")
    assert snapshot() == before


def test_other_roles_cannot_issue_or_list_forms(demo, api):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    for user in (demo.officer, demo.agent, demo.analyst, demo.admin):
        client = api(user)
        assert_error(
            client.post(FORMS, form_body([invoice.number]), format="json"), 403, "permission_denied"
        )
    # Reading is by scope (stores.scopes): officers and agents list only their own scope.
    assert api(demo.officer).get(FORMS).json()["count"] == 0
    assert_error(api(demo.admin).get(FORMS), 403, "permission_denied")
    assert_error(
        api().post(FORMS, form_body([invoice.number]), format="json"), 401, "not_authenticated"
    )
    assert_error(api().get(FORMS), 401, "not_authenticated")
    assert RefundForm.objects.count() == 0


# --- GET /forms/{number}/ ---------------------------------------------------------


def test_detail_shows_status_traveler_lines_amounts_and_history(demo, api):
    form = make_form(demo.store_sh, demo.clerk, line(quantity="2", unit_price="150.00"))

    response = api(demo.clerk).get(f"{FORMS}{form.number}/")

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["number"] == form.number
    assert data["status"] == "issued"
    assert data["store"] == "DEMO-SH-001"
    assert data["issued_by"] == "clerk"
    assert data["traveler"] == {
        "name": "Marie Dupont",
        "nationality": "FR",
        "document_type": "passport",
        "nationality_name": "FR France",
        "document_number_masked": "1*****345",
        "document_number": None,
        "last_entry_date": days_ago(10).isoformat(),
        "document_expires_on": "2031-05-01",
    }
    assert "18AB12345" not in response.content.decode()
    assert [(ln["item"], ln["quantity"], ln["total"]) for ln in data["lines"]] == [
        ("丝巾 Silk scarf", "2.00", "300.00")
    ]
    assert (data["total"], data["refundable_vat"], data["fee"], data["net_refund"]) == (
        "300.00",
        "33.00",
        "6.00",
        "27.00",
    )
    assert data["fee_rate"] == "0.02"
    assert data["qr"] == form.qr_payload
    assert data["buy_and_refund"] is False
    assert data["policy"] == {
        "effective_from": "2025-04-27",
        "minimum_amount": "200.00",
        "cash_cap": "20000.00",
    }
    (invoice,) = data["invoices"]
    assert invoice["status"] == "issued" and invoice["red_invoice"] is None
    (entry,) = data["history"]
    assert entry["action"] == "form_issued"
    assert (entry["from_status"], entry["to_status"], entry["actor"]) == ("", "issued", "clerk")
    assert entry["at"]


def test_form_read_by_scope_others_get_the_404_of_a_missing_form(demo, api):
    form = make_form(demo.store_sh, demo.clerk)
    url = f"{FORMS}{form.number}/"

    # The serving agency and the authority read it; a port it was never presented at does not.
    assert api(demo.agent).get(url).status_code == 200
    assert api(demo.analyst).get(url).status_code == 200
    for outsider in (demo.officer, demo.officer2, demo.agent2, demo.clerk2):
        assert_error(api(outsider).get(url), 404, "not_found")
    assert_error(api(demo.admin).get(url), 403, "permission_denied")
    assert_error(api().get(url), 401, "not_authenticated")
    assert_error(api(demo.officer).get(f"{FORMS}3126000000000000/"), 404, "not_found")


# --- GET /forms/ --------------------------------------------------------------------


def make_forms_for_listing(demo):
    """Three SH forms (one voided, one for another traveler, one of last week), one at BJ."""
    from stores.services import refund_form_void

    a = make_form(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    b = make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="400.00"),
        who=traveler(name="Kim Minji", document_number="M12345678", nationality="KR"),
    )
    c = make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="500.00"),
        issued_on=days_ago(7),
        who=traveler(last_entry_date=days_ago(9)),
    )
    refund_form_void(form=a, clerk=demo.clerk, reason="Returned")
    bj = make_form(demo.store_bj, demo.clerk2, line(unit_price="600.00"))
    return a, b, c, bj


def numbers(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["number"] for row in response.json()["results"]}


def test_list_is_scoped_to_the_clerks_store_and_paginated(demo, api):
    a, b, c, bj = make_forms_for_listing(demo)

    response = api(demo.clerk).get(FORMS)

    assert numbers(response) == {a.number, b.number, c.number}
    assert response.json()["count"] == 3
    assert numbers(api(demo.clerk2).get(FORMS)) == {bj.number}
    page = api(demo.clerk).get(FORMS, {"limit": 2})
    assert len(page.json()["results"]) == 2 and page.json()["next"]
    row = next(r for r in response.json()["results"] if r["number"] == b.number)
    assert row["traveler_name"] == "Kim Minji"
    assert row["document_number_masked"] == "M*****678"
    assert row["net_refund"] == "36.00"


def test_list_filters(demo, api):
    a, b, c, _ = make_forms_for_listing(demo)
    client = api(demo.clerk)

    assert numbers(client.get(FORMS, {"status": "voided"})) == {a.number}
    assert numbers(client.get(FORMS, {"status": "issued"})) == {b.number, c.number}
    assert numbers(client.get(FORMS, {"purchase_date": days_ago(7).isoformat()})) == {c.number}
    assert numbers(client.get(FORMS, {"purchase_date_from": days_ago(1).isoformat()})) == {
        a.number,
        b.number,
    }
    assert numbers(client.get(FORMS, {"purchase_date_to": days_ago(1).isoformat()})) == {c.number}
    today = business_today().isoformat()
    assert numbers(client.get(FORMS, {"issued_on": today})) == {a.number, b.number, c.number}
    assert numbers(client.get(FORMS, {"issued_from": today, "issued_to": today})) == {
        a.number,
        b.number,
        c.number,
    }
    assert numbers(client.get(FORMS, {"issued_on": days_ago(1).isoformat()})) == set()


def test_search_by_document_number_in_the_body(demo, api):
    a, b, c, _ = make_forms_for_listing(demo)
    client = api(demo.clerk)

    def search(body):
        response = client.post(f"{FORMS}search/", body, format="json")
        assert response.status_code == 200, response.content
        assert response["Cache-Control"] == "no-store"
        return {row["number"] for row in response.json()}

    # the document number is matched by keyed hash, however it is typed
    assert search({"document_number": "m1234 5678"}) == {b.number}
    assert search({"document_number": "18AB12345"}) == {a.number, c.number}
    assert search({"document_number": "18AB12345", "status": "voided"}) == {a.number}
    assert search({"document_number": "NOPE00000"}) == set()
    # never in a URL: the old query parameter is refused, not silently ignored
    refused = client.get(FORMS, {"document_number": "18AB12345"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid"
    assert "18AB12345" not in refused.content.decode()
    assert client.post(f"{FORMS}search/", {}, format="json").status_code == 400
    assert (
        api(demo.officer)
        .post(f"{FORMS}search/", {"document_number": "X"}, format="json")
        .status_code
        == 403
    )


def test_list_rejects_bad_filters(demo, api):
    client = api(demo.clerk)
    assert_error(client.get(FORMS, {"status": "lost"}), 400, "invalid")
    assert_error(client.get(FORMS, {"purchase_date": "yesterday"}), 400, "invalid")


# --- Idempotency ----------------------------------------------------------------------


def test_idempotent_replay_of_form_issue(demo, api):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    client = api(demo.clerk)
    body = form_body([invoice.number])

    first = client.post(FORMS, body, format="json", HTTP_IDEMPOTENCY_KEY="counter-7-42")
    before = snapshot()
    again = client.post(FORMS, body, format="json", HTTP_IDEMPOTENCY_KEY="counter-7-42")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert snapshot() == before
    assert RefundForm.objects.count() == 1


def test_idempotency_key_reuse_on_forms_is_422(demo, api):
    one = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    two = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    client = api(demo.clerk)
    client.post(FORMS, form_body([one.number]), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    before = snapshot()

    response = client.post(
        FORMS, form_body([two.number]), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert_error(response, 422, "idempotency_key_reused")
    assert snapshot() == before
    assert VatInvoice.objects.get(pk=two.pk).form_id is None


def test_idempotent_replay_of_a_refusal(demo, api):
    # a 422 is a definite answer: the retry gets the same refusal, nothing is written
    small = make_invoice(demo.store_sh, demo.clerk, line(unit_price="100.00"))
    client = api(demo.clerk)
    first = client.post(FORMS, form_body([small.number]), format="json", HTTP_IDEMPOTENCY_KEY="r")
    again = client.post(FORMS, form_body([small.number]), format="json", HTTP_IDEMPOTENCY_KEY="r")
    assert_error(first, 422, "below_minimum")
    assert again.json() == first.json() and again.status_code == 422
    assert RefundForm.objects.count() == 0
    assert Decimal(first.json()["extra"]["day_total"]) == Decimal("100.00")


def test_downstream_apps_can_add_a_section_to_the_detail(demo, api):
    # customs / Buy & Refund register sections without stores importing them
    from stores.api import serializers

    form = make_form(demo.store_sh, demo.clerk)
    # A key of its own: the real sections registered at start-up must survive this test.
    serializers.register_form_section(
        "example", lambda f: {"amount": str(f.net_refund)} if f.buy_and_refund else None
    )
    try:
        plain = api(demo.clerk).get(f"{FORMS}{form.number}/").json()
        RefundForm.objects.filter(pk=form.pk).update(buy_and_refund=True)
        marked = api(demo.clerk).get(f"{FORMS}{form.number}/").json()
    finally:
        serializers._form_sections.pop("example")

    assert "example" not in plain
    assert marked["example"] == {"amount": "18.00"}

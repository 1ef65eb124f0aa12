"""POST /api/v1/invoices/: figures, validation, scoping, idempotency."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from core.models import LedgerEntry, NumberSequence
from stores.models import VatInvoice, VatInvoiceLine
from stores.services import business_today

pytestmark = pytest.mark.django_db

URL = "/api/v1/invoices/"


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "buyer_name": "Marie Dupont",
        "lines": [
            {
                "item": "丝巾 Silk scarf",
                "spec": "90x90",
                "unit": "条",
                "quantity": "1",
                "unit_price": "1239.00",
                "vat_rate": "0.13",
            }
        ],
    }
    data.update(overrides)
    return data


def rows() -> tuple[int, int, int, int]:
    """What a failed request must leave untouched."""
    return (
        VatInvoice.objects.count(),
        VatInvoiceLine.objects.count(),
        LedgerEntry.objects.count(),
        NumberSequence.objects.filter(key__startswith="invoice:").count(),
    )


def test_issue_invoice_returns_spec_figures(demo, api):
    response = api(demo.clerk).post(
        URL,
        body(
            lines=[
                {
                    "item": "丝巾 Silk scarf",
                    "quantity": "1",
                    "unit_price": "1239.00",
                    "vat_rate": "0.13",
                },
                {"item": "茶叶 Tea", "quantity": "3", "unit_price": "33.33", "vat_rate": "0.09"},
            ]
        ),
        format="json",
    )

    assert response.status_code == 201, response.json()
    data = response.json()
    today = business_today()
    assert data["number"].isdigit() and len(data["number"]) == 20
    assert data["number"].startswith(f"{today:%y}312")
    assert data["issued_on"] == today.isoformat()
    scarf, tea = data["lines"]
    # 1239.00 / 1.13 = 1096.46; VAT 142.54
    assert scarf["item"] == "丝巾 Silk scarf"
    assert (scarf["quantity"], scarf["unit_price"]) == ("1.00", "1239.00")
    assert (scarf["amount"], scarf["vat_amount"], scarf["total"]) == (
        "1096.46",
        "142.54",
        "1239.00",
    )
    # 3 x 33.33 = 99.99; / 1.09 = 91.73; VAT 8.26
    assert (tea["amount"], tea["vat_amount"], tea["total"]) == ("91.73", "8.26", "99.99")
    assert tea["vat_rate"] == "0.09"
    assert data["total_excl_vat"] == "1188.19"
    assert data["total_vat"] == "150.80"
    assert data["total"] == "1338.99"
    assert data["total_in_words"] == "壹仟叁佰叁拾捌圆玖角玖分"
    assert data["store"] == "DEMO-SH-001"
    assert data["kind"] == "blue" and data["status"] == "issued"
    invoice = VatInvoice.objects.get(number=data["number"])
    assert invoice.created_by == demo.clerk
    assert LedgerEntry.objects.filter(record_id=str(invoice.pk), action="invoice_issued").exists()


def test_total_in_words_for_round_amount(demo, api):
    response = api(demo.clerk).post(URL, body(), format="json")
    assert response.json()["total_in_words"] == "壹仟贰佰叁拾玖圆整"


def test_beijing_store_numbers_carry_region_11(demo, api):
    response = api(demo.clerk2).post(URL, body(), format="json")
    assert response.status_code == 201
    assert response.json()["number"][2:5] == "112"


def test_past_date_is_allowed_and_numbered_in_that_year(demo, api):
    response = api(demo.clerk).post(URL, body(issued_on="2025-04-20"), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["issued_on"] == "2025-04-20"
    assert response.json()["number"].startswith("25312")


def test_consecutive_invoices_get_consecutive_numbers(demo, api):
    client = api(demo.clerk)
    first = client.post(URL, body(), format="json").json()["number"]
    second = client.post(URL, body(), format="json").json()["number"]
    assert int(second[-15:]) == int(first[-15:]) + 1


def line_with(**overrides: Any) -> dict[str, Any]:
    data = {"item": "丝巾", "quantity": "1", "unit_price": "200.00", "vat_rate": "0.13"}
    data.update(overrides)
    return data


BAD_BODIES = {
    "empty lines": body(lines=[]),
    "no lines": {"buyer_name": "Marie Dupont"},
    "no buyer": {"lines": [line_with()]},
    "blank buyer": body(buyer_name="  "),
    "blank item": body(lines=[line_with(item=" ")]),
    "zero quantity": body(lines=[line_with(quantity="0")]),
    "negative quantity": body(lines=[line_with(quantity="-1")]),
    "negative price": body(lines=[line_with(unit_price="-200.00")]),
    "zero price": body(lines=[line_with(unit_price="0")]),
    "three decimals in price": body(lines=[line_with(unit_price="199.999")]),
    "three decimals in quantity": body(lines=[line_with(quantity="1.005")]),
    "float with three decimals": body(lines=[line_with(unit_price=199.999)]),
    "NaN string": body(lines=[line_with(unit_price="NaN")]),
    "Infinity string": body(lines=[line_with(quantity="Infinity")]),
    "-Infinity string": body(lines=[line_with(unit_price="-Infinity")]),
    "text quantity": body(lines=[line_with(quantity="two")]),
    "absurd quantity": body(lines=[line_with(quantity="99999999999")]),
    "absurd price": body(lines=[line_with(unit_price="1e20")]),
    "absurd total": body(lines=[line_with(quantity="1000000", unit_price="100000000")]),
    "too many lines": body(lines=[line_with()] * 201),
    "long item": body(lines=[line_with(item="x" * 201)]),
    "unknown vat rate": body(lines=[line_with(vat_rate="0.07")]),
    "vat rate over 1": body(lines=[line_with(vat_rate="1.13")]),
    "future date": body(issued_on=(business_today() + timedelta(days=1)).isoformat()),
    "bad date": body(issued_on="2026-02-30"),
    "date before any policy": body(issued_on="2014-12-31"),
    "lines not a list": body(lines="丝巾"),
    "line not an object": body(lines=["丝巾"]),
    "body is a list": [body()],
}


@pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
def test_bad_input_is_400_in_shared_shape_and_writes_nothing(demo, api, case):
    before = rows()

    response = api(demo.clerk).post(URL, BAD_BODIES[case], format="json")

    assert response.status_code == 400, response.json()
    data = response.json()
    assert set(data) == {"code", "message", "extra"}
    assert data["code"] == "invalid"
    assert data["message"]
    assert rows() == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"buyer_name": "x", "lines": [',
        b'{"buyer_name": "x", "lines": [{"item": "a", "quantity": NaN, "unit_price": 1,'
        b' "vat_rate": "0.13"}]}',
        b'{"buyer_name": "x", "lines": [{"item": "a", "quantity": 1, "unit_price": Infinity,'
        b' "vat_rate": "0.13"}]}',
        b"\xff\xfe not utf-8",
    ],
    ids=["truncated", "NaN literal", "Infinity literal", "not utf-8"],
)
def test_malformed_json_is_400_and_writes_nothing(demo, api, raw):
    before = rows()

    response = api(demo.clerk).post(URL, raw, content_type="application/json")

    assert response.status_code == 400
    data = response.json()
    assert set(data) == {"code", "message", "extra"}
    assert data["code"] == "malformed_request"
    assert rows() == before


def test_officer_and_agent_cannot_issue_invoices(demo, api):
    for user in (demo.officer, demo.agent, demo.admin):
        response = api(user).post(URL, body(), format="json")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert VatInvoice.objects.count() == 0


def test_anonymous_gets_401(demo, api):
    response = api().post(URL, body(), format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_idempotent_replay_returns_the_first_invoice(demo, api):
    client = api(demo.clerk)
    first = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="pos-1-0001")
    again = client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="pos-1-0001")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert VatInvoice.objects.count() == 1


def test_idempotency_key_reused_with_another_body_is_422(demo, api):
    client = api(demo.clerk)
    client.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="pos-1-0002")
    before = rows()

    other = client.post(
        URL, body(buyer_name="Someone Else"), format="json", HTTP_IDEMPOTENCY_KEY="pos-1-0002"
    )

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert rows() == before


def test_clerk_reads_own_invoice_but_not_another_stores(demo, api):
    number = api(demo.clerk).post(URL, body(), format="json").json()["number"]

    mine = api(demo.clerk).get(f"{URL}{number}/")
    theirs = api(demo.clerk2).get(f"{URL}{number}/")

    assert mine.status_code == 200
    assert mine.json()["lines"][0]["spec"] == "90x90"
    assert theirs.status_code == 404
    assert theirs.json()["code"] == "not_found"


def test_raw_json_roundtrip(demo, api):
    # a POS that sends numbers rather than strings
    raw = json.dumps(
        {
            "buyer_name": "Kim",
            "lines": [{"item": "Tea", "quantity": 2, "unit_price": 100.5, "vat_rate": 0.09}],
        }
    )
    response = api(demo.clerk).post(URL, raw, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == "201.00"


def test_oversized_body_is_400_in_shared_shape_and_writes_nothing(demo, api):
    # 5 MB of lines: refused before parsing (DATA_UPLOAD_MAX_MEMORY_SIZE)
    line = {"item": "a" * 100, "quantity": "1", "unit_price": "1.00", "vat_rate": "0.13"}
    raw = json.dumps({"buyer_name": "x", "lines": [line] * 30000})
    before = rows()

    response = api(demo.clerk).post(URL, raw, content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "extra"}
    assert rows() == before

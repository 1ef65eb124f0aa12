"""Request bodies: undeclared keys, names or document numbers not sent as text: 400, no writes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from agencies.models import Refund, RefundAttempt, SandboxTransfer
from core.api.serializers import UNKNOWN_FIELD, StrictCharField, StrictSerializer
from core.models import IdempotencyRecord, LedgerEntry
from customs.models import MailboxBatch, Verification, VerificationAttempt
from stores.models import RefundForm
from tests.agencies.conftest import DOCUMENT, GOOD_CARD, verify
from tests.customs.conftest import line_ids
from tests.factories import line, make_form, make_invoice, traveler
from tests.stores.helpers import FORMS, assert_error, form_body, snapshot, traveler_body

INVOICES = "/api/v1/invoices/"
REFUNDS = "/api/v1/refunds/"
VERIFICATIONS = "/api/v1/customs/verifications/"


def everything() -> dict[str, int]:
    """Row counts of every app a refused request must leave as they were."""
    return {
        **snapshot(),
        "verifications": Verification.objects.count(),
        "verification_attempts": VerificationAttempt.objects.count(),
        "batches": MailboxBatch.objects.count(),
        "refunds": Refund.objects.count(),
        "refund_attempts": RefundAttempt.objects.count(),
        "transfers": SandboxTransfer.objects.count(),
        "all_ledger": LedgerEntry.objects.count(),
        "idempotency": IdempotencyRecord.objects.count(),
    }


def refused(client: Any, url: str, body: Any) -> dict[str, Any]:
    """POST ``body``: 400 ``invalid`` in the shared shape, and no row written anywhere."""
    before = everything()
    data = assert_error(client.post(url, body, format="json"), 400, "invalid")
    assert everything() == before
    assert set(data["extra"]) == {"fields"}, data
    return data["extra"]["fields"]


@pytest.fixture
def verified_form(demo: Any) -> Any:
    """``verified_form()``: a form of DEMO-SH-001 (one 200.00 line at 13%) verified at PVG."""

    def make(*lines: Any) -> RefundForm:
        form = make_form(demo.store_sh, demo.clerk, *(lines or [line()]), who=traveler())
        return verify(form, demo)

    return make


def invoice_body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "buyer_name": "Marie Dupont",
        "lines": [
            {"item": "丝巾 Silk scarf", "quantity": "1", "unit_price": "300.00", "vat_rate": "0.13"}
        ],
    }
    data.update(overrides)
    return data


def refund_body(form: RefundForm, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "form": form.number,
        "qr": form.qr_payload,
        "document_number": DOCUMENT,
        "payout_method": "bank_card",
        "payout_account": GOOD_CARD,
    }
    data.update(overrides)
    return data


# --- POST /api/v1/invoices/ ------------------------------------------------------------


def test_invoice_with_an_unknown_top_level_key_is_400(demo, api):
    fields = refused(api(demo.clerk), INVOICES, invoice_body(foo=1))
    assert fields == {"foo": [UNKNOWN_FIELD]}


@pytest.mark.parametrize("key", ["total", "amount"])
def test_invoice_line_with_a_computed_amount_is_400(demo, api, key):
    # a POS sending its own total must hear that the server computes it, not be ignored
    body = invoice_body()
    body["lines"].append({**body["lines"][0], key: "999"})
    fields = refused(api(demo.clerk), INVOICES, body)
    assert fields == {"lines": {"1": {key: [UNKNOWN_FIELD]}}}  # the second line


def test_the_message_names_the_unknown_line_key(demo, api):
    body = invoice_body()
    body["lines"].append({**body["lines"][0], "total": "999"})
    response = api(demo.clerk).post(INVOICES, body, format="json")
    assert response.json()["message"] == f"lines: 1: total: {UNKNOWN_FIELD}"


def test_unknown_keys_are_named_next_to_the_other_errors(demo, api):
    body = invoice_body(foo=1, bar=2)
    del body["buyer_name"]
    fields = refused(api(demo.clerk), INVOICES, body)
    assert set(fields) == {"buyer_name", "foo", "bar"}
    assert fields["foo"] == fields["bar"] == [UNKNOWN_FIELD]


@pytest.mark.parametrize("name", [12345, True, 1.5])
def test_buyer_name_must_be_a_string(demo, api, name):
    fields = refused(api(demo.clerk), INVOICES, invoice_body(buyer_name=name))
    assert set(fields) == {"buyer_name"}


def test_a_clean_invoice_body_still_issues(demo, api):
    response = api(demo.clerk).post(INVOICES, invoice_body(), format="json")
    assert response.status_code == 201, response.json()


# --- POST /api/v1/forms/ and void ------------------------------------------------------


def test_form_with_an_unknown_traveler_key_is_400(demo, api):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    body = form_body([invoice.number], traveler=traveler_body(age=3))
    fields = refused(api(demo.clerk), FORMS, body)
    assert fields == {"traveler": {"age": [UNKNOWN_FIELD]}}


def test_form_with_an_unknown_top_level_key_is_400(demo, api):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    fields = refused(api(demo.clerk), FORMS, form_body([invoice.number], total="1.00"))
    assert fields == {"total": [UNKNOWN_FIELD]}


@pytest.mark.parametrize(
    ("key", "value"),
    [("name", 42), ("name", False), ("document_number", 18123456), ("document_number", True)],
)
def test_traveler_name_and_document_must_be_strings(demo, api, key, value):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    body = form_body([invoice.number], traveler=traveler_body(**{key: value}))
    fields = refused(api(demo.clerk), FORMS, body)
    assert set(fields["traveler"]) == {key}


def test_void_with_an_unknown_key_is_400(demo, api):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"), who=traveler())
    url = f"{FORMS}{form.number}/void/"
    fields = refused(api(demo.clerk), url, {"reason": "Customer changed mind", "force": True})
    assert fields == {"force": [UNKNOWN_FIELD]}
    form.refresh_from_db()
    assert form.status == "issued"


# --- Customs ---------------------------------------------------------------------------


def test_verification_line_with_an_unknown_key_is_400(demo, api):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"), who=traveler())
    [only] = line_ids(form)
    body = {
        "form": form.number,
        "departure_date": timezone.localdate().isoformat(),
        "lines": [{"id": only, "quantity_presented": "1", "x": 1}],
    }
    fields = refused(api(demo.officer), VERIFICATIONS, body)
    assert fields == {"lines": {"0": {"x": [UNKNOWN_FIELD]}}}
    form.refresh_from_db()
    assert form.status == "issued"


def test_verification_with_an_unknown_top_level_key_is_400(demo, api):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"), who=traveler())
    body = {"form": form.number, "departure_date": timezone.localdate().isoformat(), "stamp": "x"}
    assert refused(api(demo.officer), VERIFICATIONS, body) == {"stamp": [UNKNOWN_FIELD]}


def test_mailbox_batch_bodies_refuse_unknown_keys(demo, api):
    client = api(demo.officer)
    url = "/api/v1/customs/mailbox-batches/"
    assert refused(client, url, {"note": "am", "port": "PEK"}) == {"port": [UNKNOWN_FIELD]}
    opened = client.post(url, {"note": "am"}, format="json")
    assert opened.status_code == 201, opened.json()
    scan = f"{url}{opened.json()['id']}/scan/"
    assert refused(client, scan, {"code": "1234", "verify": True}) == {"verify": [UNKNOWN_FIELD]}


# --- Agencies --------------------------------------------------------------------------


def test_refund_with_an_unknown_key_is_400(demo, api, verified_form):
    form = verified_form()
    fields = refused(api(demo.agent), REFUNDS, refund_body(form, extra=1))
    assert fields == {"extra": [UNKNOWN_FIELD]}


@pytest.mark.parametrize("number", [18123456, True])
def test_refund_document_number_must_be_a_string(demo, api, verified_form, number):
    form = verified_form()
    fields = refused(api(demo.agent), REFUNDS, refund_body(form, document_number=number))
    assert set(fields) == {"document_number"}


def test_refund_check_refuses_unknown_keys_and_numbers(demo, api, verified_form):
    form = verified_form()
    client = api(demo.agent)
    body = {"form": form.number, "qr": form.qr_payload, "document_number": DOCUMENT}
    url = f"{REFUNDS}check/"
    assert refused(client, url, {**body, "payout_method": "cash"}) == {
        "payout_method": [UNKNOWN_FIELD]
    }
    assert set(refused(client, url, {**body, "document_number": 18123456})) == {"document_number"}
    assert client.post(url, body, format="json").status_code == 200


# --- The building blocks ---------------------------------------------------------------


class _Line(StrictSerializer):
    id = StrictCharField()


class _Body(StrictSerializer):
    name = StrictCharField()
    lines = _Line(many=True)
    one = _Line(required=False)


def test_strict_serializer_checks_every_depth():
    body = _Body(
        data={"name": "a", "lines": [{"id": "1"}, {"id": "2", "y": 1}], "one": {"id": "3", "z": 0}}
    )
    assert not body.is_valid()
    assert body.errors == {
        "lines": {1: {"y": [UNKNOWN_FIELD]}},
        "one": {"z": [UNKNOWN_FIELD]},
    }
    assert _Body(data={"name": "a", "lines": [{"id": "1"}]}).is_valid()


def test_strict_serializer_leaves_non_objects_to_drf():
    body = _Body(data=["not", "an", "object"])
    assert not body.is_valid()
    assert "non_field_errors" in body.errors


def test_strict_char_field_refuses_numbers_and_booleans():
    for value in (1, Decimal("1"), True, None):
        assert not _Line(data={"id": value}).is_valid()
    assert _Line(data={"id": "E12345678"}).is_valid()

"""The agency API through its URLs: SPEC §4 shapes, error codes, idempotency, scope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework import serializers
from rest_framework.utils.encoders import JSONEncoder

from agencies.api.serializers import RefundSerializer
from agencies.models import Refund, RefundAttempt, SandboxTransfer
from core.models import IdempotencyRecord, LedgerEntry
from tests.agencies.conftest import DECLINED_CARD, DOCUMENT, GOOD_CARD, verify
from tests.factories import AgencyFactory, PortFactory, line, make_form, staff_user

URL = "/api/v1/refunds/"


def body(presented: Any, /, **overrides: Any) -> dict[str, Any]:
    data = {
        "form": presented.number,
        "qr": presented.qr_payload,
        "document_number": DOCUMENT,
        "payout_method": "bank_card",
        "payout_account": GOOD_CARD,
    }
    data.update(overrides)
    return data


def counts() -> tuple[int, int, int, int]:
    return (
        Refund.objects.count(),
        RefundAttempt.objects.count(),
        SandboxTransfer.objects.count(),
        LedgerEntry.objects.count(),
    )


def test_post_refund_answers_as_the_spec_says(demo, verified_form, api):
    form = verified_form(line(unit_price="3600.00"))
    response = api(demo.agent).post(URL, body(form), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert {k: data[k] for k in ("form", "refundable_vat", "fee", "net_refund")} == {
        "form": form.number,
        "refundable_vat": "396.00",
        "fee": "72.00",
        "net_refund": "324.00",
    }
    assert (data["payout_method"], data["status"]) == ("bank_card", "paid")
    assert data["payout_account"] == "6222 **** **** 1234"
    assert [c["code"] for c in data["checks"]] == ["A", "B", "C", "D", "E", "F"]
    assert all(c["passed"] and c["detail"] for c in data["checks"])


def test_checks_failed_is_422_with_the_checklist(demo, verified_form, api):
    form = verified_form()
    response = api(demo.agent).post(URL, body(form, document_number="X1234567"), format="json")
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "checks_failed"
    assert [(c["code"], c["passed"]) for c in error["extra"]["checks"]] == [
        ("A", True),
        ("B", False),
        ("C", True),
        ("D", True),
        ("E", True),
        ("F", True),
    ]
    assert not Refund.objects.exists()


def test_cash_over_the_cap_is_422_cash_limit_exceeded(demo, verified_form, api):
    form = verified_form(line(unit_price="250000.00"))
    response = api(demo.agent).post(
        URL, body(form, payout_method="cash", payout_account=""), format="json"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "cash_limit_exceeded"
    assert not Refund.objects.exists()


def test_second_refund_is_409_already_refunded(demo, verified_form, api):
    form = verified_form()
    client = api(demo.agent)
    assert client.post(URL, body(form), format="json").status_code == 201
    response = client.post(URL, body(form, payout_method="cash", payout_account=""), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "already_refunded"


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"form": "3126000000000999"}, 404, "not_found"),
        ({"qr": "NOT-A-QR"}, 400, "invalid_qr"),
        ({"payout_method": "paypal"}, 400, "invalid_payout_method"),
        ({"payout_account": "6222020000031235"}, 400, "invalid_card_number"),
        ({"payout_method": "alipay", "payout_account": "??"}, 400, "invalid_payout_account"),
        ({"document_number": ""}, 400, "invalid"),
        ({"document_type": "id_card"}, 400, "invalid"),
    ],
)
def test_bad_input_is_4xx_in_the_shared_shape_and_writes_nothing(
    demo, verified_form, api, overrides, status, code
):
    form = verified_form()
    before = counts()
    response = api(demo.agent).post(URL, body(form, **overrides), format="json")
    assert response.status_code == status
    error = response.json()
    assert (error["code"], set(error)) == (code, {"code", "message", "extra"})
    assert counts() == before
    form.refresh_from_db()
    assert form.status == "verified"


def test_only_agents_may_pay(demo, verified_form, api):
    form = verified_form()
    assert api(demo.clerk).post(URL, body(form), format="json").status_code == 403
    assert api().post(URL, body(form), format="json").status_code == 401
    assert not Refund.objects.exists()


def test_idempotency_key_replays_the_first_answer(demo, verified_form, api):
    form = verified_form()
    client = api(demo.agent)
    first = client.post(URL, body(form), format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    again = client.post(URL, body(form), format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert (Refund.objects.count(), SandboxTransfer.objects.count()) == (1, 1)
    other_body = client.post(
        URL, body(form, payout_method="cash"), format="json", HTTP_IDEMPOTENCY_KEY="pay-1"
    )
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency_key_reused"


def test_check_endpoint_previews_without_paying(demo, verified_form, api):
    form = verified_form(line(unit_price="250000.00"))
    before = counts()
    response = api(demo.agent).post(
        "/api/v1/refunds/check/",
        {"form": form.number, "qr": form.qr_payload, "document_number": DOCUMENT},
        format="json",
    )
    assert response.status_code == 200
    data = response.json()
    assert data["passed"] is True
    assert (data["net_refund"], data["cash_cap"]) == ("22500.00", "20000.00")
    cash = next(o for o in data["payout_options"] if o["method"] == "cash")
    assert cash["allowed"] is False and "cash cap" in cash["reason"]
    # the agent has the form presented (QR scanned): the full number, to compare
    assert data["traveler"]["document_number_masked"] == "1*****345"
    assert data["traveler"]["document_number"] == DOCUMENT
    assert counts() == before
    assert not IdempotencyRecord.objects.exists()


def test_check_endpoint_without_document_fails_b_only(demo, verified_form, api):
    form = verified_form()
    response = api(demo.agent).post(
        "/api/v1/refunds/check/", {"form": form.number, "qr": form.qr_payload}, format="json"
    )
    assert response.status_code == 200
    assert [c["code"] for c in response.json()["checks"] if not c["passed"]] == ["B"]


def test_agents_see_only_their_own_agencys_refunds(demo, verified_form, api):
    # given a refund paid by DEMO-AGENCY and one paid by another agency at the port it serves
    ours = verified_form()
    other_agency = AgencyFactory(code="OTHER-AG")
    other_port = PortFactory(code="OTH", agency=other_agency)
    theirs = verify(
        make_form(demo.store_sh, demo.clerk, line()),
        demo,
        port=other_port,
        officer=staff_user("officer", other_port),
    )
    other_agent = staff_user("agent", other_agency)
    # an agent pays no form verified at a port its agency does not serve: the 404 of none
    refused = api(other_agent).post(URL, body(ours), format="json")
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    assert api(demo.agent).post(URL, body(ours), format="json").status_code == 201
    response = api(other_agent).post(URL, body(theirs), format="json")
    assert response.status_code == 201
    their_id = response.json()["id"]
    # then each agency lists only its own
    listed = api(demo.agent).get(URL).json()
    assert [r["form"] for r in listed["results"]] == [ours.number]
    assert api(demo.agent).get(f"{URL}{their_id}/").status_code == 404
    assert api(other_agent).get(f"{URL}{their_id}/").json()["form"] == theirs.number
    assert api(demo.agent).get(URL, {"status": "failed"}).json()["count"] == 0


def test_the_refund_reply_is_drfs_own_rendering_of_its_fields(demo, verified_form, api):
    """RefundSerializer writes its fields out by hand (no field building per reply): the
    same JSON as DRF's generic rendering of the declared fields, whatever the state."""
    client = api(demo.agent)
    paid = client.post(URL, body(verified_form(line(unit_price="3600.00"))), format="json")
    cash = client.post(
        URL, body(verified_form(), payout_method="cash", payout_account=""), format="json"
    )
    handed = verified_form(line(unit_price="1234.56"), line(unit_price="99.99", vat_rate="0.09"))
    handed_id = client.post(
        URL, body(handed, payout_method="cash", payout_account=""), format="json"
    ).json()["id"]
    assert client.post(f"{URL}{handed_id}/handover/").status_code == 200
    failed = verified_form()
    assert client.post(URL, body(failed, payout_account=DECLINED_CARD), format="json").status_code
    assert (paid.status_code, cash.status_code) == (201, 201)
    refunds = list(Refund.objects.select_related("form__store", "agency", "agent", "port"))
    assert {r.status for r in refunds} == {"paid", "awaiting_handover", "failed"}
    for refund in refunds:
        serializer = RefundSerializer(refund)
        generic = serializers.ModelSerializer.to_representation(serializer, refund)
        assert serializer.data == generic
        assert json.dumps(serializer.data, cls=JSONEncoder) == json.dumps(generic, cls=JSONEncoder)
    assert paid.json() == RefundSerializer(Refund.objects.get(pk=paid.json()["id"])).data

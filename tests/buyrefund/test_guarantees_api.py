"""Buy & Refund API: POST /api/v1/forms/{number}/prepayment/, form detail sections, command."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from agencies.models import Guarantee, Prepayment, SandboxCardOperation
from core.models import LedgerEntry
from stores.models import RefundForm
from tests.factories import line, make_form, traveler


def br_form(demo: Any) -> RefundForm:
    return make_form(
        demo.store_sh, demo.clerk, line(unit_price="3600.00"), who=traveler(), buy_and_refund=True
    )


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "card_token": "tok_visa",
        "card_holder_name": "MARIE DUPONT",
        "payout_method": "alipay",
        **overrides,
    }


def url(form: RefundForm) -> str:
    return f"/api/v1/forms/{form.number}/prepayment/"


def test_cash_prepayment_awaits_the_clerks_handover(demo: Any, api: Any) -> None:
    # given a cash prepayment whose guarantee is in place
    form = br_form(demo)
    clerk = api(demo.clerk)
    created = clerk.post(
        url(form), body(payout_method="cash"), format="json", HTTP_IDEMPOTENCY_KEY="c1"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["prepayment"]["status"] == "awaiting_handover"
    assert created.json()["prepayment"]["paid_at"] is None
    # then any other request for the form is told the true state, not "hand over now"
    other = clerk.post(
        url(form), body(payout_method="cash"), format="json", HTTP_IDEMPOTENCY_KEY="c2"
    )
    assert other.status_code == 409
    assert (other.json()["code"], other.json()["extra"]["prepayment"]) == (
        "prepayment_exists",
        "awaiting_handover",
    )
    detail = clerk.get(f"/api/v1/forms/{form.number}/").json()
    assert detail["prepayment"]["status"] == "awaiting_handover"
    # when the clerk confirms the handover (twice: a double click)
    handover = f"/api/v1/forms/{form.number}/prepayment/handover/"
    confirmed = clerk.post(handover)
    assert confirmed.status_code == 200, confirmed.json()
    again = clerk.post(handover)
    # then it is paid, recorded with who and when, once
    prepayment = confirmed.json()["prepayment"]
    assert (prepayment["status"], prepayment["handed_over_by"]) == ("paid", "clerk")
    assert prepayment["paid_at"] == prepayment["handed_over_at"]
    assert again.json() == confirmed.json()
    replay = clerk.post(
        url(form), body(payout_method="cash"), format="json", HTTP_IDEMPOTENCY_KEY="c1"
    )
    assert replay.json() == created.json()  # the creating request's own answer, replayed
    actions = list(
        LedgerEntry.objects.filter(action__startswith="prepayment").values_list("action", flat=True)
    )
    assert actions == [
        "prepayment_created",
        "prepayment_awaiting_handover",
        "prepayment_handed_over",
    ]
    # an unknown form is a 404
    assert clerk.post("/api/v1/forms/000/prepayment/handover/").status_code == 404


def test_prepayment_reply_shape(demo: Any, api: Any) -> None:
    form = br_form(demo)
    response = api(demo.clerk).post(url(form), body(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["prepayment"]["amount"] == "324.00"
    assert data["prepayment"]["status"] == "paid"
    guarantee = data["guarantee"]
    assert guarantee["status"] == "authorized"
    assert guarantee["amount"] == "324.00"
    assert guarantee["deadline"] == (form.purchase_date + timedelta(days=28)).isoformat()
    assert guarantee["hold_expires_at"]
    assert guarantee["captured_amount"] == "0.00"


def test_form_detail_shows_prepayment_and_guarantee(demo: Any, api: Any) -> None:
    form = br_form(demo)
    client = api(demo.clerk)
    assert "prepayment" not in client.get(f"/api/v1/forms/{form.number}/").json()
    client.post(url(form), body(payout_method="alipay"), format="json")
    detail = client.get(f"/api/v1/forms/{form.number}/").json()
    assert detail["prepayment"]["status"] == "paid"
    assert detail["prepayment"]["payout_method"] == "alipay"
    assert set(detail["guarantee"]) >= {
        "status",
        "amount",
        "deadline",
        "hold_expires_at",
        "captured_amount",
    }
    assert detail["guarantee"]["status"] == "authorized"


def test_idempotency_key_replays_the_first_answer(demo: Any, api: Any) -> None:
    form = br_form(demo)
    client = api(demo.clerk)
    first = client.post(url(form), body(), format="json", HTTP_IDEMPOTENCY_KEY="pp-1")
    again = client.post(url(form), body(), format="json", HTTP_IDEMPOTENCY_KEY="pp-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    other = client.post(
        url(form), body(payout_method="wechat"), format="json", HTTP_IDEMPOTENCY_KEY="pp-1"
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Prepayment.objects.count() == 1
    assert SandboxCardOperation.objects.count() == 1


def test_second_prepayment_is_409(demo: Any, api: Any) -> None:
    form = br_form(demo)
    client = api(demo.clerk)
    assert client.post(url(form), body(), format="json").status_code == 201
    second = client.post(url(form), body(), format="json")
    assert second.status_code == 409
    assert second.json()["code"] == "prepayment_exists"


def test_declined_card_is_422(demo: Any, api: Any) -> None:
    form = br_form(demo)
    response = api(demo.clerk).post(url(form), body(card_token="tok_declined"), format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "card_declined"
    detail = api(demo.clerk).get(f"/api/v1/forms/{form.number}/").json()
    assert detail["guarantee"]["status"] == "failed"
    assert detail["prepayment"]["status"] == "failed"


def test_not_buy_and_refund_store_is_422(demo: Any, api: Any) -> None:
    plain = make_form(demo.store_sh, demo.clerk, line(), who=traveler(), buy_and_refund=False)
    response = api(demo.clerk).post(url(plain), body(), format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "not_buy_and_refund_store"


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"card_holder_name": "John Smith"}, 422, "card_holder_mismatch"),
        ({"card_token": "4111111111111111"}, 400, "invalid_card_token"),
        ({"payout_method": "gold"}, 400, None),
        ({"card_number": "4111111111111111"}, 400, None),
    ],
)
def test_bad_input_writes_nothing(
    demo: Any, api: Any, overrides: dict[str, Any], status: int, code: str | None
) -> None:
    form = br_form(demo)
    response = api(demo.clerk).post(url(form), body(**overrides), format="json")
    assert response.status_code == status, response.json()
    if code:
        assert response.json()["code"] == code
    assert not Prepayment.objects.exists()


def test_only_the_clerk_of_the_form_store(demo: Any, api: Any) -> None:
    form = br_form(demo)
    assert api(demo.clerk2).post(url(form), body(), format="json").status_code == 404
    assert api(demo.agent).post(url(form), body(), format="json").status_code == 403
    assert api().post(url(form), body(), format="json").status_code == 401


def test_void_blocked_while_prepaid_then_allowed_after_return(demo: Any, api: Any) -> None:
    form = br_form(demo)
    client = api(demo.clerk)
    client.post(url(form), body(), format="json")
    void = client.post(f"/api/v1/forms/{form.number}/void/", {"reason": "return"}, format="json")
    assert void.status_code == 409
    assert void.json()["code"] == "form_not_voidable"
    returned = client.post(f"/api/v1/forms/{form.number}/prepayment/return/", format="json")
    assert returned.status_code == 200
    assert returned.json()["prepayment"]["status"] == "returned"
    assert returned.json()["guarantee"]["status"] == "released"
    void = client.post(f"/api/v1/forms/{form.number}/void/", {"reason": "return"}, format="json")
    assert void.status_code == 200


def test_guarantees_sweep_command_with_today(demo: Any, api: Any) -> None:
    form = br_form(demo)
    api(demo.clerk).post(url(form), body(), format="json")
    guarantee = Guarantee.objects.get()
    out = StringIO()
    call_command("guarantees", "sweep", "--today", guarantee.grace_until.isoformat(), stdout=out)
    assert json.loads(out.getvalue())["captured"] == []
    out = StringIO()
    after = (guarantee.grace_until + timedelta(days=1)).isoformat()
    call_command("guarantees", "sweep", "--today", after, stdout=out)
    assert json.loads(out.getvalue())["captured"] == [guarantee.pk]
    guarantee.refresh_from_db()
    assert guarantee.status == "captured"
    detail = api(demo.clerk).get(f"/api/v1/forms/{form.number}/").json()
    assert detail["guarantee"]["captured_amount"] == "324.00"
    with pytest.raises(CommandError):
        call_command("guarantees", "sweep", "--today", "2026-13-01")


def test_schema_describes_the_prepayment_endpoint(db: Any, client: Any) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = json.loads(response.content)
    operation = schema["paths"]["/api/v1/forms/{number}/prepayment/"]["post"]
    assert {p["name"] for p in operation["parameters"]} >= {"Idempotency-Key", "number"}
    assert {"201", "409", "422", "503"} <= set(operation["responses"])


def test_no_answer_from_the_gateway_is_503_and_the_same_request_completes_it(
    demo: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("buyrefund.services.INLINE_ATTEMPTS", 1)
    form = br_form(demo)
    client = api(demo.clerk)
    send = lambda: client.post(  # noqa: E731
        url(form), body(card_token="tok_flaky"), format="json", HTTP_IDEMPOTENCY_KEY="flaky-1"
    )
    first = send()
    assert first.status_code == 503
    assert first.json()["code"] == "card_gateway_unavailable"
    assert first.json()["extra"]["retryable"] is True
    assert send().status_code == 503
    third = send()
    assert third.status_code == 201
    assert third.json()["prepayment"]["status"] == "paid"
    assert send().json() == third.json()  # now replayed
    assert SandboxCardOperation.objects.get().calls == 3

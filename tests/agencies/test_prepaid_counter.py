"""A Buy & Refund form paid in advance is never paid again at the counter."""

from typing import Any

from agencies.models import Refund
from tests.agencies.conftest import DOCUMENT, verify
from tests.buyrefund.test_guarantees import br_form, pay


def test_counter_refuses_a_prepaid_form_between_verification_and_the_sweep(demo: Any, api: Any):
    # given a Buy & Refund form prepaid at the store and verified by customs (no sweep yet)
    form = br_form(demo)
    pay(demo, form)
    verify(form, demo)
    body = {
        "form": form.number,
        "qr": form.qr_payload,
        "document_number": DOCUMENT,
        "payout_method": "alipay",
        "payout_account": "traveler@example.com",
    }
    client = api(demo.agent)
    # when the agent checks it, check F says it was refunded already
    lookup = {key: body[key] for key in ("form", "qr", "document_number")}
    check = client.post("/api/v1/refunds/check/", lookup, format="json").json()
    f = next(c for c in check["checks"] if c["code"] == "F")
    assert f["passed"] is False and "refunded" in f["detail"]
    # and paying is refused: nothing is paid twice
    reply = client.post("/api/v1/refunds/", body, format="json")
    assert reply.status_code in (409, 422)
    assert reply.json()["code"] in ("already_refunded", "checks_failed")
    assert not Refund.objects.exists()

"""POST /api/v1/travelers/payout-choice/ and the form reply's phone page (SPEC §4)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from agencies.services import refund_pay
from tests.agencies.conftest import GOOD_CARD, verify
from tests.factories import make_invoice
from tests.travelers.conftest import ALIPAY, DOCUMENT, EMAIL, page_of
from travelers.models import PayoutPreChoice, TravelerPage

pytestmark = pytest.mark.django_db


def test_chosen_reply_is_masked_and_no_store(issued: Any, choose: Any) -> None:
    form = issued()
    reply = choose(form, email=EMAIL, lang="ko")
    assert reply.status_code == 201, reply.json()
    assert reply.json() == {
        "form": form.number,
        "payout_method": "alipay",
        "payout_account": "138****8000",
        "status": "chosen",
    }
    assert reply["Cache-Control"] == "no-store"
    assert ALIPAY not in reply.content.decode()
    page = page_of(form)
    assert (page.email, page.language) == (EMAIL, "ko")
    # The QR payload proves possession as well as the typed number.
    assert (
        choose(form.qr_payload, "bank_card", GOOD_CARD)
        .json()["payout_account"]
        .endswith(GOOD_CARD[-4:])
    )


def test_uniform_404_and_the_form_lock(issued: Any, choose: Any) -> None:
    form = issued()
    wrong = choose(form, document="18AB12346")
    missing = choose("1234", document=DOCUMENT)
    empty = choose("", document="")
    assert wrong.status_code == missing.status_code == empty.status_code == 404
    assert wrong.json() == missing.json() == empty.json()
    for _ in range(4):
        choose(form, document="18AB12346")
    locked = choose(form)  # even the right document waits now
    assert (locked.status_code, locked.json()["code"]) == (429, "form_locked")
    assert not PayoutPreChoice.objects.exists()


@pytest.mark.parametrize(
    ("method", "account", "code"),
    [
        ("cash", "", "invalid_payout_method"),
        ("paypal", "x", "invalid_payout_method"),
        ("bank_card", "6222000000000001", "invalid_card_number"),
        ("alipay", "not an account", "invalid_payout_account"),
        ("wechat", "", "invalid_payout_account"),
    ],
)
def test_bad_choices_are_400_and_write_nothing(
    issued: Any, choose: Any, method: str, account: str, code: str
) -> None:
    reply = choose(issued(), method, account)
    assert (reply.status_code, reply.json()["code"]) == (400, code)
    assert not PayoutPreChoice.objects.exists()


def test_bad_email_is_400(issued: Any, choose: Any) -> None:
    reply = choose(issued(), email="not-an-address")
    assert reply.status_code == 400 and "email" in reply.json()["extra"]["fields"]


def test_already_refunded_is_409(issued: Any, choose: Any, demo: Any) -> None:
    form = issued()
    verify(form, demo)
    refund_pay(
        form_number=form.number,
        qr=form.qr_payload,
        document_number=DOCUMENT,
        payout_method="alipay",
        payout_account=ALIPAY,
        agent=demo.agent,
        agency=demo.agency,
    )
    reply = choose(form)
    assert (reply.status_code, reply.json()["code"]) == (409, "already_refunded")


def test_kiosk_lookup_shows_the_choice(issued: Any, choose: Any, api: Any) -> None:
    form = issued()
    body = {"form": form.number, "document_number": DOCUMENT}
    assert api().post("/api/v1/kiosk/lookup/", body, format="json").json()["payout_choice"] is None
    choose(form, "wechat", "wxid_marie01")
    choice = api().post("/api/v1/kiosk/lookup/", body, format="json").json()["payout_choice"]
    assert choice == {
        "payout_method": "wechat",
        "payout_account": "wx******ie01",
        "status": "chosen",
        "failure_code": None,
    }


def test_form_reply_has_the_phone_page_and_takes_email_and_language(demo: Any, api: Any) -> None:
    client = api(demo.clerk)
    body: dict[str, Any] = {
        "traveler": {
            "name": "Marie Dupont",
            "document_type": "passport",
            "document_number": DOCUMENT,
            "nationality": "FR",
            "last_entry_date": (timezone.localdate() - timedelta(days=10)).isoformat(),
            "email": EMAIL,
            "language": "zh-hant",
        },
        "invoice_numbers": [make_invoice(demo.store_sh, demo.clerk).number],
    }
    reply = client.post("/api/v1/forms/", body, format="json")
    assert reply.status_code == 201, reply.json()
    page = TravelerPage.objects.get(form__number=reply.json()["number"])
    assert reply.json()["traveler_page"] == f"/t/{page.token}/"
    assert (page.email, page.language) == (EMAIL, "zh-hant")
    detail = client.get(f"/api/v1/forms/{page.form.number}/").json()
    assert detail["traveler_page"] == page.path
    body["traveler"]["language"] = "xx"
    body["invoice_numbers"] = [make_invoice(demo.store_sh, demo.clerk).number]
    assert client.post("/api/v1/forms/", body, format="json").status_code == 400


def test_a_form_without_a_page_gets_one_lazily(issued: Any, demo: Any, api: Any) -> None:
    form = issued()
    TravelerPage.objects.filter(form=form).delete()  # issued before the app existed
    detail = api(demo.clerk).get(f"/api/v1/forms/{form.number}/").json()
    assert detail["traveler_page"] == page_of(form).path

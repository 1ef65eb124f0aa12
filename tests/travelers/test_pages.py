"""The phone page /t/<token>/: the trip, amounts and why they differ, languages, forms."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from tests.agencies.conftest import verify
from tests.buyrefund.test_guarantees import pay
from tests.factories import line, traveler
from tests.travelers.conftest import ALIPAY, DOCUMENT, EMAIL, page_of
from travelers.models import PayoutPreChoice, TravelerPage
from travelers.tasks import form_verified_task

pytestmark = pytest.mark.django_db


def test_the_page_shows_the_trip_and_nothing_personal(issued: Any, demo: Any) -> None:
    first = issued(line(quantity="2", unit_price="100.00"))
    second = issued(line(unit_price="3600.00"), buy_and_refund=True)
    stranger = issued(who=traveler(document_number="X7654321", name="Other Person"))
    [form_line] = first.lines.all()
    verify(first, demo, quantities={form_line.pk: Decimal("1")})
    pay(demo, second)
    html = Client().get(page_of(first).path).content.decode()
    assert first.number in html and second.number in html and stranger.number not in html
    assert DOCUMENT not in html and "Marie Dupont" not in html and "345" not in html
    assert "Partly verified by customs" in html
    assert "Customs verified only part of the goods" in html
    assert "Card hold in place" in html and "RMB 324.00" in html  # the Buy & Refund hold
    guarantee_deadline = second.guarantees.get().deadline.isoformat()
    assert guarantee_deadline in html


def test_unknown_token_is_404_and_the_reply_is_not_cached(issued: Any) -> None:
    assert Client().get("/t/not-a-token/").status_code == 404
    assert Client().get("/t/" + "x" * 80 + "/").status_code == 404
    reply = Client().get(page_of(issued()).path)
    assert "no-store" in reply["Cache-Control"] or "max-age=0" in reply["Cache-Control"]


@pytest.mark.parametrize(
    ("accept", "query", "expected", "direction"),
    [
        ("ja,en;q=0.5", "", "免税還付", "ltr"),
        ("en", "?lang=ar", "استرداد ضريبتك", "rtl"),
        ("de-DE", "", "Ihre Steuererstattung", "ltr"),
        ("zh-TW,zh;q=0.9", "", "您的退稅", "ltr"),
        ("zh-CN", "", "您的退税", "ltr"),
        ("xx", "", "Your tax refund", "ltr"),
    ],
)
def test_language_from_the_browser_and_switchable(
    issued: Any, accept: str, query: str, expected: str, direction: str
) -> None:
    reply = Client().get(page_of(issued()).path + query, HTTP_ACCEPT_LANGUAGE=accept)
    html = reply.content.decode()
    assert expected in html and f'dir="{direction}"' in html


def test_contact_and_payout_choice_from_the_page(issued: Any, demo: Any) -> None:
    form = issued()
    page = page_of(form)
    client = Client()
    reply = client.post(page.path + "contact/?lang=fr", {"email": EMAIL})
    assert reply.status_code == 302
    page.refresh_from_db()
    assert (page.email, page.language) == (EMAIL, "fr")
    bad = client.post(
        page.path + "payout/?lang=ja",
        {
            "form_number": form.number,
            "document_number": "18AB00000",
            "payout_method": "alipay",
            "payout_account": ALIPAY,
        },
    )
    assert bad.status_code == 404 and "申請書番号と旅券番号が一致しません" in bad.content.decode()
    bad_card = client.post(
        page.path + "payout/?lang=en",  # the page remembers the last language chosen
        {
            "form_number": form.number,
            "document_number": DOCUMENT,
            "payout_method": "bank_card",
            "payout_account": "6222000000000001",
        },
    )
    assert bad_card.status_code == 400 and "valid bank card number" in bad_card.content.decode()
    good = client.post(
        page.path + "payout/",
        {
            "form_number": form.number,
            "document_number": DOCUMENT,
            "payout_method": "alipay",
            "payout_account": ALIPAY,
        },
    )
    assert good.status_code == 302
    assert PayoutPreChoice.objects.get(form=form).payout_account_masked == "138****8000"
    html = client.get(good["Location"]).content.decode()
    assert "138****8000" in html and ALIPAY not in html
    verify(form, demo)
    form_verified_task(form.verification.pk)
    html = client.get(page.path + "?lang=en").content.decode()
    assert "Paid automatically." in html and "RMB 18.00" in html


def test_unsubscribe_link_works(issued: Any) -> None:
    form = issued(email=EMAIL)
    page = page_of(form)
    client = Client()
    assert client.get(page.path + "unsubscribe/").status_code == 200
    page.refresh_from_db()
    assert page.unsubscribed_at is None  # a GET (a mail scanner) changes nothing
    assert client.post(page.path + "unsubscribe/").status_code == 200
    assert TravelerPage.objects.get(pk=page.pk).unsubscribed_at is not None


def test_the_store_page_takes_the_travelers_email_and_language(demo: Any) -> None:
    from tests.stores.test_pages import ISSUE, issue_data

    client = Client()
    client.force_login(demo.clerk)
    reply = client.post(ISSUE, issue_data(email=EMAIL, language="es"))
    assert reply.status_code == 302, reply.content.decode()[:2000]
    page = TravelerPage.objects.get()
    assert (page.email, page.language) == (EMAIL, "es")
    bad = client.post(ISSUE, issue_data(email="nope"))
    assert bad.status_code == 400

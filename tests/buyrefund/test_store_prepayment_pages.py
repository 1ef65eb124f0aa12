"""The store clerk's Buy & Refund prepayment page (/store/forms/<n>/prepayment/), test client."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from agencies.models import Guarantee, Prepayment, SandboxCardOperation
from stores.models import RefundForm
from tests.factories import UserFactory, line, make_form, traveler


def br_form(demo: Any, **kwargs: Any) -> RefundForm:
    return make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="3600.00"),
        who=traveler(),
        buy_and_refund=kwargs.pop("buy_and_refund", True),
        **kwargs,
    )


def page_url(form: RefundForm) -> str:
    return f"/store/forms/{form.number}/prepayment/"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_token(html: str) -> str:
    found = re.search(r'name="page_token" value="([^"]+)"', html)
    assert found, "the page carries a one-time token"
    return found.group(1)


def pay_body(token: str, **overrides: Any) -> dict[str, Any]:
    return {
        "page_token": token,
        "consent": "on",
        "card_holder_name": "MARIE DUPONT",
        "card_token_choice": "tok_visa",
        "card_token": "",
        "payout_method": "cash",
        **overrides,
    }


def open_page(client: Client, form: RefundForm) -> str:
    response = client.get(page_url(form))
    assert response.status_code == 200
    return response.content.decode()


def test_form_page_links_to_the_prepayment_only_for_an_issued_buy_and_refund_form(
    demo: Any,
) -> None:
    client = client_for(demo.clerk)
    form = br_form(demo)
    detail = client.get(f"/store/forms/{form.number}/").content.decode()
    assert f'href="{page_url(form)}"' in detail
    assert "即买即退预付" in detail
    plain = br_form(demo, buy_and_refund=False)
    assert "prepayment-link" not in client.get(f"/store/forms/{plain.number}/").content.decode()


def test_page_shows_form_traveler_amount_and_regional_deadline(demo: Any) -> None:
    form = br_form(demo)
    html = open_page(client_for(demo.clerk), form)
    assert form.number in html
    assert "Marie Dupont" in html
    assert "RMB 324.00" in html
    # Bought today, after 2026-07-01: the nationwide 28 days supersede Shanghai's 17.
    deadline = form.purchase_date + timedelta(days=28)
    assert deadline.isoformat() in html
    assert "tok_visa" in html and "tok_declined" in html


def test_access_clerks_of_the_store_only(demo: Any) -> None:
    form = br_form(demo)
    anonymous = Client().get(page_url(form))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert client_for(demo.officer).get(page_url(form)).status_code == 403
    assert client_for(demo.agent).get(page_url(form)).status_code == 403
    assert client_for(UserFactory()).get(page_url(form)).status_code == 403
    other_store = client_for(demo.clerk2)
    assert other_store.get(page_url(form)).status_code == 404
    assert other_store.post(page_url(form), pay_body("x")).status_code == 404
    assert client_for(demo.clerk).get("/store/forms/000000000000/prepayment/").status_code == 404
    assert not Prepayment.objects.exists()


def test_success_pays_the_prepayment_and_authorizes_the_guarantee(demo: Any) -> None:
    form = br_form(demo)
    client = client_for(demo.clerk)
    token = page_token(open_page(client, form))
    response = client.post(page_url(form), pay_body(token, payout_method="alipay"))
    assert response.status_code == 302 and response["Location"] == page_url(form)
    prepayment = Prepayment.objects.get(form=form)
    assert prepayment.status == "paid" and prepayment.payout_method == "alipay"
    guarantee = Guarantee.objects.get(prepayment=prepayment)
    assert guarantee.status == "authorized"

    html = client.get(page_url(form)).content.decode()
    assert "Prepayment paid and guarantee authorized" in html
    assert 'id="prepayment-status">Paid to the traveler' in html
    assert 'id="guarantee-status">' in html and "Authorized" in html
    assert "RMB 324.00" in html
    assert guarantee.deadline.isoformat() in html
    assert guarantee.hold_expires_at is not None
    # shown in the business time zone (Shanghai)
    assert timezone.localtime(guarantee.hold_expires_at).strftime("%Y-%m-%d") in html
    assert "Alipay · 支付宝" in html
    assert 'id="prepayment-form"' not in html  # no second payment offered


def test_declined_card_shows_a_clear_message_and_nothing_is_paid(demo: Any) -> None:
    form = br_form(demo)
    client = client_for(demo.clerk)
    token = page_token(open_page(client, form))
    response = client.post(page_url(form), pay_body(token, card_token_choice="tok_declined"))
    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-code="card_declined"' in html
    assert "Card declined · 银行卡预授权被拒绝" in html
    assert "another credit card" in html
    assert not Prepayment.objects.filter(form=form, status="paid").exists()
    # Another card on the fresh page works.
    retry = client.post(page_url(form), pay_body(page_token(html), card_token="tok_short_hold"))
    assert retry.status_code == 302
    waiting = Prepayment.objects.get(form=form, status="awaiting_handover")  # cash, not yet given
    assert waiting.guarantee.card_token == "tok_short_hold"


def test_holder_mismatch_is_refused_before_the_card_is_touched(demo: Any) -> None:
    form = br_form(demo)
    client = client_for(demo.clerk)
    token = page_token(open_page(client, form))
    response = client.post(page_url(form), pay_body(token, card_holder_name="John Smith"))
    assert response.status_code == 422
    html = response.content.decode()
    assert "Card holder is not the traveler · 持卡人与旅客姓名不符" in html
    assert "Must match" in html or "own name" in html
    assert not Prepayment.objects.exists()
    assert not SandboxCardOperation.objects.exists()


def test_consent_is_required(demo: Any) -> None:
    form = br_form(demo)
    client = client_for(demo.clerk)
    body = pay_body(page_token(open_page(client, form)))
    del body["consent"]
    response = client.post(page_url(form), body)
    assert response.status_code == 400
    assert "The traveler must sign the consent" in response.content.decode()
    assert not Prepayment.objects.exists()


def test_card_number_instead_of_token_is_refused(demo: Any) -> None:
    form = br_form(demo)
    client = client_for(demo.clerk)
    token = page_token(open_page(client, form))
    response = client.post(page_url(form), pay_body(token, card_token="4111111111111111"))
    assert response.status_code == 400
    assert "Card token not accepted" in response.content.decode()
    assert not Prepayment.objects.exists()


def test_not_buy_and_refund_form_is_refused(demo: Any) -> None:
    form = br_form(demo, buy_and_refund=False)
    client = client_for(demo.clerk)
    html = open_page(client, form)
    assert "This is not a Buy &amp; Refund form" in html
    assert 'id="prepayment-form"' not in html
    token = page_token(client.get(page_url(br_form(demo))).content.decode())
    response = client.post(page_url(form), pay_body(token))
    assert response.status_code == 422
    assert "Not a Buy &amp; Refund form" in response.content.decode()
    assert not Prepayment.objects.filter(form=form).exists()


def test_double_submit_places_one_guarantee(demo: Any) -> None:
    form = br_form(demo)
    client = client_for(demo.clerk)
    token = page_token(open_page(client, form))
    first = client.post(page_url(form), pay_body(token))
    second = client.post(page_url(form), pay_body(token))
    assert first.status_code == second.status_code == 302
    assert Guarantee.objects.filter(form=form).count() == 1
    assert SandboxCardOperation.objects.count() == 1
    html = client.get(page_url(form)).content.decode()
    assert "already submitted" in html


def test_second_page_after_payment_says_already_prepaid(demo: Any) -> None:
    form = br_form(demo)
    client = client_for(demo.clerk)
    stale = page_token(open_page(client, form))  # a second tab opened before paying
    client.post(page_url(form), pay_body(page_token(open_page(client, form))))
    response = client.post(page_url(form), pay_body(stale, payout_method="wechat"))
    assert response.status_code == 409
    assert "Already prepaid · 该申请单已预付" in response.content.decode()
    assert Guarantee.objects.filter(form=form).count() == 1


def test_prepayment_returned_releases_the_guarantee_after_confirmation(demo: Any) -> None:
    form = br_form(demo)
    client = client_for(demo.clerk)
    client.post(page_url(form), pay_body(page_token(open_page(client, form))))
    status_html = client.get(page_url(form)).content.decode()
    assert 'id="return-link"' in status_html
    confirm = client.get(page_url(form) + "return/").content.decode()
    assert "Prepayment returned · 确认已退回" in confirm
    assert Prepayment.objects.get(form=form).status == "awaiting_handover"  # GET changes nothing
    token = page_token(confirm)
    response = client.post(page_url(form) + "return/", {"page_token": token})
    assert response.status_code == 302
    prepayment = Prepayment.objects.get(form=form)
    assert prepayment.status == "returned"
    assert prepayment.guarantee.status == "released"
    html = client.get(page_url(form)).content.decode()
    assert "Prepayment returned; the card guarantee is released" in html
    assert 'id="void-link"' in html and 'id="return-link"' not in html
    again = client.post(page_url(form) + "return/", {"page_token": token})
    assert again.status_code == 302
    assert Prepayment.objects.get(form=form).status == "returned"


def test_cash_prepayment_is_handed_over_with_one_click(demo: Any) -> None:
    # given the clerk paid a cash prepayment: the guarantee is in place
    form = br_form(demo)
    client = client_for(demo.clerk)
    paid = client.post(page_url(form), pay_body(page_token(open_page(client, form))), follow=True)
    page = paid.content.decode()
    # then this request, and it alone, says to hand the cash over now
    assert "Hand over RMB 324.00 in cash now" in page
    assert 'id="confirm-handover"' in page
    other_terminal = client_for(demo.clerk)
    seen = other_terminal.get(page_url(form)).content.decode()
    assert "Hand over RMB" not in seen and "awaiting handover" in seen
    detail = other_terminal.get(f"/store/forms/{form.number}/").content.decode()
    assert 'id="form-prepayment"' in detail and "Awaiting handover" in detail
    # when the clerk confirms (a double click posts twice)
    client.post(page_url(form) + "handover/")
    again = client.post(page_url(form) + "handover/", follow=True)
    # then it is paid once, recorded with who and when
    prepayment = Prepayment.objects.get(form=form)
    assert (prepayment.status, prepayment.handed_over_by) == ("paid", demo.clerk)
    assert prepayment.paid_at == prepayment.handed_over_at
    assert 'id="pp-handed-over"' in again.content.decode()
    assert 'id="confirm-handover"' not in again.content.decode()

"""The agency portal through its URLs: who may see it, and the counter's errors and refusals."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.models import Refund, RefundAttempt, RefundStatus
from core.models import LedgerEntry
from core.signing import make_form_qr
from stores.models import FormStatus
from tests.agencies.conftest import DECLINED_CARD, DOCUMENT, GOOD_CARD, UNAVAILABLE_ONCE_CARD
from tests.factories import AgencyFactory, line, make_form, staff_user

PAGES = [
    "/agency/",
    "/agency/refunds/",
    "/agency/settlement/",
    "/agency/settlement/2026-01.csv",
    "/agency/settlement/2026-01.xlsx",
]


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response: Any) -> str:
    """The page as a person reads it: tags stripped, whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def scan(client: Client, qr: str) -> Any:
    return client.post("/agency/", {"qr": qr})


def start_visit(client: Client, form: Any, document: str = DOCUMENT, doc_type: str = "passport"):
    """Scan the form and enter the document; returns the visit URL."""
    response = scan(client, form.qr_payload)
    assert response.status_code == 302, text(response)
    url = response["Location"]
    response = client.post(url, {"document_type": doc_type, "document_number": document})
    assert response.status_code == 302
    return url


@pytest.mark.parametrize("role", ["clerk", "officer", "admin"])
def test_non_agents_get_403_on_every_page(demo, role):
    client = client_for(getattr(demo, role))
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Agency staff only" in text(response)


def test_anonymous_users_are_sent_to_login(db):
    for url in PAGES:
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_scanning_garbage_says_it_is_not_a_form_qr(demo):
    response = scan(client_for(demo.agent), "HELLO-WORLD")
    assert response.status_code == 422
    assert "The scanned code is not a refund form QR." in text(response)


def test_scanning_an_unknown_form_says_so(demo):
    qr = make_form_qr("3126010100009999", "ab" * 32)  # signed, well formed, never issued
    response = scan(client_for(demo.agent), qr)
    assert response.status_code == 422
    assert "No refund form 3126010100009999 is on record for your agency." in text(response)


def test_summary_then_all_checks_pass_and_payout_is_offered(demo, verified_form):
    form = verified_form(line(unit_price="3600.00"))
    client = client_for(demo.agent)
    response = scan(client, form.qr_payload)
    summary = client.get(response["Location"])
    page = text(summary)
    assert "Marie Dupont" in page
    # Presented at this counter (QR scanned): the full number, to compare with the passport.
    assert DOCUMENT in page and "FR France" in page
    assert "Net refund 实退金额 RMB 324.00" in page
    assert "退税审核" not in page  # no checklist before the document is entered

    url = start_visit(client, form)
    page = text(client.get(url))
    assert "All six checks passed." in page
    for code in "ABCDEF":
        assert f"{code} " in page
    assert page.count("Passed 通过") == 6
    assert "Pay RMB 324.00" in page


def test_wrong_document_fails_check_b_and_offers_no_payout(demo, verified_form):
    form = verified_form()
    client = client_for(demo.agent)
    url = start_visit(client, form, document="X9999999")
    page = text(client.get(url))
    assert "Do not pay: check B failed." in page
    assert "The presented document does not match the form (number)." in page
    assert "Pay RMB" not in page


def test_unverified_form_fails_check_c(demo):
    form = make_form(demo.store_sh, demo.clerk)
    client = client_for(demo.agent)
    url = start_visit(client, form)
    page = text(client.get(url))
    assert "Not verified by customs yet" in page
    assert "Customs has not verified this form." in page
    assert "Do not pay: check C, D, E failed." in page
    # A forged pay post is refused by the service and recorded, nothing paid.
    response = client.post(url + "pay/", {"payout_method": "cash"})
    assert response.status_code == 422
    assert "checks_failed" in text(response)
    assert not Refund.objects.exists()
    assert RefundAttempt.objects.filter(code="checks_failed").count() == 1


def test_cash_is_disabled_above_the_cap_with_the_reason(demo, verified_form):
    # 250,000 at 13%: net 22,500.00 is over the 20,000 cash cap in force.
    form = verified_form(line(unit_price="250000.00"))
    client = client_for(demo.agent)
    url = start_visit(client, form)
    html = client.get(url).content.decode()
    cash = re.search(r'<input type="radio" name="payout_method" value="cash"[^>]*>', html)
    assert cash is not None and "disabled" in cash.group(0)
    assert "The net refund RMB 22500.00 is over the cash cap RMB 20000.00: transfer only." in html
    alipay = re.search(r'<input type="radio" name="payout_method" value="alipay"[^>]*>', html)
    assert alipay is not None and "disabled" not in alipay.group(0)
    # Posting cash anyway is refused, nothing paid.
    response = client.post(url + "pay/", {"payout_method": "cash"})
    assert response.status_code == 422
    assert "cash_limit_exceeded" in text(response)
    assert not Refund.objects.exists()


def test_mailbox_form_is_transfer_only(demo, verified_form):
    form = verified_form(channel="mailbox")
    client = client_for(demo.agent)
    url = start_visit(client, form)
    assert "Mailbox forms are paid by transfer only." in text(client.get(url))


def test_invalid_card_number_is_shown_on_the_field_and_nothing_is_written(demo, verified_form):
    form = verified_form()
    client = client_for(demo.agent)
    url = start_visit(client, form)
    response = client.post(
        url + "pay/", {"payout_method": "bank_card", "card_number": "6222020000001235"}
    )
    assert response.status_code == 422
    assert "Enter a valid bank card number." in text(response)
    assert not Refund.objects.exists()
    # A transfer without an account is caught before the service.
    response = client.post(url + "pay/", {"payout_method": "alipay"})
    assert "Enter the account the refund is paid to." in text(response)


def test_pay_twice_with_the_same_page_pays_once_and_lands_on_the_same_refund(demo, verified_form):
    form = verified_form(line(unit_price="3600.00"))
    client = client_for(demo.agent)
    url = start_visit(client, form)
    data = {"payout_method": "bank_card", "card_number": GOOD_CARD}
    first = client.post(url + "pay/", data)
    second = client.post(url + "pay/", data)  # double click / resubmitted reload
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.PAID
    assert refund.net_refund == Decimal("324.00")
    form.refresh_from_db()
    assert form.status == FormStatus.REFUNDED
    page = text(client.get(first["Location"]))
    assert "Paid RMB 324.00" in page
    assert "Print receipt" in page
    assert refund.payout_account_masked in page
    # The visit page now goes straight to the refund.
    assert client.get(url)["Location"] == first["Location"]

    receipt = client.get(f"/agency/refunds/{refund.pk}/receipt.pdf")
    assert receipt.status_code == 200
    assert receipt["Content-Type"] == "application/pdf"
    assert receipt.content.startswith(b"%PDF")

    # A new scan of the same form: check F fails, no payout offered.
    again = start_visit(client, form)
    page = text(client.get(again))
    assert "the form was already refunded" in page
    assert "Pay RMB" not in page
    assert "This form already has a refund at your agency" in page


def test_another_agency_sees_neither_the_refund_nor_its_receipt(demo, verified_form):
    form = verified_form()
    client = client_for(demo.agent)
    url = start_visit(client, form)
    paid = client.post(url + "pay/", {"payout_method": "cash"}, follow=True)
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.AWAITING_HANDOVER
    # the paying request, and it alone, is told to hand the cash over; one click confirms
    assert "Hand over RMB 18.00 in cash now" in text(paid)
    page = text(client.get(f"/agency/refunds/{refund.pk}/"))
    assert "awaiting handover" in page and "Hand over RMB" not in page
    client.post(f"/agency/refunds/{refund.pk}/handover/")
    refund.refresh_from_db()
    assert (refund.status, refund.handed_over_by) == (RefundStatus.PAID, demo.agent)

    mine = text(client.get("/agency/refunds/"))
    assert form.number in mine
    other = client_for(staff_user("agent", AgencyFactory(), username="other-agent"))
    theirs = other.get("/agency/refunds/")
    assert theirs.status_code == 200
    assert form.number not in text(theirs)
    assert other.get(f"/agency/refunds/{refund.pk}/").status_code == 404
    assert other.get(f"/agency/refunds/{refund.pk}/receipt.pdf").status_code == 404


def test_expired_counter_session_asks_to_scan_again(demo):
    client = client_for(demo.agent)
    response = client.get("/agency/counter/not-a-token/", follow=True)
    assert "This counter session has expired. Scan the form again." in text(response)


def test_settlement_page_chart_tables_and_downloads(demo, verified_form):
    form = verified_form(line(unit_price="3600.00"))
    client = client_for(demo.agent)
    url = start_visit(client, form)
    client.post(url + "pay/", {"payout_method": "alipay", "alipay_account": "13800138000"})
    refund = Refund.objects.get()
    # the month in the business time zone (Shanghai), as the settlement counts it
    period = f"{timezone.localtime(refund.paid_at):%Y-%m}"

    page = client.get(f"/agency/settlement/?month={period}")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="bar"') == 1
    assert 'data-net="324.00"' in html
    words = text(page)
    assert "Refunds paid 笔数 1" in words
    assert "Alipay" in words and "DEMO-SH-001" in words and "FR" in words and "PVG" in words

    csv = client.get(f"/agency/settlement/{period}.csv")
    assert csv["Content-Type"].startswith("text/csv")
    assert "324.00" in csv.content.decode("utf-8-sig")
    xlsx = client.get(f"/agency/settlement/{period}.xlsx")
    assert xlsx["Content-Type"].endswith("spreadsheetml.sheet")
    assert xlsx.content.startswith(b"PK")
    assert client.get("/agency/settlement/2026-13.csv").status_code == 404


def test_declined_transfer_is_shown_and_can_be_paid_to_another_account(demo, verified_form):
    form = verified_form()
    client = client_for(demo.agent)
    url = start_visit(client, form)
    response = client.post(
        url + "pay/", {"payout_method": "bank_card", "card_number": DECLINED_CARD}
    )
    assert response.status_code == 422
    assert "Not paid: The transfer was declined" in text(response)
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.FAILED
    detail = text(client.get(f"/agency/refunds/{refund.pk}/"))
    assert "The transfer did not go through." in detail
    assert "Print receipt" not in detail
    assert client.get(f"/agency/refunds/{refund.pk}/receipt.pdf").status_code == 404

    # Same page, another card: the failed refund is re-opened and paid, still one refund.
    response = client.post(url + "pay/", {"payout_method": "bank_card", "card_number": GOOD_CARD})
    assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PAID
    assert Refund.objects.count() == 1


def test_unanswered_transfer_is_resent_from_the_refund_page(demo, verified_form):
    form = verified_form()
    client = client_for(demo.agent)
    url = start_visit(client, form)
    response = client.post(
        url + "pay/", {"payout_method": "bank_card", "card_number": UNAVAILABLE_ONCE_CARD}
    )
    assert "payout_unavailable" in text(response)
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.FAILED
    assert "Re-send transfer" in text(client.get(f"/agency/refunds/{refund.pk}/"))

    page = client.post(f"/agency/refunds/{refund.pk}/resend/", follow=True)
    assert "the transfer went through" in text(page)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PAID


def test_counter_pages_make_the_same_queries_for_1_or_12_lines(demo, verified_form):
    counts = []
    for n in (1, 12):
        form = verified_form(*[line(item=f"item {i}", unit_price="300.00") for i in range(n)])
        client = client_for(demo.agent)
        url = start_visit(client, form)
        with CaptureQueriesContext(connection) as visit_queries:
            client.get(url)
        with CaptureQueriesContext(connection) as pay_queries:
            paid = client.post(
                url + "pay/", {"payout_method": "bank_card", "card_number": GOOD_CARD}
            )
        with CaptureQueriesContext(connection) as receipt_queries:
            client.get(paid["Location"] + "receipt.pdf")
        counts.append((len(visit_queries), len(pay_queries), len(receipt_queries)))
    assert counts[0] == counts[1]


def test_damaged_qr_typed_number_with_document_pays_as_a_manual_entry(demo, verified_form):
    # given a verified form whose QR cannot be read
    form = verified_form(line(unit_price="3600.00"))
    client = client_for(demo.agent)
    # a typed number alone is not enough, and a wrong document finds nothing
    alone = client.post("/agency/", {"qr": form.number})
    assert alone.status_code == 422
    assert "needs the full document number" in text(alone)
    wrong = client.post("/agency/", {"qr": form.number, "document_number": "X9999999"})
    assert wrong.status_code == 422
    assert f"No refund form {form.number} is on record for your agency" in text(wrong)
    assert DOCUMENT not in text(wrong)
    # when: the number printed under the QR and the passport in hand
    response = client.post("/agency/", {"qr": form.number, "document_number": DOCUMENT})
    assert response.status_code == 302
    page = text(client.get(response["Location"]))
    # then: the checks run on the record (F passes), the full number is shown to compare
    assert "Typed (damaged QR)" in page
    assert DOCUMENT in page and "FR France" in page
    assert "All six checks passed." in page
    paid = client.post(response["Location"] + "pay/", {"payout_method": "cash"})
    assert paid.status_code == 302
    refund = Refund.objects.get(form=form)
    entry = LedgerEntry.objects.get(
        record_type="agencies.refund", record_id=str(refund.pk), action="refund_created"
    )
    assert entry.payload["entry"] == "typed" and entry.payload["manual"] is True


def test_another_agencys_counter_cannot_scan_a_form_verified_at_pvg(demo, verified_form):
    form = verified_form()
    response = client_for(demo.agent2).post("/agency/", {"qr": form.qr_payload})
    assert response.status_code == 422
    assert "No refund form" in text(response) and "Marie Dupont" not in text(response)

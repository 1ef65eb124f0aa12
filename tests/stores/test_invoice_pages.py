"""The store's invoices: list and search, the printable invoice, several invoices on one form."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stores.models import RefundForm, VatInvoice
from stores.services import business_today, refund_form_void
from tests.factories import line, make_form, make_invoice
from tests.stores.test_pages import ISSUE, issue_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk_client(client, demo):
    client.force_login(demo.clerk)
    return client


def test_list_shows_own_store_blue_and_red_invoices_only(clerk_client, demo):
    # Given a blue invoice, a voided form's blue + red pair, and an invoice of another store
    free = make_invoice(demo.store_sh, demo.clerk, line("手表 Watch", "1", "10527.00"))
    voided = make_form(demo.store_sh, demo.clerk)
    (red,) = refund_form_void(form=voided, clerk=demo.clerk, reason="goods returned")
    elsewhere = make_invoice(demo.store_bj, demo.clerk2)

    page = clerk_client.get("/store/invoices/").content.decode()

    assert free.number in page and "10,527.00" in page
    assert red.number in page and "Red-ink · 红字" in page
    assert elsewhere.number not in page


def test_search_by_number_buyer_date_and_kind(clerk_client, demo):
    old_day = business_today() - timedelta(days=3)
    marie = make_invoice(demo.store_sh, demo.clerk, buyer_name="Marie Dupont", issued_on=old_day)
    john = make_invoice(demo.store_sh, demo.clerk, buyer_name="John Smith")
    voided = make_form(demo.store_sh, demo.clerk)
    (red,) = refund_form_void(form=voided, clerk=demo.clerk, reason="return")

    def found(**params: str) -> set[str]:
        page = clerk_client.get("/store/invoices/", params).content.decode()
        return {n for n in (marie.number, john.number, red.number) if n in page}

    assert found(q=john.number[-6:]) == {john.number}
    assert found(q="smith") == {john.number}
    assert found(on=old_day.isoformat()) == {marie.number}
    assert found(kind="red") == {red.number}
    assert red.number not in found(unused="on")


def test_bad_search_is_a_400_that_says_why(clerk_client):
    response = clerk_client.get("/store/invoices/", {"on": "2026-13-45", "kind": "purple"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Enter a date as YYYY-MM-DD · 请按 年-月-日 输入日期" in page
    assert "Choose one of the options · 请从选项中选择" in page


def test_invoice_detail_is_printable_with_lines_and_words(clerk_client, demo):
    invoice = make_invoice(
        demo.store_sh, demo.clerk, line("茶叶 Tea", "3", "3509.00", "0.09", unit="千克")
    )
    response = clerk_client.get(f"/store/invoices/{invoice.number}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "10,527.00" in page and "千克" in page
    assert "壹万零伍佰贰拾柒圆整" in page
    assert "data-print" in page and "onclick" not in page


def test_other_stores_invoice_is_404(clerk_client, demo):
    elsewhere = make_invoice(demo.store_bj, demo.clerk2)
    assert clerk_client.get(f"/store/invoices/{elsewhere.number}/").status_code == 404
    assert clerk_client.get("/store/invoices/00000000000000000000/").status_code == 404


def test_non_clerks_are_refused(client, demo):
    assert client.get("/store/invoices/").status_code == 302
    client.force_login(demo.agent)
    assert client.get("/store/invoices/").status_code == 403


def test_issue_page_offers_unused_invoices_and_issues_with_several(clerk_client, demo):
    first = make_invoice(demo.store_sh, demo.clerk, line(unit_price="150.00"))
    second = make_invoice(demo.store_sh, demo.clerk, line(unit_price="120.00"))
    used = make_form(demo.store_sh, demo.clerk).invoices.get()
    elsewhere = make_invoice(demo.store_bj, demo.clerk2)

    page = clerk_client.get(ISSUE).content.decode()
    assert first.number in page and second.number in page
    assert used.number not in page and elsewhere.number not in page

    # Ticking both (150 + 120 = 270 passes the 200 minimum only together)
    data = issue_data(lines=[], invoice_choices=[first.number, second.number])
    response = clerk_client.post(ISSUE, data)

    assert response.status_code == 302
    form = RefundForm.objects.exclude(invoices__number=used.number).get()
    assert set(form.invoices.values_list("number", flat=True)) == {first.number, second.number}


def test_ticking_an_invoice_that_is_no_longer_free_is_refused(clerk_client, demo):
    other = make_invoice(demo.store_bj, demo.clerk2)
    data = issue_data(lines=[], invoice_choices=[other.number])
    response = clerk_client.post(ISSUE, data)
    assert response.status_code == 400
    assert "is no longer free" in response.content.decode()
    assert VatInvoice.objects.get(number=other.number).form_id is None

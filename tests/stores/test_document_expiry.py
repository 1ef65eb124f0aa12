"""SPEC §2 Valid document: the expiry is recorded; an expired document gets no form, no refund."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from agencies.services import refund_check
from core.money import ZERO
from stores.models import RefundForm, Traveler
from stores.services import business_today
from tests.factories import line, make_form, make_invoice, traveler
from tests.stores.helpers import FORMS, assert_error, form_body, snapshot, traveler_body
from tests.stores.test_pages import ISSUE, issue_data, passport_mrz

pytestmark = pytest.mark.django_db


# --- The API -------------------------------------------------------------------------


def test_api_refuses_a_document_expired_on_the_purchase_date(demo: Any, api: Any) -> None:
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="3600.00"))
    yesterday = business_today() - timedelta(days=1)
    before = snapshot()

    response = api(demo.clerk).post(
        FORMS,
        form_body([invoice.number], traveler=traveler_body(document_expires_on=str(yesterday))),
        format="json",
    )

    data = assert_error(response, 422, "document_expired")
    assert data["extra"]["document_expires_on"] == yesterday.isoformat()
    assert data["extra"]["purchase_date"] == business_today().isoformat()
    assert snapshot() == before  # nothing written, the invoice still free


def test_api_records_the_expiry_and_accepts_a_document_valid_on_the_purchase_date(
    demo: Any, api: Any
) -> None:
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="3600.00"))
    today = business_today()

    response = api(demo.clerk).post(
        FORMS,
        form_body([invoice.number], traveler=traveler_body(document_expires_on=str(today))),
        format="json",
    )

    assert response.status_code == 201, response.json()
    form = RefundForm.objects.get(number=response.json()["number"])
    assert form.document_expires_on == today
    assert Traveler.objects.get().document_expires_on == today
    detail = api(demo.clerk).get(f"{FORMS}{form.number}/").json()
    assert detail["traveler"]["document_expires_on"] == today.isoformat()


def test_api_without_the_expiry_issues_and_keeps_an_expiry_recorded_earlier(
    demo: Any, api: Any
) -> None:
    # A POS that does not send it: unknown, not refused (the store page requires it).
    first = make_invoice(demo.store_sh, demo.clerk, line(unit_price="3600.00"))
    response = api(demo.clerk).post(FORMS, form_body([first.number]), format="json")
    assert response.status_code == 201, response.json()
    assert RefundForm.objects.get(number=response.json()["number"]).document_expires_on is None

    # the same document presented earlier with an expiry that has passed since: refused
    Traveler.objects.update(document_expires_on=business_today() - timedelta(days=3))
    second = make_invoice(demo.store_sh, demo.clerk, line(unit_price="3600.00"))
    response = api(demo.clerk).post(FORMS, form_body([second.number]), format="json")
    assert_error(response, 422, "document_expired")


def test_api_refuses_a_malformed_expiry(demo: Any, api: Any) -> None:
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="3600.00"))
    response = api(demo.clerk).post(
        FORMS,
        form_body([invoice.number], traveler=traveler_body(document_expires_on="2031-02-30")),
        format="json",
    )
    data = assert_error(response, 400, "invalid")
    assert "document_expires_on" in str(data["extra"])


# --- The store page ------------------------------------------------------------------------


@pytest.fixture
def clerk_client(client: Any, demo: Any) -> Any:
    client.force_login(demo.clerk)
    return client


def test_page_requires_the_expiry(clerk_client: Any) -> None:
    response = clerk_client.post(ISSUE, issue_data(document_expires_on=""))
    assert response.status_code == 400
    assert "Enter the document&#x27;s expiry date" in response.content.decode()
    assert RefundForm.objects.count() == 0


def test_page_refuses_an_expired_document_and_says_why(clerk_client: Any) -> None:
    expired = (business_today() - timedelta(days=1)).isoformat()
    response = clerk_client.post(ISSUE, issue_data(document_expires_on=expired))
    page = response.content.decode()
    assert response.status_code == 422
    assert "Document expired · 证件已过期" in page
    assert f"The document expired on {expired}" in page
    assert RefundForm.objects.count() == 0


def test_page_takes_the_expiry_from_the_mrz(clerk_client: Any) -> None:
    # The MRZ carries 2035-01-01; the clerk typed no expiry.
    response = clerk_client.post(
        ISSUE,
        issue_data(
            mrz=passport_mrz(), name="", document_number="", document_expires_on="", token="t-m"
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    form = RefundForm.objects.get()
    assert str(form.document_expires_on) == "2035-01-01"


def test_live_estimate_flags_an_expired_document(clerk_client: Any) -> None:
    expired = (business_today() - timedelta(days=400)).isoformat()
    data = clerk_client.post(
        "/store/forms/estimate/", issue_data(document_expires_on=expired)
    ).json()
    assert data["eligible"] is False
    assert [m["code"] for m in data["messages"] if m["level"] == "error"] == ["document_expired"]


# --- Check B at the counter ------------------------------------------------------------------


def test_check_b_fails_when_the_document_expired_before_the_refund_day(demo: Any) -> None:
    from tests.agencies.conftest import verify

    today = business_today()
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="3600.00"),
        who=traveler(document_expires_on=today),
    )
    verify(form, demo)

    on_the_day = refund_check(
        form_number=form.number,
        qr=form.qr_payload,
        document_number="18AB12345",
        agency=demo.agency,
        today=today,
    )
    next_day = refund_check(
        form_number=form.number,
        qr=form.qr_payload,
        document_number="18AB12345",
        agency=demo.agency,
        today=today + timedelta(days=1),
    )

    assert on_the_day.passed
    b = next(c for c in next_day.checks if c.code == "B")
    assert not b.passed and f"expired on {today.isoformat()}" in b.detail
    assert not next_day.passed
    assert next_day.net_refund > ZERO  # the amounts are still shown; payment is refused

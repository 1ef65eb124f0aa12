"""The agency counter in Chromium: scan, document, checks A-F, pay, receipt; settlement chart."""

from __future__ import annotations

import re

import pytest

from tests.agencies.conftest import DOCUMENT
from tests.browser import login, screenshot
from tests.factories import line


def scan_like_a_wedge_scanner(page, payload: str) -> None:
    """A keyboard-wedge scanner types the payload into the focused field, then Enter."""
    field = page.locator("#id_qr")
    assert field.evaluate("el => el === document.activeElement")  # ready for the scanner
    field.press_sequentially(payload)
    field.press("Enter")
    page.wait_for_load_state("networkidle")


@pytest.mark.browser
def test_agent_scans_checks_pays_by_alipay_and_prints_the_receipt(demo, verified_form, page):
    form = verified_form(line(item="手提包 Handbag", unit_price="3600.00"))
    login(page, "agent")
    assert page.url.endswith("/agency/")
    screenshot(page, "agency-counter-scan")

    scan_like_a_wedge_scanner(page, form.qr_payload)
    assert "/agency/counter/" in page.url
    assert page.locator(".traveler-name").inner_text() == "Marie Dupont"
    assert page.locator("#net-refund").inner_text() == "RMB 324.00"
    screenshot(page, "agency-counter-summary")

    document = page.locator("#id_document_number")
    assert document.evaluate("el => el === document.activeElement")
    document.press_sequentially(DOCUMENT)
    document.press("Enter")
    page.wait_for_load_state("networkidle")
    checks = page.locator("li.check")
    assert checks.count() == 6
    assert page.locator("li.check.passed").count() == 6
    assert [c.get_attribute("data-code") for c in checks.all()] == list("ABCDEF")
    assert page.get_by_role("status").filter(has_text="All six checks passed").is_visible()

    page.check("input[name=payout_method][value=alipay]")
    assert page.locator("#id_alipay_account").is_visible()
    assert not page.locator("#id_card_number").is_visible()
    page.fill("#id_alipay_account", "marie.dupont@example.com")
    screenshot(page, "agency-counter-checks-payout")

    page.click("#pay-button")
    page.wait_for_url(re.compile(r"/agency/refunds/\d+/$"))
    assert page.locator("#refund-status").inner_text() == "Paid"
    banner = page.locator(".paid-banner")
    assert "Paid RMB 324.00" in banner.inner_text()
    assert "m***@example.com" in banner.inner_text()
    screenshot(page, "agency-refund-paid")

    href = page.locator("#receipt-link").get_attribute("href")
    receipt = page.request.get(page.base_url + href)
    assert receipt.status == 200
    assert receipt.headers["content-type"] == "application/pdf"
    assert receipt.body().startswith(b"%PDF")

    # Going back and pressing Pay again lands on the same refund, nothing paid twice.
    page.go_back()
    page.wait_for_load_state("networkidle")
    if page.locator("#pay-button").count():
        page.click("#pay-button")
        page.wait_for_url(re.compile(r"/agency/refunds/\d+/$"))
    assert "Paid RMB 324.00" in page.locator(".paid-banner").inner_text()
    from agencies.models import Refund

    assert Refund.objects.count() == 1

    page.goto(page.base_url + "/agency/refunds/")
    assert page.locator("table.refunds tbody tr").count() == 1
    screenshot(page, "agency-refund-list")

    page.goto(page.base_url + "/agency/settlement/")
    chart = page.locator("svg.chart")
    assert chart.is_visible()
    assert chart.locator("rect.bar").count() == 1
    assert chart.locator("rect.bar").get_attribute("data-net") == "324.00"
    assert page.locator("#kpi-count").inner_text() == "1"
    screenshot(page, "agency-settlement")


@pytest.mark.browser
def test_counter_refusals_are_shown(demo, verified_form, page):
    big = verified_form(line(item="腕表 Watch", unit_price="250000.00"))
    login(page, "agent")

    scan_like_a_wedge_scanner(page, "NOT-A-FORM-QR")
    assert page.locator("#qr-error").inner_text() == "The scanned code is not a refund form QR."
    screenshot(page, "agency-counter-scan-error")

    # The refused code is selected: the next scan replaces it.
    scan_like_a_wedge_scanner(page, big.qr_payload)
    page.fill("#id_document_number", "WRONG123")
    page.press("#id_document_number", "Enter")
    page.wait_for_load_state("networkidle")
    failed = page.locator("li.check.failed")
    assert [c.get_attribute("data-code") for c in failed.all()] == ["B"]
    assert page.locator("#pay-form").count() == 0
    screenshot(page, "agency-counter-check-failed")

    page.locator("details summary").click()
    page.fill("details #id_document_number", DOCUMENT)
    page.press("details #id_document_number", "Enter")
    page.wait_for_load_state("networkidle")
    cash = page.locator("input[name=payout_method][value=cash]")
    assert cash.is_disabled()
    assert "over the cash cap RMB 20000.00" in page.locator("#why-cash").inner_text()
    screenshot(page, "agency-counter-cash-disabled")


@pytest.mark.browser
def test_a_clerk_is_refused_the_agency_portal(demo, page):
    login(page, "clerk")
    response = page.goto(page.base_url + "/agency/")
    assert response is not None and response.status == 403
    assert page.get_by_role("alert").filter(has_text="Agency staff only").is_visible()
    screenshot(page, "agency-forbidden")


@pytest.mark.browser
def test_damaged_qr_agent_types_number_and_passport_sees_full_number_and_pays(
    demo, verified_form, page
):
    form = verified_form(line(item="手提包 Handbag", unit_price="3600.00"))
    login(page, "agent")
    page.fill("#id_qr", form.number)
    page.locator("details.typed-path summary").click()
    page.fill("#id_document_number", DOCUMENT)
    screenshot(page, "agency-counter-typed-path")
    page.locator("#id_document_number").press("Enter")
    page.wait_for_load_state("networkidle")
    assert "/agency/counter/" in page.url
    assert page.locator("#document-full").inner_text() == DOCUMENT
    assert page.locator("#nationality").inner_text() == "FR France"
    assert "Typed (damaged QR)" in page.locator("#manual-entry").inner_text()
    assert page.locator("li.check.passed").count() == 6
    screenshot(page, "agency-counter-full-document")
    page.check("input[name=payout_method][value=cash]")
    page.click("#pay-button")
    page.wait_for_url(re.compile(r"/agency/refunds/\d+/$"))
    screenshot(page, "agency-refund-typed-paid")

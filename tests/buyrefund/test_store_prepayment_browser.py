"""The Buy & Refund prepayment at the store counter, in Chromium: form page → prepay → success."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from agencies.models import Guarantee
from tests.browser import login, screenshot
from tests.factories import line, make_form, traveler


@pytest.mark.browser
def test_clerk_pays_a_buy_and_refund_prepayment(demo, page):
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(item="手提包 Handbag", unit_price="3600.00"),
        who=traveler(),
        buy_and_refund=True,
    )
    login(page, "clerk")
    page.goto(page.base_url + f"/store/forms/{form.number}/")
    screenshot(page, "stores-form-prepayment-link", full_page=False)
    page.get_by_role("link", name="Buy & Refund prepayment · 即买即退预付").click()
    expect(page.locator("h1")).to_contain_text("Buy & Refund prepayment")
    expect(page.locator("#pp-amount")).to_have_text("RMB 324.00")
    expect(page.locator("#pp-traveler")).to_have_text("Marie Dupont")
    screenshot(page, "stores-prepayment-form")

    # Without consent nothing is sent to the card terminal.
    page.fill("#id_card_holder_name", "Marie Dupont")
    page.select_option("#id_card_token_choice", "tok_visa")
    page.get_by_label("WeChat Pay · 微信支付").check()
    page.click("#pay-prepayment")
    expect(page.locator(".field-error").first).to_contain_text("must sign the consent")

    page.get_by_label("The traveler signed the Buy & Refund consent", exact=False).check()
    page.select_option("#id_card_token_choice", "tok_declined")
    page.click("#pay-prepayment")
    expect(page.locator("#pp-error")).to_contain_text("Card declined · 银行卡预授权被拒绝")
    screenshot(page, "stores-prepayment-declined")

    # Another card in the traveler's name: the page keeps what was entered.
    expect(page.locator("#id_card_holder_name")).to_have_value("Marie Dupont")
    page.select_option("#id_card_token_choice", "tok_visa")
    page.dblclick("#pay-prepayment")  # an impatient double click
    page.wait_for_load_state("networkidle")
    expect(page.locator(".messages")).to_contain_text("Prepayment paid and guarantee authorized")
    expect(page.locator("#prepayment-status")).to_contain_text("Paid")
    expect(page.locator("#guarantee-status")).to_contain_text("Authorized")
    expect(page.locator("#g-deadline")).to_have_text(
        Guarantee.objects.get(form=form, status="authorized").deadline.isoformat()
    )
    expect(page.locator("#g-hold-expires")).not_to_have_text("—")
    # One hold for the double click; the declined card left only a failed record.
    assert Guarantee.objects.filter(form=form).exclude(status="failed").count() == 1
    screenshot(page, "stores-prepayment")

    page.click("#return-link")
    page.click("#confirm-return")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#prepayment-status")).to_contain_text("Returned")
    expect(page.locator("#guarantee-status")).to_contain_text("Released")
    expect(page.locator("#void-link")).to_be_visible()
    screenshot(page, "stores-prepayment-returned")


@pytest.mark.browser
def test_clerk_hands_over_a_cash_prepayment_with_one_click(demo, page):
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(item="手提包 Handbag", unit_price="3600.00"),
        who=traveler(),
        buy_and_refund=True,
    )
    login(page, "clerk")
    page.goto(page.base_url + f"/store/forms/{form.number}/prepayment/")
    page.get_by_label("The traveler signed the Buy & Refund consent", exact=False).check()
    page.fill("#id_card_holder_name", "Marie Dupont")
    page.select_option("#id_card_token_choice", "tok_visa")
    page.get_by_label("Cash · 现金").check()
    page.click("#pay-prepayment")
    page.wait_for_load_state("networkidle")
    # the paying request is told to hand the cash over now, and to confirm it
    expect(page.locator(".messages")).to_contain_text("Hand over RMB 324.00 in cash now")
    expect(page.locator("#prepayment-status")).to_contain_text("Awaiting handover")
    expect(page.locator("#confirm-handover")).to_be_visible()
    screenshot(page, "stores-prepayment-awaiting-handover")
    # the form detail shows the true state
    page.goto(page.base_url + f"/store/forms/{form.number}/")
    expect(page.locator("#form-prepayment-status")).to_contain_text("Awaiting handover")
    screenshot(page, "stores-form-awaiting-handover", full_page=False)
    page.get_by_role("link", name="Confirm handover · 确认交付").click()
    page.click("#confirm-handover")
    page.wait_for_load_state("networkidle")
    expect(page.locator(".messages")).to_contain_text("Cash handed over")
    expect(page.locator("#prepayment-status")).to_contain_text("Paid")
    expect(page.locator("#pp-handed-over")).to_contain_text("clerk")
    expect(page.locator("#confirm-handover")).to_have_count(0)
    screenshot(page, "stores-prepayment-handed-over")


@pytest.mark.browser
def test_agent_confirms_a_cash_refund_handover(demo, page):
    from agencies.services import refund_pay
    from tests.agencies.conftest import DOCUMENT, verify

    form = verify(make_form(demo.store_sh, demo.clerk, line(), who=traveler()), demo)
    refund = refund_pay(
        form_number=form.number,
        qr=form.qr_payload,
        document_number=DOCUMENT,
        payout_method="cash",
        agent=demo.agent,
        agency=demo.agency,
    )
    login(page, "agent")
    page.goto(page.base_url + f"/agency/refunds/{refund.pk}/")
    expect(page.locator("#refund-status")).to_contain_text("Awaiting handover")
    expect(page.locator("#handover-banner")).to_contain_text("Cash RMB 18.00 awaiting handover")
    expect(page.locator("#receipt-link")).to_have_count(0)
    screenshot(page, "agency-refund-awaiting-handover")
    page.click("#confirm-handover")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#refund-status")).to_contain_text("Paid")
    expect(page.locator(".paid-banner")).to_contain_text("handed over by agent")
    expect(page.locator("#receipt-link")).to_be_visible()
    screenshot(page, "agency-refund-handed-over")

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

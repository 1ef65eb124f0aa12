"""Rules 2.0 in a real browser: an expired passport at the counter, the card holder's name
in another order, the effective-dated windows and calendar overrides in the admin."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from mrz.generator.td3 import TD3CodeGenerator
from playwright.sync_api import expect

from core.models import WorkingDayOverride
from stores.models import RefundForm
from tests.browser import login, screenshot
from tests.factories import line, make_form, traveler


@pytest.fixture(autouse=True)
def policies(transactional_db: None) -> None:
    """Live-server tests run on a flushed database: put back the policies the migration seeds."""
    from django.apps import apps

    importlib.import_module("core.migrations.0002_seed_policies").forwards(apps, None)


def passport(expiry: str) -> list[str]:
    code = TD3CodeGenerator(
        "P", "FRA", "Dupont", "Marie Claire", "18AB12345", "FRA", "900101", "F", expiry, ""
    )
    return str(code).splitlines()


def scan(page: Any, lines: list[str]) -> None:
    page.locator("textarea[name=mrz]").click()
    page.locator("textarea[name=mrz]").fill("")
    for mrz_line in lines:
        page.keyboard.type(mrz_line)
        page.keyboard.press("Enter")


@pytest.mark.browser
def test_an_expired_passport_is_refused_at_the_store_counter(demo: Any, page: Any) -> None:
    login(page, "clerk")
    page.goto(page.base_url + "/store/forms/new/")
    scan(page, passport("200101"))  # expired on 2020-01-01
    expect(page.locator("input[name=document_expires_on]")).to_have_value("2020-01-01")
    expect(page.locator("#mrz-status")).to_contain_text("not valid for a refund")
    page.fill("input[name=last_entry_date]", "2026-11-20")
    page.fill("input[name=lines-0-item]", "丝巾 Silk scarf")
    page.fill("input[name=lines-0-quantity]", "1")
    page.fill("input[name=lines-0-unit_price]", "1800")
    expect(page.locator("#checks")).to_contain_text("Document expired · 证件已过期")
    screenshot(page, "stores-issue-expired-passport")

    page.get_by_role("button", name="Issue form", exact=False).click()
    # The refusal is said once: a summary at the button, the rule itself in the checks.
    expect(page.locator("#rule-errors")).to_contain_text("Not issued · 未开具 — 1 rule said no")
    expect(page.locator("#checks")).to_contain_text("Document expired · 证件已过期")
    expect(page.locator("#checks")).to_contain_text("The document expired on 2020-01-01")
    expect(page.locator("#checks li[data-code=document_expired]")).to_have_count(1)
    assert RefundForm.objects.count() == 0
    screenshot(page, "stores-issue-expired-passport-refused")

    # The renewed passport: the expiry comes from the MRZ and the form issues.
    scan(page, passport("350101"))
    expect(page.locator("input[name=document_expires_on]")).to_have_value("2035-01-01")
    expect(page.locator("#checks")).not_to_contain_text("Document expired")
    page.get_by_role("button", name="Issue form", exact=False).click()
    expect(page.locator("#document-expiry")).to_have_text("2035-01-01")
    assert str(RefundForm.objects.get().document_expires_on) == "2035-01-01"


@pytest.mark.browser
def test_card_holder_name_in_another_order_and_a_named_mismatch(demo: Any, page: Any) -> None:
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="3600.00"),
        who=traveler(name="John Smith"),
        buy_and_refund=True,
    )
    login(page, "clerk")
    page.goto(page.base_url + f"/store/forms/{form.number}/prepayment/")
    page.get_by_label("The traveler signed the Buy & Refund consent", exact=False).check()
    page.select_option("#id_card_token_choice", "tok_visa")
    page.get_by_label("Cash · 现金").check()
    page.fill("#id_card_holder_name", "SMYTH JOHN")
    page.click("#pay-prepayment")
    expect(page.locator("#pp-error")).to_contain_text("Card holder is not the traveler")
    error = page.locator(".field-error", has_text="SMYTH")
    expect(error).to_contain_text("'SMYTH JOHN' does not match the traveler 'John Smith'")
    expect(error).to_contain_text("SMYTH not in it")
    screenshot(page, "stores-prepayment-card-holder-mismatch")

    page.fill("#id_card_holder_name", "SMITH JOHN")
    page.click("#pay-prepayment")
    # cash: the guarantee is in place and the clerk is told to hand the cash over (issue 9)
    expect(page.locator(".messages")).to_contain_text("Guarantee authorized")
    expect(page.locator(".messages")).to_contain_text("Hand over RMB 324.00 in cash now")


@pytest.mark.browser
def test_admin_edits_windows_and_calendar_overrides(demo: Any, page: Any) -> None:
    login(page, "admin")
    page.goto(page.base_url + "/admin/core/buyandrefundwindow/")
    expect(page.locator("#result_list")).to_contain_text("Nationwide · 全国")
    expect(page.locator("#result_list")).to_contain_text("not yet read in a primary text")
    screenshot(page, "admin-buy-and-refund-windows")

    page.goto(page.base_url + "/admin/core/buyandrefundwindow/add/")
    expect(page.locator("fieldset .description")).to_contain_text(
        "is a reported figure, not yet read in a primary text"
    )
    page.fill("#id_region_code", "31")
    page.fill("#id_effective_from", "2026-09-01")
    page.fill("#id_days", "21")
    page.click("input[name=_save]")
    expect(page.locator("#result_list")).to_contain_text("2026")

    page.goto(page.base_url + "/admin/core/workingdayoverride/add/")
    expect(page.locator("fieldset .description")).to_contain_text("调休")
    page.fill("#id_day", "2027-10-09")
    page.check("#id_is_working_day")
    page.fill("#id_note", "调休上班 adjusted working Saturday")
    screenshot(page, "admin-working-day-override")
    page.click("input[name=_save]")
    expect(page.locator("#result_list")).to_contain_text("调休上班")
    assert WorkingDayOverride.objects.get().is_working_day is True

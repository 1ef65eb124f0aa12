"""The store counter in a real browser: scan a passport, type lines, issue, print, void."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from mrz.generator.td3 import TD3CodeGenerator
from playwright.sync_api import expect

from stores.models import FormStatus, RefundForm
from stores.services import business_today
from tests.browser import login, screenshot
from tests.factories import line, make_invoice


@pytest.fixture(autouse=True)
def policies(transactional_db: None) -> None:
    """Live-server tests run on a flushed database: put back the policies the migration seeds."""
    from django.apps import apps

    importlib.import_module("core.migrations.0002_seed_policies").forwards(apps, None)


def scanned_passport() -> list[str]:
    """The two MRZ lines of a valid French passport, as a scanner types them."""
    code = TD3CodeGenerator(
        "P", "FRA", "Dupont", "Marie Claire", "18AB12345", "FRA", "900101", "F", "350101", ""
    )
    return str(code).splitlines()


@pytest.mark.browser
def test_clerk_issues_prints_and_voids_a_form(demo, page):
    login(page, "clerk")
    expect(page.locator("h1")).to_contain_text("Today's forms")
    page.get_by_role("link", name="+ Issue a form · 开单").click()
    expect(page.locator("h1")).to_contain_text("Issue a refund form")

    # A keyboard-wedge scanner types the two MRZ lines, each ended by Enter.
    page.locator("textarea[name=mrz]").click()
    for mrz_line in scanned_passport():
        page.keyboard.type(mrz_line)
        page.keyboard.press("Enter")
    expect(page.locator("input[name=name]")).to_have_value("DUPONT MARIE CLAIRE")
    expect(page.locator("input[name=document_number]")).to_have_value("18AB12345")
    expect(page.locator("select[name=nationality]")).to_have_value("FR")
    expect(page.locator("#mrz-status")).to_contain_text("check digits verified")
    # The page moves the cursor on to what the MRZ does not say.
    expect(page.locator("input[name=last_entry_date]")).to_be_focused()
    entry = business_today() - timedelta(days=12)
    page.fill("input[name=last_entry_date]", entry.isoformat())
    # The MRZ also gave the document's expiry.
    expect(page.locator("input[name=document_expires_on]")).to_have_value("2035-01-01")

    # A first, small line: the rule says so at once.
    page.fill("input[name=lines-0-item]", "丝巾 Silk scarf")
    page.fill("input[name=lines-0-quantity]", "1")
    page.fill("input[name=lines-0-unit_price]", "150")
    expect(page.locator("#checks")).to_contain_text("Below the RMB 200 minimum")
    screenshot(page, "stores-issue-below-minimum")

    # Fix the price, add a second line with the keyboard, and a third one to remove.
    page.fill("input[name=lines-0-unit_price]", "1800")
    page.locator("select[name=lines-0-vat_rate]").focus()
    page.keyboard.press("Enter")  # Enter moves along the line: to its goods category
    expect(page.locator("select[name=lines-0-category]")).to_be_focused()
    page.keyboard.press("Enter")  # Enter on a line's last field adds the next line
    expect(page.locator("input[name=lines-1-item]")).to_be_focused()
    page.keyboard.type("羊绒围巾 Cashmere wrap")
    page.fill("input[name=lines-1-quantity]", "2")
    page.fill("input[name=lines-1-unit_price]", "900")
    page.get_by_role("button", name="+ Add line · 添加明细").click()
    page.fill("input[name=lines-2-item]", "Mistake")
    page.fill("input[name=lines-2-quantity]", "1")
    page.fill("input[name=lines-2-unit_price]", "99")
    expect(page.locator("[data-est=total]")).to_have_text("3,699.00")
    page.locator("tr[data-line]").nth(2).get_by_role("button", name="Remove line · 删除").click()
    expect(page.locator("tr[data-line]")).to_have_count(2)

    # RMB 3,600 at 13%: 396.00 refundable - 72.00 fee = 324.00 net.
    expect(page.locator("[data-est=total]")).to_have_text("3,600.00")
    expect(page.locator("[data-est=refundable_vat]")).to_have_text("396.00")
    expect(page.locator("[data-est=fee]")).to_have_text("72.00")
    expect(page.locator("[data-est=net_refund]")).to_have_text("324.00")
    expect(page.locator("#checks")).to_contain_text("Eligible for a refund")
    expect(page.locator("tr[data-line]").nth(1).locator("[data-line-total]")).to_have_text(
        "1,800.00"
    )
    screenshot(page, "stores-issue-ready")

    page.get_by_role("button", name="Issue form · 开具申请单").click()
    expect(page.locator("#form-status")).to_have_text("Issued")
    form = RefundForm.objects.get()
    expect(page.locator("h1")).to_contain_text(form.number)
    expect(page.locator("#net-refund")).to_have_text("RMB 324.00")
    expect(page.locator("#history")).to_contain_text("Form issued · 申请单已开具")
    screenshot(page, "stores-form-detail")

    # The print link serves the PDF.
    pdf_url = page.locator("#print-link").get_attribute("href")
    response = page.request.get(page.base_url + pdf_url)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")

    # Void: a confirmation page, a reason, then the voided status.
    page.locator("#void-link").click()
    expect(page.locator("h1")).to_contain_text("Void form")
    expect(page.locator("textarea[name=reason]")).to_be_focused()
    screenshot(page, "stores-void-confirm")
    page.keyboard.type("Traveler returned the goods")
    page.get_by_role("button", name="Void form · 确认作废").click()
    expect(page.locator("#form-status")).to_have_text("Voided")
    expect(page.locator(".messages")).to_contain_text("voided")
    expect(page.locator("#history")).to_contain_text("Traveler returned the goods")
    expect(page.locator("#void-link")).to_have_count(0)
    screenshot(page, "stores-form-voided")
    form.refresh_from_db()
    assert form.status == FormStatus.VOIDED

    page.get_by_role("link", name="Forms · 申请单").click()
    expect(page.locator("table.list")).to_contain_text(form.number)
    expect(page.locator("table.list .badge.voided")).to_have_count(1)
    screenshot(page, "stores-todays-forms")


@pytest.mark.browser
def test_bad_scan_says_so_and_typing_still_works(demo, page):
    login(page, "clerk")
    page.goto(page.base_url + "/store/forms/new/")
    first, second = scanned_passport()
    broken = second[:9] + ("0" if second[9] != "0" else "1") + second[10:]  # bad check digit
    page.fill("textarea[name=mrz]", first + "\n" + broken + "\n")
    expect(page.locator("#mrz-status")).to_contain_text("check digits do not match")
    expect(page.locator("input[name=name]")).to_have_value("")
    screenshot(page, "stores-issue-bad-scan")

    # The clerk types the traveler instead; a book (6% VAT) has no refund rate.
    page.fill("input[name=name]", "DUPONT MARIE CLAIRE")
    page.fill("input[name=document_number]", "18AB12345")
    page.select_option("select[name=nationality]", "FR")
    page.fill("input[name=last_entry_date]", (business_today() - timedelta(days=3)).isoformat())
    page.fill("input[name=document_expires_on]", "2031-05-01")  # typed from the photo page
    page.fill("input[name=lines-0-item]", "画册 Art book")
    page.fill("input[name=lines-0-quantity]", "1")
    page.fill("input[name=lines-0-unit_price]", "680")
    page.select_option("select[name=lines-0-vat_rate]", "0.06")
    expect(page.locator("#checks")).to_contain_text("Goods not eligible")
    # Issuing anyway: the server refuses with the same rule, and nothing is written.
    page.get_by_role("button", name="Issue form · 开具申请单").click()
    expect(page.locator("#rule-errors")).to_contain_text("Not issued")
    # Each refusal is shown once: in the checks, not repeated in the alert.
    expect(page.locator("#checks li[data-code=goods_not_eligible]")).to_have_count(1)
    expect(page.locator("#rule-errors")).not_to_contain_text("Goods not eligible")
    expect(page.locator("input[name=lines-0-item]")).to_have_value("画册 Art book")
    assert RefundForm.objects.count() == 0
    screenshot(page, "stores-issue-refused")


@pytest.mark.browser
def test_form_from_imported_invoices_with_buy_and_refund(demo, page):
    # Given two invoices of this morning, imported from the e-invoice platform
    first = make_invoice(demo.store_sh, demo.clerk, line("手提包 Handbag", unit_price="2600.00"))
    second = make_invoice(demo.store_sh, demo.clerk, line("茶叶 Tea", "2", "250.00", "0.09"))
    login(page, "clerk")
    page.goto(page.base_url + "/store/forms/new/")
    page.fill("input[name=name]", "TANAKA HANAKO")
    page.fill("input[name=document_number]", "TK1234567")
    page.select_option("select[name=nationality]", "JP")
    page.fill("input[name=last_entry_date]", (business_today() - timedelta(days=5)).isoformat())
    page.fill("input[name=document_expires_on]", "2031-05-01")  # typed from the photo page
    page.get_by_text("Or issue from existing invoices · 按已开发票开单").click()
    page.fill(
        "textarea[name=invoice_numbers]", f"{first.number}\n{second.number}\n12345678901234567890"
    )
    expect(page.locator("#invoice-found")).to_contain_text("not found at this store")
    expect(page.locator("#checks")).to_contain_text("Invoice not found")
    page.fill("textarea[name=invoice_numbers]", f"{first.number}\n{second.number}")
    expect(page.locator("#invoice-found li")).to_have_count(2)
    page.get_by_label("Buy & Refund · 即买即退").check()
    # 2600 x 11% + 500 x 8% = 326.00; fee 2% of 3100 = 62.00
    expect(page.locator("[data-est=net_refund]")).to_have_text("264.00")
    screenshot(page, "stores-issue-from-invoices")
    page.get_by_role("button", name="Issue form · 开具申请单").click()
    expect(page.locator("#form-status")).to_have_text("Issued")
    expect(page.locator("h1")).to_contain_text("即买即退")
    form = RefundForm.objects.get()
    assert form.buy_and_refund and str(form.net_refund) == "264.00"
    assert set(form.invoices.values_list("number", flat=True)) == {first.number, second.number}


@pytest.mark.browser
def test_clerk_finds_prints_and_issues_from_several_invoices(demo, page):
    # Given two invoices of this store not on a form yet (150 + 120: the minimum only together)
    first = make_invoice(demo.store_sh, demo.clerk, line("丝巾 Silk scarf", unit_price="150.00"))
    second = make_invoice(
        demo.store_sh, demo.clerk, line("茶叶 Tea", "2", "60.00", "0.09", unit="千克")
    )
    login(page, "clerk")

    # The invoice list finds one by part of its number and opens its printable page
    page.get_by_role("link", name="Invoices · 发票").click()
    page.fill("input[name=q]", second.number[-5:])
    page.get_by_role("button", name="Search · 查询").click()
    expect(page.locator("#invoice-list tbody tr")).to_have_count(1)
    page.get_by_role("link", name=second.number).click()
    expect(page.locator("#total-in-words")).to_have_text("壹佰贰拾圆整")
    expect(page.locator(".invoice-lines")).to_contain_text("千克")
    screenshot(page, "stores-invoice-detail")
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("#print-invoice")).to_be_hidden()
    screenshot(page, "stores-invoice-print")
    page.emulate_media(media="screen")

    # On the issue page the clerk ticks both invoices instead of typing 20-digit numbers
    page.goto(page.base_url + "/store/forms/new/")
    page.fill("input[name=name]", "DUPONT MARIE CLAIRE")
    page.fill("input[name=document_number]", "18AB12345")
    page.select_option("select[name=nationality]", "FR")
    page.fill("input[name=last_entry_date]", (business_today() - timedelta(days=3)).isoformat())
    page.fill("input[name=document_expires_on]", "2031-05-01")  # typed from the photo page
    page.locator("details.imported summary").click()
    page.get_by_label(first.number, exact=False).check()
    expect(page.locator("#checks")).to_contain_text("Below the RMB 200 minimum")
    page.get_by_label(second.number, exact=False).check()
    expect(page.locator("[data-est=total]")).to_have_text("270.00")
    screenshot(page, "stores-issue-ticked-invoices")
    page.get_by_role("button", name="Issue form · 开具申请单").click()
    expect(page.locator("h1")).to_contain_text("Form")
    form = RefundForm.objects.get()
    assert set(form.invoices.values_list("number", flat=True)) == {first.number, second.number}

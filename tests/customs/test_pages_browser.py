"""The officer portal in Chromium, keyboard only: scan -> quantities -> stamp; a mailbox batch."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest

from customs.models import InspectionPolicy, MailboxBatchItem, Verification
from tests.browser import login, screenshot
from tests.factories import line, make_form, traveler


@pytest.fixture(autouse=True)
def policies(transactional_db: None) -> None:
    """Browser tests run on a flushed database: put back the policies the migration seeds."""
    from django.apps import apps

    importlib.import_module("core.migrations.0002_seed_policies").forwards(apps, None)


def focused(locator) -> bool:
    return bool(locator.evaluate("el => el === document.activeElement"))


def wedge_scan(page, field_selector: str, payload: str) -> None:
    """A keyboard-wedge scanner types into the focused field and presses Enter."""
    field = page.locator(field_selector)
    assert focused(field), "the scan box must have the focus, ready for the scanner"
    page.keyboard.type(payload)
    press_and_wait(page, "Enter")


def press_and_wait(page, key: str) -> None:
    """Press a key that submits a form, and wait for the next page."""
    with page.expect_navigation():
        page.keyboard.press(key)
    page.wait_for_load_state("networkidle")


@pytest.mark.browser
def test_officer_scans_adjusts_a_quantity_and_stamps_with_the_keyboard(demo, page):
    InspectionPolicy.objects.update_or_create(
        port=demo.port, defaults={"seed": "browser", "sample_rate": Decimal("0")}
    )
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(item="丝巾 Silk scarf", unit_price="200.00"),
        line(item="茶叶 Longjing tea", quantity="3", unit_price="100.00", vat_rate="0.09"),
        line(item="瓷器 Porcelain vase", unit_price="450.00"),
        who=traveler(name="Marie Dupont"),
    )
    login(page, "officer")
    assert page.url.endswith("/customs/")
    screenshot(page, "customs-scan")

    wedge_scan(page, "#id_code", form.qr_payload)
    assert f"/customs/forms/{form.number}/" in page.url
    assert page.locator(".traveler-name").inner_text() == "Marie Dupont"
    # presented here (QR scanned): the full number, to compare with the passport in hand
    assert page.locator("#document-full").inner_text() == "18AB12345"
    assert page.locator("#nationality").inner_text() == "FR France"
    assert page.locator("#inspection").inner_text().startswith("GREEN")
    assert page.locator("#verified-total").inner_text() == "950.00"
    screenshot(page, "customs-form")

    # Tab from the first quantity to the tea; only 2 of 3 boxes are presented
    first = page.locator("input.qty").first
    assert focused(first)
    page.keyboard.press("Tab")
    assert focused(page.locator("input.qty").nth(1))
    page.keyboard.type("2")
    assert page.locator("#verified-total").inner_text() == "850.00"
    assert page.locator("#projected").inner_text() == "partially verified"
    screenshot(page, "customs-form-partial")
    press_and_wait(page, "Enter")

    assert page.locator("#result-badge").inner_text() == "Partially Verified"
    assert page.locator("#result-total").inner_text() == "850.00"
    assert page.locator("#stamp-valid").is_visible()
    verification = Verification.objects.get(form=form)
    assert (verification.result, verification.verified_total) == (
        "partially_verified",
        Decimal("850.00"),
    )
    screenshot(page, "customs-stamped")

    # the next scan box has the focus: scanning the same form again shows its stamp
    wedge_scan(page, "#id_code", form.number)
    assert page.locator("#form-status").inner_text() == "Partially Verified"


@pytest.mark.browser
def test_red_lane_form_with_warnings_is_shown_and_refused_on_traveler_mismatch(demo, page):
    from datetime import timedelta

    from django.utils import timezone

    day = timezone.localdate()
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(item="Gold bracelet 金手镯", unit_price="12800.00"),
        who=traveler(last_entry_date=day - timedelta(days=190)),
        issued_on=day - timedelta(days=95),
    )
    login(page, "officer")
    wedge_scan(page, "#id_code", form.qr_payload)
    assert page.locator("#inspection").inner_text().startswith("RED")
    warnings = page.locator("#warnings").inner_text()
    assert "190 days" in warnings and "95 days" in warnings
    screenshot(page, "customs-form-red-warnings")
    # Tab on to the refuse button (past the date parts, flight, checkbox, stamp), then Enter
    reject = page.locator("#reject")
    for _ in range(12):
        page.keyboard.press("Tab")
        if focused(reject):
            break
    assert focused(reject)
    press_and_wait(page, "Enter")
    assert page.locator("#result-badge").inner_text() == "Rejected"
    assert Verification.objects.get(form=form).result == "rejected"
    # the inspection queue no longer lists it
    page.goto(page.base_url + "/customs/inspections/")
    assert form.number not in page.content()


@pytest.mark.browser
def test_bad_qr_is_refused_on_the_page(demo, page):
    form = make_form(demo.store_sh, demo.clerk, line())
    other = make_form(demo.store_sh, demo.clerk, line())
    login(page, "officer")
    forged = form.qr_payload[:19] + other.qr_payload[19:]
    wedge_scan(page, "#id_code", forged)
    assert page.locator("#scan-error").is_visible()
    assert "not valid" in page.locator("#scan-error").inner_text()
    # the box is empty and focused again, ready for the next scan
    assert page.locator("#id_code").input_value() == ""
    screenshot(page, "customs-scan-refused")
    wedge_scan(page, "#id_code", form.qr_payload)
    assert f"/customs/forms/{form.number}/" in page.url


@pytest.mark.browser
def test_mailbox_batch_with_the_keyboard(demo, page):
    forms = [make_form(demo.store_sh, demo.clerk, line(unit_price=f"{n}00.00")) for n in (2, 3)]
    login(page, "officer")
    page.goto(page.base_url + "/customs/mailbox/")
    open_button = page.locator("#open-batch-button")
    assert focused(open_button)
    screenshot(page, "customs-mailbox")
    press_and_wait(page, "Enter")
    assert "/customs/mailbox/" in page.url

    wedge_scan(page, "#id_code", forms[0].qr_payload)
    assert page.locator("#count-scanned").inner_text() == "1"
    assert "Verified" in page.locator("#last-result").inner_text()
    wedge_scan(page, "#id_code", forms[1].qr_payload)
    wedge_scan(page, "#id_code", forms[0].qr_payload)  # dropped twice
    assert page.locator("#count-scanned").inner_text() == "3"
    assert page.locator("#count-verified").inner_text() == "2"
    assert page.locator("#count-refused").inner_text() == "1"
    assert "already stamped" in page.locator("#last-result").inner_text()
    screenshot(page, "customs-mailbox-batch")

    # Tab past the Add button to Close, Enter
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page.locator("#close-batch"))
    press_and_wait(page, "Enter")
    assert page.locator("#batch-status").inner_text() == "Closed"
    screenshot(page, "customs-mailbox-closed")
    assert MailboxBatchItem.objects.count() == 3
    assert set(Verification.objects.values_list("channel", flat=True)) == {"mailbox"}

    page.goto(page.base_url + "/customs/mailbox/")
    assert page.locator("#batches tbody tr").count() == 1
    screenshot(page, "customs-mailbox-list")
    page.goto(page.base_url + "/customs/today/")
    assert page.locator("#today-count").inner_text() == "2"
    screenshot(page, "customs-today")


@pytest.mark.browser
def test_damaged_qr_officer_types_number_and_passport_then_sees_the_full_number(demo, page):
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(item="丝巾 Silk scarf", unit_price="680.00"),
        who=traveler(name="Sato Yuki", document_number="TK1234567", nationality="JP"),
    )
    login(page, "officer")
    # the number alone finds nothing (walking numbers shows nothing)
    wedge_scan(page, "#id_code", form.number)
    assert "passport in hand" in page.locator("#scan-error").inner_text()
    assert "Sato Yuki" not in page.content()
    screenshot(page, "customs-typed-number-alone")
    # number printed under the damaged QR, and the passport number typed
    page.fill("#id_code", form.number)
    page.locator("details.typed-path summary").click()
    page.fill("#id_document_number", "tk1234567")
    screenshot(page, "customs-typed-path")
    press_and_wait(page, "Enter")
    assert f"/customs/forms/{form.number}/" in page.url
    assert page.locator(".traveler-name").inner_text() == "Sato Yuki"
    assert page.locator("#document-full").inner_text() == "TK1234567"
    assert page.locator("#nationality").inner_text() == "JP Japan"
    screenshot(page, "customs-form-full-document")
    # another port's officer still gets the page of a missing form
    from stores.models import FormPresentation, PersonalDataRead

    assert FormPresentation.objects.get(form=form).how == "typed"
    assert PersonalDataRead.objects.filter(form=form, reason="typed", unmasked=True).exists()

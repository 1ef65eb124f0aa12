"""The kiosk in Chromium: pick a language, scan or type, read status and refund; idle reset."""

from __future__ import annotations

import importlib
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot
from tests.factories import line, make_form, traveler
from tests.kiosk.conftest import DOCUMENT


@pytest.fixture(autouse=True)
def policies(transactional_db: None) -> None:
    """Browser tests run on a flushed database: put back the policies the migration seeds."""
    from django.apps import apps

    importlib.import_module("core.migrations.0002_seed_policies").forwards(apps, None)


@pytest.fixture
def form(demo: Any) -> Any:
    return make_form(
        demo.store_sh,
        demo.clerk,
        line(item="丝巾 Silk scarf", unit_price="200.00"),
        who=traveler(document_number=DOCUMENT),
    )


def focused(page: Any, selector: str) -> bool:
    return bool(page.locator(selector).evaluate("el => el === document.activeElement"))


def seconds_left(warning: str) -> int:
    match = re.search(r"(\d+)초 후", warning)
    assert match, warning
    return int(match.group(1))


def pick_language(page: Any, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("link", name=name, exact=True).click()


def look_up(page: Any, form_code: str, document: str) -> None:
    """Type (or wedge-scan) into the focused form box, Enter, then the document, Enter."""
    assert focused(page, "#kiosk-form-number")
    page.keyboard.type(form_code)
    page.keyboard.press("Enter")
    assert focused(page, "#kiosk-document"), "Enter after a full number moves to the document"
    page.keyboard.type(document)
    page.keyboard.press("Enter")


@pytest.mark.browser
def test_japanese_traveler_types_form_and_passport(page: Any, form: Any) -> None:
    page.goto(page.base_url + "/kiosk/")
    assert page.locator("html").get_attribute("dir") == "ltr"
    screenshot(page, "kiosk-start")
    # Touch targets are at least 48px high.
    for selector in (".kiosk-lang", ".kiosk-key", "#kiosk-submit", "#kiosk-form-number"):
        box = page.locator(selector).first.bounding_box()
        assert box is not None and box["height"] >= 48, selector

    pick_language(page, "日本語")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator("h1").inner_text() == "免税還付セルフサービス"
    look_up(page, form.number, DOCUMENT)
    page.locator("#kiosk-result").wait_for(state="visible")
    assert page.locator("#kiosk-status").inner_text() == "発行済み（税関の確認前）"  # noqa: RUF001
    # Keyboard and screen-reader users land on the result's heading, not on <body>.
    expect(page.locator("#kiosk-status")).to_be_focused()
    assert page.locator("#kiosk-net").inner_text() == "18.00 人民元"
    assert page.locator("#kiosk-total").inner_text() == "200.00 人民元"
    assert "税関に提示してください" in page.locator("#kiosk-next-step").inner_text()
    assert page.locator("#kiosk-timeline li").count() == 1
    assert page.locator("#kiosk-payout li.allowed").count() == 4
    screenshot(page, "kiosk-result-ja")


@pytest.mark.browser
def test_wedge_scan_in_chinese_and_english(page: Any, form: Any) -> None:
    page.goto(page.base_url + "/kiosk/?lang=zh-hans")
    look_up(page, form.qr_payload, DOCUMENT.lower())
    page.locator("#kiosk-result").wait_for(state="visible")
    assert page.locator("#kiosk-net").inner_text() == "人民币 18.00 元"
    assert page.locator("#kiosk-next-step").inner_text().startswith("请在办理登机")
    screenshot(page, "kiosk-result-zh-hans")

    # A scan into the document box (touched first) moves up to the form box.
    page.get_by_role("button", name="重新开始").click()
    page.wait_for_url("**/kiosk/?lang=zh-hans")
    page.click("#kiosk-document")
    page.keyboard.type(form.qr_payload)
    page.keyboard.press("Enter")
    assert page.input_value("#kiosk-form-number") == form.qr_payload
    assert page.input_value("#kiosk-document") == ""
    assert page.locator("#kiosk-result").is_hidden()

    pick_language(page, "English")
    look_up(page, form.number, DOCUMENT)
    page.locator("#kiosk-result").wait_for(state="visible")
    assert page.locator("#kiosk-net").inner_text() == "RMB 18.00"
    screenshot(page, "kiosk-result-en")


@pytest.mark.browser
def test_arabic_is_right_to_left_and_wrong_document_is_not_found(page: Any, form: Any) -> None:
    page.goto(page.base_url + "/kiosk/")
    pick_language(page, "العربية")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "ar"
    # The keypad keeps its 1-2-3 order from the left, as on every phone and ATM.
    one = page.locator('.kiosk-key[data-key="1"]').bounding_box()
    three = page.locator('.kiosk-key[data-key="3"]').bounding_box()
    assert one is not None and three is not None and one["x"] < three["x"]

    look_up(page, form.number, "X0000000")
    error = page.locator("#kiosk-error")
    error.wait_for(state="visible")
    assert error.inner_text().startswith("لم نعثر على استمارة")
    assert page.locator("#kiosk-result").is_hidden()

    page.fill("#kiosk-document", DOCUMENT)
    page.click("#kiosk-submit")
    page.locator("#kiosk-result").wait_for(state="visible")
    assert page.locator("#kiosk-net").inner_text() == "18.00 يوان"
    assert page.locator("#kiosk-status").inner_text() == "صادرة – لم تتحقق منها الجمارك بعد"  # noqa: RUF001
    expect(page.locator("#kiosk-status")).to_be_focused()
    screenshot(page, "kiosk-result-ar")


@pytest.mark.browser
def test_number_pad_and_idle_timeout_back_to_start(page: Any, form: Any) -> None:
    page.clock.install()
    page.goto(page.base_url + "/kiosk/?lang=ko")
    # From here on the page's time moves only by run_for: a slow machine between two
    # reads must not tick the countdown on its own.
    page.clock.pause_at(datetime.now() + timedelta(seconds=1))
    for digit in form.number:
        page.locator(f'.kiosk-key[data-key="{digit}"]').click()
    assert page.input_value("#kiosk-form-number") == form.number

    idle = page.locator("#kiosk-idle")
    page.clock.run_for(45_000)
    assert idle.is_hidden()
    page.clock.run_for(6_000)  # about 51 s idle: the last seconds count down on screen
    assert idle.is_visible()
    first = seconds_left(idle.inner_text())
    assert 1 <= first <= 10
    page.clock.run_for(2_000)
    assert seconds_left(idle.inner_text()) == first - 2
    screenshot(page, "kiosk-idle-warning", full_page=False)
    # A marker on the old document: it is gone only if the page really navigated.
    page.evaluate("window.__before_reset = true")
    page.clock.run_for(10_000)
    page.wait_for_url(re.compile(r"/kiosk/$"))
    page.wait_for_load_state("domcontentloaded")
    assert page.evaluate("window.__before_reset") is None
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.input_value("#kiosk-form-number") == ""

    # The untouched English start screen just waits: no countdown, no reload loop.
    page.evaluate("window.__stayed = true")
    page.clock.run_for(120_000)
    assert idle.is_hidden()
    assert page.evaluate("window.__stayed") is True


@pytest.mark.browser
def test_over_the_cash_cap_in_french_and_a_cancelled_form_in_russian(page: Any, demo: Any) -> None:
    from stores.services import refund_form_void

    big = make_form(
        demo.store_sh,
        demo.clerk,
        line(item="Montre", unit_price="230000.00"),
        who=traveler(document_number=DOCUMENT),
    )
    page.goto(page.base_url + "/kiosk/?lang=fr")
    look_up(page, big.number, DOCUMENT)
    page.locator("#kiosk-result").wait_for(state="visible")
    # French groups thousands with a (narrow) space and uses a decimal comma.
    net = re.sub(r"\s", " ", page.locator("#kiosk-net").inner_text())
    assert net == "20 700,00 RMB"
    cash = page.locator('#kiosk-payout li[data-method="cash"]')
    assert "not-allowed" in (cash.get_attribute("class") or "")
    assert "virement uniquement" in cash.inner_text()
    assert page.locator("#kiosk-payout li.allowed").count() == 3
    screenshot(page, "kiosk-result-fr-over-cap")

    cancelled = make_form(demo.store_sh, demo.clerk, line(), who=traveler(document_number=DOCUMENT))
    refund_form_void(form=cancelled, clerk=demo.clerk, reason="sales return")
    page.goto(page.base_url + "/kiosk/?lang=ru")
    look_up(page, cancelled.number, DOCUMENT)
    page.locator("#kiosk-result").wait_for(state="visible")
    assert page.locator("#kiosk-status").inner_text() == "Аннулирован магазином"
    assert page.locator("#kiosk-next-step").inner_text().startswith("Магазин аннулировал")
    assert page.locator("#kiosk-payout-block").is_hidden()
    # Nothing is due: the zero is not shown in the green of money to come.
    color = page.locator("#kiosk-net").evaluate("el => getComputedStyle(el).color")
    assert color != "rgb(30, 123, 52)"
    assert page.locator("#kiosk-timeline li").count() == 2
    screenshot(page, "kiosk-result-ru-voided")

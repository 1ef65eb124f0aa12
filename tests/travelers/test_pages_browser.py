"""The phone page in Chromium at 360 px wide: English, 日本語, العربية; switching language."""

from __future__ import annotations

import importlib
from decimal import Decimal
from typing import Any

import pytest

from tests.agencies.conftest import verify
from tests.browser import screenshot
from tests.buyrefund.test_guarantees import pay
from tests.factories import line, make_form, traveler
from tests.travelers.conftest import ALIPAY, DOCUMENT, page_of
from travelers.services import payout_choice_set
from travelers.tasks import form_verified_task

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def policies(transactional_db: None) -> None:
    """Browser tests run on a flushed database: put back the policies the migration seeds."""
    from django.apps import apps

    importlib.import_module("core.migrations.0002_seed_policies").forwards(apps, None)


@pytest.fixture
def trip(demo: Any) -> str:
    """Two forms of one trip: one partly verified and paid to Alipay, one Buy & Refund held."""
    who = traveler(document_number=DOCUMENT)
    first = make_form(
        demo.store_sh,
        demo.clerk,
        line(item="丝巾 Silk scarf", quantity="2", unit_price="300.00"),
        who=who,
    )
    second = make_form(
        demo.store_sh, demo.clerk, line(item="Tea set", unit_price="3600.00"), who=who,
        buy_and_refund=True,
    )  # fmt: skip
    payout_choice_set(
        form_number=first.number,
        document_number=DOCUMENT,
        payout_method="alipay",
        payout_account=ALIPAY,
    )
    [scarf] = first.lines.all()
    verify(first, demo, quantities={scarf.pk: Decimal("1")})
    form_verified_task(first.verification.pk)
    pay(demo, second)
    return page_of(first).path


def phone(browser: Any, live_server: Any, locale: str) -> Any:
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=locale,
    )
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.base_url = live_server.url
    return tab


def fits(tab: Any) -> None:
    """Nothing wider than the phone: no sideways scrolling."""
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide"


def test_english_phone_page(browser: Any, live_server: Any, trip: str) -> None:
    tab = phone(browser, live_server, "en-US")
    tab.goto(tab.base_url + trip)
    assert tab.locator("html").get_attribute("lang") == "en"
    cards = tab.locator("section.card[aria-labelledby]")
    assert cards.count() == 2
    first = cards.nth(0)
    assert "Refunded" in first.locator(".status").inner_text()
    assert "RMB 54.00" in first.inner_text()  # estimate on 2 scarves
    assert "RMB 27.00" in first.locator(".paid").inner_text()  # paid on the 1 verified
    assert "Alipay 138****8000" in first.locator(".paid").inner_text()
    assert "Customs verified only part of the goods" in first.locator(".why").inner_text()
    assert "Paid automatically." in first.inner_text()
    second = cards.nth(1)
    assert "Card hold in place" in second.locator(".hold").inner_text()
    assert "RMB 324.00" in second.locator(".hold").inner_text()
    assert DOCUMENT not in tab.content()
    fits(tab)
    screenshot(tab, "phone-page-en-360")
    tab.context.close()


def test_japanese_from_the_browser_then_arabic_from_the_menu(
    browser: Any, live_server: Any, trip: str
) -> None:
    tab = phone(browser, live_server, "ja-JP")
    tab.goto(tab.base_url + trip)
    assert tab.locator("html").get_attribute("lang") == "ja"
    assert tab.locator("h1").inner_text() == "免税還付"
    assert "税関が一部確認" in tab.content()
    assert "自動で支払われました。" in tab.content()
    fits(tab)
    screenshot(tab, "phone-page-ja-360")
    # The menu switches at once (the script submits on change), and the choice sticks.
    with tab.expect_navigation():
        tab.select_option("#lang", "ar")
    html = tab.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    assert tab.locator("h1").inner_text() == "استرداد ضريبتك"
    assert "الحجز على البطاقة قائم" in tab.content()
    # Right to left: the amounts column sits on the left of its row.
    row = tab.locator(".amounts div").first
    label = row.locator("dt").bounding_box()
    amount = row.locator("dd").bounding_box()
    assert amount["x"] < label["x"]
    fits(tab)
    screenshot(tab, "phone-page-ar-360")
    tab.goto(tab.base_url + trip)
    assert tab.locator("html").get_attribute("lang") == "ar"
    tab.context.close()


def test_choose_a_transfer_on_the_phone(browser: Any, live_server: Any, demo: Any) -> None:
    form = make_form(demo.store_sh, demo.clerk, line(), who=traveler(document_number=DOCUMENT))
    tab = phone(browser, live_server, "en-US")
    tab.goto(tab.base_url + page_of(form).path)
    tab.fill("#id_document_number", "18AB00000")
    tab.select_option("#id_payout_method", "wechat")
    tab.fill("#id_payout_account", "wxid_marie01")
    with tab.expect_navigation():
        tab.click("#choose button[type=submit]")
    assert "do not match" in tab.locator("#choose").inner_text()
    tab.fill("#id_document_number", DOCUMENT)
    with tab.expect_navigation():
        tab.click("#choose button[type=submit]")
    assert "Saved: the transfer is paid" in tab.content()
    assert "wx******ie01" in tab.locator(".choice").inner_text()
    fits(tab)
    screenshot(tab, "phone-page-choice-360")
    tab.context.close()

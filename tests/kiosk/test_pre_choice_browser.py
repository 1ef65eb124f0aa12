"""The kiosk's pre-chosen transfer in Chromium, against the real travelers API (issue 11 item 5):
Alipay chosen by touch with an email for notices, the confirmation shows the masked account,
a new lookup shows the choice, a rejected account gets a clear message in the traveler's words."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from customs.models import InspectionPolicy
from tests.browser import screenshot
from tests.factories import line, make_form, traveler
from travelers.models import PayoutPreChoice, TravelerPage

PASSPORT = "E12AB3456"
ACCOUNT = "13800138000"  # a mainland mobile number: an Alipay account


@pytest.fixture(autouse=True)
def policies(transactional_db: None) -> None:
    from django.apps import apps

    importlib.import_module("core.migrations.0002_seed_policies").forwards(apps, None)


@pytest.fixture
def form(demo: Any) -> Any:
    InspectionPolicy.objects.update_or_create(
        port=demo.port, defaults={"seed": "kiosk", "sample_rate": "0", "threshold": "10000.00"}
    )
    who = traveler(document_number=PASSPORT)
    return make_form(
        demo.store_sh, demo.clerk, line(item="Silk scarf", unit_price="900.00"), who=who
    )


def touch(page: Any, text: str) -> None:
    for char in text:
        page.locator(f'#kiosk-keyboard .kiosk-key[data-key="{char}"]').first.click()


def shown(locator: Any) -> str:
    """The text without the isolates that keep a masked account left to right."""
    return locator.inner_text().replace("\u2066", "").replace("\u2069", "")


def look_up(page: Any, number: str, lang: str = "en") -> None:
    page.goto(page.base_url + f"/kiosk/?lang={lang}")
    page.locator("#kiosk-form-number").fill(number)
    page.locator("#kiosk-document").fill(PASSPORT)
    page.locator("#kiosk-submit").click()
    page.locator("#kiosk-result").wait_for(state="visible")


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
def test_alipay_chosen_at_the_kiosk(page: Any, form: Any, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    tag = "" if width > 360 else "-360"
    look_up(page, form.number)
    assert page.locator("#kiosk-choice-form").is_visible()
    assert page.locator("#kiosk-choice-current").is_hidden()
    # Nothing chosen: a message for the method and one for the account, nothing sent.
    page.locator("#kiosk-choice-submit").click()
    assert page.locator("#kiosk-choice-method-error").inner_text() == (
        "Please choose how you want to be paid."
    )
    page.locator("#kiosk-choice-form label", has_text="Alipay").click()
    page.locator("#kiosk-choice-submit").click()
    assert page.locator("#kiosk-choice-method-error").is_hidden()
    assert page.locator("#kiosk-account-error").inner_text() == (
        "Please enter the card number or account to be paid to."
    )
    # Typed by touch: the keyboard follows into the form and brings the account keys.
    page.locator("#kiosk-account").click()
    assert page.locator("#kiosk-choice-keyboard #kiosk-keyboard").is_visible()
    assert page.locator('#kiosk-keyboard .kiosk-key[data-key="@"]').is_visible()
    touch(page, "ABC")
    page.locator("#kiosk-choice-submit").click()
    # The server refuses it (400 invalid_payout_account); the page says why, in words.
    error = page.locator("#kiosk-account-error")
    error.wait_for(state="visible")
    assert error.inner_text() == (
        "This is not an Alipay account: enter a mobile number, an email address or a 2088 user ID."
    )
    assert page.locator("#kiosk-account").get_attribute("aria-invalid") == "true"
    assert not PayoutPreChoice.objects.filter(form=form).exists()
    screenshot(page, f"kiosk-choice-error{tag}")
    page.locator("#kiosk-account").click()
    page.locator('#kiosk-keyboard .kiosk-key[data-key="clear"]').click()
    assert error.is_hidden()
    touch(page, ACCOUNT)
    page.locator("#kiosk-email").click()
    touch(page, "MARIE@EXAMPLE.COM")
    page.locator("#kiosk-choice-submit").click()
    current = page.locator("#kiosk-choice-current")
    current.wait_for(state="visible")
    assert shown(current) == (
        "Saved. Your refund will be paid by Alipay to 138****8000 once customs has verified"
        " your goods."
    )
    assert page.locator("#kiosk-choice-form").is_hidden()
    assert ACCOUNT not in page.content()
    screenshot(page, f"kiosk-choice-saved{tag}")
    choice = PayoutPreChoice.objects.get(form=form)
    assert (choice.payout_method, choice.status) == ("alipay", "chosen")
    assert TravelerPage.objects.get(form=form).email.lower() == "marie@example.com"
    # A new lookup (a new traveler session) shows the choice, not the form to choose.
    page.locator("#kiosk-restart").click()
    page.locator("#kiosk-start").wait_for(state="visible")
    page.locator("#kiosk-form-number").fill(form.qr_payload)
    page.locator("#kiosk-document").fill(PASSPORT)
    page.locator("#kiosk-submit").click()
    current.wait_for(state="visible")
    assert shown(current) == (
        "Your refund will be paid by Alipay to 138****8000 once customs has verified your goods."
    )
    assert page.locator("#kiosk-choice-form").is_hidden()
    screenshot(page, f"kiosk-choice-shown{tag}")
    # In Arabic the masked account still reads left to right inside the sentence.
    page.goto(page.base_url + "/kiosk/?lang=ar")
    page.locator("#kiosk-form-number").fill(form.number)
    page.locator("#kiosk-document").fill(PASSPORT)
    page.locator("#kiosk-submit").click()
    current.wait_for(state="visible")
    assert "\u2066138****8000\u2069" in current.inner_text()
    screenshot(page, f"kiosk-choice-shown-ar{tag}")


@pytest.mark.browser
def test_a_bad_card_in_japanese_and_the_wechat_refusal(page: Any, form: Any) -> None:
    look_up(page, form.number, lang="ja")
    page.locator('input[name=payout_method][value="bank_card"]').check()
    page.locator("#kiosk-account").fill("6222020000000003")  # a wrong check digit
    page.locator("#kiosk-choice-submit").click()
    assert "12〜19 桁" in page.locator("#kiosk-account-error").inner_text()
    page.locator('input[name=payout_method][value="wechat"]').check()
    assert page.locator("#kiosk-account-error").is_hidden()
    page.locator("#kiosk-account").fill("x")
    page.locator("#kiosk-choice-submit").click()
    error = page.locator("#kiosk-account-error")
    error.wait_for(state="visible")
    assert "WeChat ID" in error.inner_text() and "携帯電話番号" in error.inner_text()
    assert not PayoutPreChoice.objects.filter(form=form).exists()
    screenshot(page, "kiosk-choice-error-ja")

"""The kiosk in Chromium, issue 11: typing a passport with letters by touch, a message for every
empty or malformed field, the trip in one view, the paid screen (how, how much, why less), the
green lane on a registered device, and the camera where the browser offers BarcodeDetector."""

from __future__ import annotations

import importlib
import re
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agencies.services import refund_pay
from customs.models import InspectionPolicy, Verification
from customs.services import verification_create
from tests.browser import screenshot
from tests.factories import line, make_form, traveler

PASSPORT = "E12AB3456"  # letters and digits: a digits-only keypad could not type it
DEMO_KEY = "kiosk-demo-2026"


@pytest.fixture(autouse=True)
def policies(transactional_db: None) -> None:
    from django.apps import apps

    importlib.import_module("core.migrations.0002_seed_policies").forwards(apps, None)


@pytest.fixture
def forms(demo: Any) -> list[Any]:
    """Two forms of one trip (same passport, same entry), nothing sampled for inspection."""
    InspectionPolicy.objects.update_or_create(
        port=demo.port, defaults={"seed": "kiosk", "sample_rate": "0", "threshold": "10000.00"}
    )
    who = traveler(document_number=PASSPORT)
    scarf = line(item="Silk scarf", unit_price="200.00")
    tea = line(item="Tea", quantity="2", unit_price="300.00")
    return [make_form(demo.store_sh, demo.clerk, goods, who=who) for goods in (scarf, tea)]


def touch(page: Any, text: str) -> None:
    for char in text:
        page.locator(f'#kiosk-keyboard .kiosk-key[data-key="{char}"]').click()


@pytest.mark.browser
def test_touch_typing_field_messages_and_the_trip(page: Any, forms: Any) -> None:
    page.goto(page.base_url + "/kiosk/")
    # Every key of the full keyboard is a touch target of at least 44 x 44 px.
    keys = page.locator("#kiosk-keyboard .kiosk-key:visible")
    assert keys.count() >= 36 + 3
    for i in range(keys.count()):
        box = keys.nth(i).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, keys.nth(i).inner_text()
    # Empty fields: a message under each, nothing sent.
    page.locator("#kiosk-submit").click()
    assert page.locator("#kiosk-form-error").inner_text() == (
        "Please enter the form number, or scan the QR code on your form."
    )
    assert page.locator("#kiosk-document-error").inner_text() == (
        "Please enter your passport or travel permit number."
    )
    # Malformed: a typo in the check digit, a passport with a stray character.
    first = forms[0].number
    page.locator("#kiosk-form-number").click()
    touch(page, first[:-1] + str((int(first[-1]) + 1) % 10))
    page.locator('.kiosk-key[data-key="next"]').click()
    touch(page, "E1")
    page.locator("#kiosk-submit").click()
    assert "typing error" in page.locator("#kiosk-form-error").inner_text()
    assert "5 to 20" in page.locator("#kiosk-document-error").inner_text()
    screenshot(page, "kiosk-field-messages")
    # Corrected by touch only: clear, the right number, then the passport with its letters.
    page.locator("#kiosk-form-number").click()
    page.locator('.kiosk-key[data-key="clear"]').click()
    touch(page, first)
    assert page.locator("#kiosk-form-error").is_hidden()
    page.locator("#kiosk-document").click()
    page.locator('.kiosk-key[data-key="clear"]').click()
    touch(page, PASSPORT)
    assert page.locator("#kiosk-document").input_value() == PASSPORT
    page.locator("#kiosk-submit").click()
    page.locator("#kiosk-result").wait_for(state="visible")
    rows = page.locator("#kiosk-trip-rows tr")
    assert rows.count() == 2
    assert forms[0].number in rows.nth(0).inner_text() and "this form" in rows.nth(0).inner_text()
    assert forms[1].number in rows.nth(1).inner_text() and "RMB 54.00" in rows.nth(1).inner_text()
    screenshot(page, "kiosk-trip")


@pytest.mark.browser
def test_paid_screen_says_how_how_much_and_why_less(page: Any, forms: Any, demo: Any) -> None:
    form = forms[1]  # 2 x 300.00 printed; customs sees one
    verification_create(
        port=demo.port,
        officer=demo.officer,
        form_number=form.number,
        qr=form.qr_payload,
        departure_date=timezone.localdate(),
        quantities={form.lines.get().pk: Decimal("1")},
    )
    refund_pay(
        form_number=form.number,
        qr=form.qr_payload,
        document_number=PASSPORT,
        payout_method="alipay",
        payout_account="traveler@example.com",
        agent=demo.agent,
        agency=demo.agency,
        port=demo.port,
    )
    page.goto(page.base_url + "/kiosk/?lang=en")
    page.locator("#kiosk-form-number").fill(form.qr_payload)
    page.locator("#kiosk-document").fill(PASSPORT)
    page.locator("#kiosk-submit").click()
    page.locator("#kiosk-payment").wait_for(state="visible")
    assert page.locator("#kiosk-paid-method").inner_text() == "Alipay"
    account = page.locator("#kiosk-paid-account").inner_text()
    assert account and "traveler@example.com" not in account  # masked
    assert page.locator("#kiosk-paid-amount").inner_text() == "RMB 27.00"
    assert page.locator("#kiosk-paid-estimate").inner_text() == "RMB 54.00"
    why = page.locator("#kiosk-paid-why").inner_text()
    assert "RMB 300.00" in why and "RMB 600.00" in why
    screenshot(page, "kiosk-paid")
    # The same screen in Arabic reads right to left, amounts and numbers left to right inside.
    page.goto(page.base_url + "/kiosk/?lang=ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.locator("#kiosk-form-number").fill(form.qr_payload)
    page.locator("#kiosk-document").fill(PASSPORT)
    page.locator("#kiosk-submit").click()
    page.locator("#kiosk-payment").wait_for(state="visible")
    assert "يوان" in page.locator("#kiosk-paid-amount").inner_text()
    assert page.locator("#kiosk-keyboard").evaluate("el => getComputedStyle(el).direction") == "ltr"
    screenshot(page, "kiosk-paid-ar")


@pytest.mark.browser
def test_green_lane_on_a_registered_device(page: Any, forms: Any, demo: Any) -> None:
    # Provisioning: the administrator stores the device key once on the machine.
    page.goto(page.base_url + "/kiosk/device/")
    page.locator("#device-key").fill(DEMO_KEY)
    page.locator("#device-save").click()
    page.get_by_text("This kiosk is KIOSK-PVG-1 at port PVG").wait_for()
    assert DEMO_KEY not in page.content()
    screenshot(page, "kiosk-device")

    form = forms[0]
    page.goto(page.base_url + "/kiosk/?lang=en")
    expect(page.locator("#kiosk")).to_have_attribute("data-device", "KIOSK-PVG-1", timeout=15_000)
    page.locator("#kiosk-form-number").fill(form.qr_payload)
    page.locator("#kiosk-document").fill(PASSPORT)
    page.locator("#kiosk-submit").click()
    page.locator("#kiosk-green-lane").wait_for(state="visible")
    screenshot(page, "kiosk-green-lane-offer")
    page.locator("#kiosk-green-lane-go").click()
    page.get_by_text("Verified at this kiosk (green lane).").wait_for()
    assert page.locator("#kiosk-status").inner_text() == "Verified by customs"
    verification = Verification.objects.get(form=form)
    assert (verification.channel, verification.officer_label) == ("kiosk", "device:KIOSK-PVG-1")
    screenshot(page, "kiosk-green-lane-done")


@pytest.mark.browser
def test_green_lane_pressed_again_is_no_error(page: Any, forms: Any, demo: Any) -> None:
    from kiosk.models import Device
    from kiosk.services import green_lane_verify

    page.goto(page.base_url + "/kiosk/device/")
    page.evaluate(f"localStorage.setItem('kiosk-device-key', '{DEMO_KEY}')")

    def offer(form: Any) -> None:
        page.goto(page.base_url + "/kiosk/?lang=en")
        expect(page.locator("#kiosk")).to_have_attribute(
            "data-device", "KIOSK-PVG-1", timeout=15_000
        )
        page.locator("#kiosk-form-number").fill(form.qr_payload)
        page.locator("#kiosk-document").fill(PASSPORT)
        page.locator("#kiosk-submit").click()
        page.locator("#kiosk-green-lane-go").wait_for(state="visible")

    # The first press reached the server but its reply was lost: the press again answers 409
    # already_verified, which this device's own stamp turns into the verified screen.
    first, second = forms
    offer(first)
    green_lane_verify(
        device=Device.objects.get(name="KIOSK-PVG-1"),
        form_number=first.number,
        qr=first.qr_payload,
        document_number=PASSPORT,
        departure_date=timezone.localdate(),
    )
    page.locator("#kiosk-green-lane-go").click()
    page.get_by_text("Verified at this kiosk (green lane).").wait_for()
    assert page.locator("#kiosk-status").inner_text() == "Verified by customs"
    assert page.locator("#kiosk-green-lane-go").is_hidden()
    assert "could not verify" not in page.locator("#kiosk-result").inner_text()
    screenshot(page, "kiosk-green-lane-again")

    # Verified at the customs desk meanwhile: the screen shows the form as verified, no error
    # and no claim that this kiosk did it.
    offer(second)
    verification_create(
        port=demo.port,
        officer=demo.officer,
        form_number=second.number,
        qr=second.qr_payload,
        departure_date=timezone.localdate(),
    )
    page.locator("#kiosk-green-lane-go").click()
    page.locator("#kiosk-green-lane").wait_for(state="hidden")
    assert page.locator("#kiosk-status").inner_text() == "Verified by customs"
    result = page.locator("#kiosk-result").inner_text()
    assert "could not verify" not in result and "Verified at this kiosk" not in result
    assert Verification.objects.get(form=second).channel == "counter"
    screenshot(page, "kiosk-green-lane-verified-at-desk")


@pytest.mark.browser
def test_no_green_lane_without_a_device_and_camera_reads_the_qr(page: Any, forms: Any) -> None:
    form = forms[0]
    # A browser with BarcodeDetector and a camera (stubbed: headless Chromium has neither).
    page.add_init_script(
        """
        window.BarcodeDetector = class {
          static getSupportedFormats() { return Promise.resolve(["qr_code"]); }
          detect() { return Promise.resolve([{ rawValue: QR }]); }
        };
        navigator.mediaDevices.getUserMedia = () => {
          const canvas = document.createElement("canvas");
          return Promise.resolve(canvas.captureStream());
        };
        """.replace("QR }", repr(form.qr_payload) + " }")
    )
    page.goto(page.base_url + "/kiosk/?lang=en")
    page.locator("#kiosk-camera").click()
    expect(page.locator("#kiosk-form-number")).to_have_value(re.compile(r"^RF1"), timeout=15_000)
    assert page.locator("#kiosk-camera-view").is_hidden()
    page.locator("#kiosk-document").fill(PASSPORT)
    page.locator("#kiosk-submit").click()
    page.locator("#kiosk-result").wait_for(state="visible")
    assert page.locator("#kiosk-green-lane").is_hidden()  # no device key on this machine

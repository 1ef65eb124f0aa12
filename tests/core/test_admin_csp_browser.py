"""The Django admin works under the site's Content-Security-Policy (no inline script or style)."""

from __future__ import annotations

import importlib

import pytest
from django.test import Client

from tests.browser import screenshot


@pytest.fixture(autouse=True)
def policies(transactional_db: None) -> None:
    from django.apps import apps

    importlib.import_module("core.migrations.0002_seed_policies").forwards(apps, None)


@pytest.mark.browser
def test_admin_pages_raise_no_csp_violation(demo, page):
    client = Client()
    client.force_login(demo.admin)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": page.base_url}]
    )
    for path in ["/admin/", "/admin/core/agencyfeerate/", "/admin/core/agencyfeerate/add/"]:
        page.goto(page.base_url + path)
        page.wait_for_load_state("networkidle")
    # A fee rate out of range is refused in words (the constraint's message).
    page.fill("input[name=effective_from]", "2026-12-01")
    page.fill("input[name=rate]", "0.5")
    page.click("input[name=_save]")
    page.wait_for_load_state("networkidle")
    assert "The fee rate must be at least 0% and below 11%." in page.content()
    screenshot(page, "admin-fee-rate-refused")
    # A kiosk device's one-time key page: its style comes from a file, not a style= attribute.
    page.goto(page.base_url + "/admin/kiosk/device/add/")
    page.fill("input[name=name]", "KIOSK-PVG-9")
    page.select_option("select[name=port]", label=str(demo.port))
    page.click("input[name=_save]")
    key = page.locator("#device-key")
    key.wait_for(state="visible")
    assert len(key.inner_text()) > 20
    assert key.evaluate("el => getComputedStyle(el).userSelect") == "all"
    screenshot(page, "admin-kiosk-device-key")
    # The page fixture fails this test on any CSP violation the browser reported.

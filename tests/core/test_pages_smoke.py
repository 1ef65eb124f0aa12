"""The login page and the landing page in a real browser."""

import pytest

from tests.browser import login, screenshot


@pytest.mark.browser
def test_login_redirects_clerk_to_store_portal(demo, page):
    login(page, "clerk")
    assert page.url.endswith("/store/")
    screenshot(page, "core-after-login")


@pytest.mark.browser
def test_wrong_password_is_refused_with_a_message(demo, page):
    login(page, "clerk", "wrong-password")
    assert "/accounts/login/" in page.url
    assert page.locator("[role=alert]").is_visible()
    screenshot(page, "core-login-refused")

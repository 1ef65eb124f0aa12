"""The /kiosk/ page through the Django test client: no login, ten languages, RTL."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.i18n import LANGUAGES, text

pytestmark = pytest.mark.django_db


def test_start_page_needs_no_login(client: Any) -> None:
    response = client.get("/kiosk/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en" dir="ltr">' in html
    assert text("en", "intro") in html
    assert 'data-lookup-url="/api/v1/kiosk/lookup/"' in html
    assert 'data-idle-seconds="60"' in html
    assert "no-cache" in response["Cache-Control"]
    # Every language button, by its native name.
    for code, name, _ in LANGUAGES:
        assert f'href="?lang={code}" lang="{code}"' in html
        assert name in html
    # The staff top bar's logout/login is not part of the kiosk.
    assert "Log out" not in html


@pytest.mark.parametrize("code", [code for code, _, _ in LANGUAGES])
def test_each_language_renders(client: Any, code: str) -> None:
    html = client.get(f"/kiosk/?lang={code}").content.decode()
    direction = "rtl" if code == "ar" else "ltr"
    assert f'<html lang="{code}" dir="{direction}">' in html
    assert text(code, "title") in html
    assert text(code, "lookup") in html
    assert 'aria-current="true"' in html


def test_unknown_language_is_english(client: Any) -> None:
    html = client.get("/kiosk/?lang=<script>").content.decode()
    assert '<html lang="en" dir="ltr">' in html
    assert '<script>"' not in html


def test_logged_in_staff_see_the_same_kiosk(client: Any, demo: Any) -> None:
    client.force_login(demo.clerk)
    assert client.get("/kiosk/?lang=ko").status_code == 200

"""Logins: lockout per user name and address (account_locked), the TOTP second factor."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
PASSWORD = "refund-demo-2026"


@pytest.fixture
def axes_on(settings: Any) -> None:
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3


def _token(api: Any, username: str, password: str, ip: str = "198.51.100.1", **extra: Any) -> Any:
    return api().post(
        TOKEN, {"username": username, "password": password, **extra}, format="json", REMOTE_ADDR=ip
    )


def test_random_names_from_one_address_lock_nobody_else(demo: Any, api: Any, axes_on: None) -> None:
    # Given many failed logins with random user names from one address (a shared proxy),
    for n in range(12):
        assert _token(api, f"nobody{n}", "wrong").status_code == 401
    # then a real user behind the same address still logs in.
    assert _token(api, "clerk", PASSWORD).status_code == 200


def test_one_user_locked_per_address_with_its_own_code(demo: Any, api: Any, axes_on: None) -> None:
    for _ in range(2):
        assert _token(api, "clerk", "wrong").json()["code"] == "invalid_credentials"
    # The third failure reaches the limit: that answer already says so, as do the next.
    assert _token(api, "clerk", "wrong").json()["code"] == "account_locked"
    locked = _token(api, "clerk", PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"
    # The same user from another address, and another user from this one, are not locked.
    assert _token(api, "clerk", PASSWORD, ip="203.0.113.5").status_code == 200
    assert _token(api, "officer", PASSWORD).status_code == 200
    assert AccessAttempt.objects.filter(username="clerk", ip_address="198.51.100.1").exists()


def test_login_page_says_the_account_is_locked(demo: Any, client: Any, axes_on: None) -> None:
    for _ in range(2):
        page = client.post("/accounts/login/", {"username": "agent", "password": "wrong"})
        assert page.status_code == 200
    client.post("/accounts/login/", {"username": "agent", "password": "wrong"})
    page = client.post("/accounts/login/", {"username": "agent", "password": PASSWORD})
    assert page.status_code == 429
    html = page.content.decode()
    assert 'data-code="account_locked"' in html
    assert "locked" in html


def _code(device: TOTPDevice, drift: int = 0) -> str:
    return str(
        totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift)
    ).zfill(device.digits)


def test_totp_enrollment_and_second_step(demo: Any, client: Any, api: Any, settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # no growing wait after a wrong code, in a test
    # Enroll: the page shows a QR code (SVG) and confirms the device with a code.
    client.force_login(demo.officer)
    page = client.get("/accounts/otp/")
    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=demo.officer, confirmed=False)
    assert client.post("/accounts/otp/", {"code": "000000x"}).status_code == 400
    assert (
        client.post("/accounts/otp/", {"code": _code(device), "next": "/customs/"}).status_code
        == 302
    )
    device.refresh_from_db()
    assert device.confirmed

    # A new password login now needs the code before any page.
    fresh = type(client)()
    login = fresh.post("/accounts/login/", {"username": "officer", "password": PASSWORD})
    assert login.status_code == 302
    assert login["Location"].startswith("/accounts/otp/verify/")
    blocked = fresh.get("/customs/")
    assert blocked.status_code == 302
    assert blocked["Location"].startswith("/accounts/otp/verify/")
    assert fresh.post("/accounts/otp/verify/", {"code": "123"}).status_code == 400
    device.refresh_from_db()
    assert (
        fresh.post(
            "/accounts/otp/verify/", {"code": _code(device, 1), "next": "/customs/"}
        ).status_code
        == 302
    )
    assert fresh.get("/customs/").status_code == 200

    # The API token needs the code too.
    assert _token(api, "officer", PASSWORD).json()["code"] == "otp_required"
    assert _token(api, "officer", PASSWORD, otp="000000").json()["code"] == "otp_invalid"
    device.refresh_from_db()
    assert _token(api, "officer", PASSWORD, otp=_code(device, 2)).status_code == 200


def test_totp_required_in_production_optional_in_demo(demo: Any, client: Any, api: Any) -> None:
    # Demo: a clerk and an officer without a device work normally.
    assert _token(api, "officer", PASSWORD).status_code == 200
    with override_settings(OTP_REQUIRED=True):
        # Production: officers, agents, analysts and admins must enroll first ...
        refused = _token(api, "agent", PASSWORD)
        assert refused.status_code == 403
        assert refused.json()["code"] == "otp_enrollment_required"
        client.force_login(demo.agent)
        page = client.get("/agency/")
        assert page.status_code == 302
        assert page["Location"].startswith("/accounts/otp/")
        # ... store clerks are not in the required roles.
        assert _token(api, "clerk", PASSWORD).status_code == 200
    from refund_site.settings import base

    assert base.OTP_REQUIRED is False
    assert "officer" in base.OTP_REQUIRED_ROLES and "agent" in base.OTP_REQUIRED_ROLES

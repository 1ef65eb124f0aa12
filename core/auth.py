"""Logins: the lockout answer (django-axes) and the second factor (TOTP, django-otp).

Lockout: ``AXES_LOCKOUT_PARAMETERS`` counts failures per user name *and* client address,
so guessing with random names from one address (a shared proxy) locks no real user out.
A locked login answers ``account_locked``: 429 JSON under /api/, the login page with a
message elsewhere.

Second factor: any staff user may enroll an authenticator app (``/accounts/otp/``); a
user with a confirmed device must give a code after the password, on the pages (the
``/accounts/otp/verify/`` step) and for an API token (``otp`` field). With
``OTP_REQUIRED`` (production) the roles in ``OTP_REQUIRED_ROLES`` and superusers must
enroll before anything else.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.api.errors import error_body
from core.exceptions import ApplicationError
from core.selectors import membership_of

LOCKED_MESSAGE = (
    "This account is locked after too many failed logins from this address. "
    "Try again in an hour or ask an administrator to unlock it."
)
OTP_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/api/v1/auth/token/", "/api/schema/", "/kiosk/")


class AccountLocked(ApplicationError):
    """Too many failed logins for this user name from this address (429)."""

    status_code = 429
    default_code = "account_locked"


class OtpRequired(ApplicationError):
    """This user has an authenticator: the login needs its current code (401)."""

    status_code = 401
    default_code = "otp_required"


class OtpEnrollmentRequired(ApplicationError):
    """This role must enroll an authenticator before using the platform (403)."""

    status_code = 403
    default_code = "otp_enrollment_required"


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: ``account_locked`` as JSON for the API, a page message else."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(AccountLocked.default_code, LOCKED_MESSAGE), status=429)
    form = AuthenticationForm(request, data=request.POST or None)
    return render(
        request,
        "registration/login.html",
        {"form": form, "locked_message": LOCKED_MESSAGE, "next": request.POST.get("next", "")},
        status=429,
    )


def otp_required_for(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether this user must have a second factor (production: officers, agents, admins)."""
    if not settings.OTP_REQUIRED or not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False) or getattr(user, "is_staff", False):
        return True
    membership = membership_of(user)
    return membership is not None and membership.role in settings.OTP_REQUIRED_ROLES


def token_login_second_factor(*, user: AbstractBaseUser, code: Any) -> None:
    """The API token's second factor: a confirmed device needs its code; enroll if required."""
    if user_has_device(user, confirmed=True):
        if not isinstance(code, str) or not code.strip():
            raise OtpRequired("This account has an authenticator: send its code as 'otp'.")
        for device in TOTPDevice.objects.devices_for_user(user, confirmed=True):
            if device.verify_token(code.strip()):
                return
        raise OtpRequired("The authenticator code is wrong or expired.", code="otp_invalid")
    if otp_required_for(user):
        raise OtpEnrollmentRequired(
            "Enroll an authenticator at /accounts/otp/ before using the API."
        )


class OtpMiddleware:
    """After django_otp's OTPMiddleware: send a password-only login to the second step."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        path = request.path
        if user.is_authenticated and not path.startswith(OTP_EXEMPT_PREFIXES):
            verified = user.is_verified()  # type: ignore[union-attr,attr-defined]
            if not verified and user_has_device(user, confirmed=True):
                return self._refuse(request, "otp_verify", OtpRequired)
            if not verified and otp_required_for(user):
                return self._refuse(request, "otp_enroll", OtpEnrollmentRequired)
        return self.get_response(request)

    @staticmethod
    def _refuse(request: HttpRequest, page: str, error: type[ApplicationError]) -> HttpResponse:
        if request.path.startswith("/api/"):
            message = "Complete the second login step (authenticator code) first."
            return JsonResponse(error_body(error.default_code, message), status=error.status_code)
        return redirect(
            f"/accounts/otp/{'verify/' if page == 'otp_verify' else ''}"
            f"?next={quote(request.get_full_path())}"
        )


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or settings.LOGIN_REDIRECT_URL
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return str(settings.LOGIN_REDIRECT_URL)


class StaffLoginView(LoginView):
    """The password step; a user with an authenticator goes on to the code step."""

    def get_success_url(self) -> str:
        url = super().get_success_url()
        if user_has_device(self.request.user, confirmed=True):
            return f"/accounts/otp/verify/?next={quote(url)}"
        return url


def _qr_svg(url: str) -> str:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, svgns=True)
    return buffer.getvalue().decode()


@login_required
def otp_enroll(request: HttpRequest) -> HttpResponse:
    """Show a new authenticator's QR code; a correct code confirms it and verifies the login."""
    user = request.user
    if user_has_device(user, confirmed=True) and not user.is_verified():  # type: ignore[union-attr]
        return redirect(f"/accounts/otp/verify/?next={quote(_safe_next(request))}")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    error = ""
    if request.method == "POST":
        code = request.POST.get("code", "").strip()
        if code.isdigit() and device.verify_token(code):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            return redirect(_safe_next(request))
        error = "That code is not right. Check the time on your phone and try the next code."
    return render(
        request,
        "registration/otp_enroll.html",
        {
            "qr_svg": _qr_svg(device.config_url),
            "secret": device.config_url.split("secret=", 1)[1].split("&", 1)[0],
            "error": error,
            "confirmed": user_has_device(user, confirmed=True),
            "required": otp_required_for(user),
            "next": _safe_next(request),
        },
        status=400 if error else 200,
    )


@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    """The second login step: the current code of the user's authenticator."""
    user = request.user
    if not user_has_device(user, confirmed=True):
        return redirect(_safe_next(request))
    error = ""
    if request.method == "POST":
        code = request.POST.get("code", "").strip()
        for device in TOTPDevice.objects.devices_for_user(user, confirmed=True):
            if code.isdigit() and device.verify_token(code):
                otp_login(request, device)
                return redirect(_safe_next(request))
        error = "That code is not right or has expired."
    return render(
        request,
        "registration/otp_verify.html",
        {"error": error, "next": _safe_next(request)},
        status=400 if error else 200,
    )

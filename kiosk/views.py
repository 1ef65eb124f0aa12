"""The kiosk pages: no login; the start screen in the chosen language; the device set-up.

The page's script looks forms up through the API; the ``<form>`` itself posts to this
page, so a submit before the script has run (or without it) never puts the form and
document numbers in a URL, and is answered here with the same checks, throttle and lock.

The language: ``?lang=`` (the language buttons) or, without it, the browser's
(``Accept-Language``, through Django's ``LocaleMiddleware``); the idle reset goes back to
the browser's language.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.net import client_ip
from kiosk.guards import FormLocked, KioskRateThrottle, form_guarded
from kiosk.i18n import LANGUAGE_CODES, LANGUAGES, RTL_LANGUAGES, language_of, money, strings, text
from kiosk.selectors import (
    KioskNotFound,
    form_number_from_input,
    kiosk_lookup,
    lookup_field_errors,
)

IDLE_SECONDS = 60
WARNING_SECONDS = 10


def _posted_lookup(
    request: HttpRequest, lang: str
) -> tuple[dict[str, Any] | None, str, dict[str, str], int]:
    """The lookup of a posted form: (result, error message, field messages, status)."""
    if not KioskRateThrottle().allow_request(request, None):  # type: ignore[arg-type]
        return None, text(lang, "throttled"), {}, 429
    form, document = request.POST.get("form"), request.POST.get("document_number")
    errors = lookup_field_errors(form=form, document_number=document)
    if errors:
        fields = {name: text(lang, key) for name, key in errors.items()}
        return None, "", fields, 400
    try:
        result = form_guarded(
            number=form_number_from_input(form),
            attempt=lambda: kiosk_lookup(form=form, document_number=document, lang=lang),
            miss=KioskNotFound,
            client=client_ip(request),
        )
    except KioskNotFound:
        return None, text(lang, "not_found"), {}, 404
    except FormLocked:
        return None, text(lang, "form_locked"), {}, 429
    data = result.as_dict()
    for view in (data, *data["trip"]):
        view["total_text"] = money(lang, view["total"])
        view["net_text"] = money(lang, view["net_refund"])
        for event in view["timeline"]:
            event["at_text"] = event["at"][:16].replace("T", " ")  # Asia/Shanghai already
    return data, "", {}, 200


def _browser_language(request: HttpRequest) -> str:
    code = (getattr(request, "LANGUAGE_CODE", "") or "").lower()
    return code if code in LANGUAGE_CODES else language_of(None)


@require_http_methods(["GET", "POST"])
@never_cache
def kiosk_home(request: HttpRequest) -> HttpResponse:
    """Start screen: language buttons, scan or type the form number and passport number."""
    source = request.POST if request.method == "POST" else request.GET
    browser = _browser_language(request)
    chosen = source.get("lang") or request.GET.get("lang")
    lang = language_of(chosen) if chosen else browser
    field_errors: dict[str, str] = {}
    result, error, status = None, "", 200
    if request.method == "POST":
        result, error, field_errors, status = _posted_lookup(request, lang)
    with translation.override(lang):
        return render(
            request,
            "kiosk/home.html",
            {
                "lang": lang,
                "default_lang": browser,
                "LANGUAGE_CODE": lang,
                "text_direction": "rtl" if lang in RTL_LANGUAGES else "ltr",
                "languages": [
                    {"code": code, "name": name, "rtl": rtl, "current": code == lang}
                    for code, name, rtl in LANGUAGES
                ],
                "strings": strings(lang),
                "keyboard_rows": KEYBOARD_ROWS,
                "idle_seconds": IDLE_SECONDS,
                "warning_seconds": WARNING_SECONDS,
                "result": result,
                "error": error,
                "field_errors": field_errors,
                "posted_form": request.POST.get("form", "")[:200] if field_errors else "",
            },
            status=status,
        )


# The on-screen keyboard: digits, then the Latin letters in QWERTY rows (passport and
# permit numbers are A-Z and 0-9 under every language), then the characters an account
# or an email address needs.
KEYBOARD_ROWS = [
    list("1234567890"),
    list("QWERTYUIOP"),
    list("ASDFGHJKL"),
    list("ZXCVBNM"),
]
ACCOUNT_KEYS = list("@.-_+")


@require_GET
@never_cache
def kiosk_device(request: HttpRequest) -> HttpResponse:
    """Set-up page of a kiosk machine: store (or forget) its device key in this browser.

    Not linked from the kiosk: an administrator opens it once on the machine and pastes the
    key shown when the device was registered. The key lives only in the machine's local
    storage and travels only as ``Authorization: Device <key>``; it is never in the page,
    a URL or a cookie.
    """
    return render(request, "kiosk/device.html", {"LANGUAGE_CODE": "en"})

"""The kiosk page: no login, the start screen in the chosen language.

The page's script looks forms up through the API; the ``<form>`` itself posts to this
page, so a submit before the script has run (or without it) never puts the form and
document numbers in a URL, and is answered here with the same lookup, throttle and lock.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from kiosk.guards import FormLocked, KioskRateThrottle, form_guarded
from kiosk.i18n import CATALOG, DEFAULT_LANGUAGE, LANGUAGES, RTL_LANGUAGES, language_of, money
from kiosk.selectors import KioskNotFound, form_number_from_input, kiosk_lookup

IDLE_SECONDS = 60
WARNING_SECONDS = 10


def _posted_lookup(request: HttpRequest, lang: str) -> tuple[dict[str, Any] | None, str, int]:
    """The lookup of a posted form: (result, error message, status)."""
    t = CATALOG[lang]
    if not KioskRateThrottle().allow_request(request, None):  # type: ignore[arg-type]
        return None, t["throttled"], 429
    form, document = request.POST.get("form"), request.POST.get("document_number")
    try:
        result = form_guarded(
            number=form_number_from_input(form),
            attempt=lambda: kiosk_lookup(form=form, document_number=document, lang=lang),
            miss=KioskNotFound,
        )
    except KioskNotFound:
        return None, t["not_found"], 404
    except FormLocked:
        return None, t["form_locked"], 429
    data = result.as_dict()
    data["total_text"] = money(lang, data["total"])
    data["net_text"] = money(lang, data["net_refund"])
    for event in data["timeline"]:
        event["at_text"] = event["at"][:16].replace("T", " ")  # Asia/Shanghai already
    return data, "", 200


@require_http_methods(["GET", "POST"])
@never_cache
def kiosk_home(request: HttpRequest) -> HttpResponse:
    """Start screen: language buttons, scan or type the form number and passport number."""
    source = request.POST if request.method == "POST" else request.GET
    lang = language_of(source.get("lang") or request.GET.get("lang"))
    result, error, status = None, "", 200
    if request.method == "POST":
        result, error, status = _posted_lookup(request, lang)
    return render(
        request,
        "kiosk/home.html",
        {
            "lang": lang,
            "default_lang": DEFAULT_LANGUAGE,
            "LANGUAGE_CODE": lang,
            "text_direction": "rtl" if lang in RTL_LANGUAGES else "ltr",
            "languages": [
                {"code": code, "name": name, "rtl": rtl, "current": code == lang}
                for code, name, rtl in LANGUAGES
            ],
            "t": CATALOG[lang],
            "idle_seconds": IDLE_SECONDS,
            "warning_seconds": WARNING_SECONDS,
            "result": result,
            "error": error,
        },
        status=status,
    )

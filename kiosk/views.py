"""The kiosk page: no login, the start screen in the chosen language."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kiosk.i18n import CATALOG, DEFAULT_LANGUAGE, LANGUAGES, RTL_LANGUAGES, language_of

IDLE_SECONDS = 60
WARNING_SECONDS = 10


@require_GET
@never_cache
def kiosk_home(request: HttpRequest) -> HttpResponse:
    """Start screen: language buttons, scan or type the form number and passport number."""
    lang = language_of(request.GET.get("lang"))
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
        },
    )

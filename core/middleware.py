"""Response headers every reply with personal data needs."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# Public, cacheable and free of personal data: static files, the schema and its docs,
# the public keys. Everything else (API, staff pages, kiosk, traveler page, admin) may
# carry a traveler's name or document and must never sit in a browser or proxy cache.
CACHEABLE_PREFIXES = ("/static/", "/api/schema/", "/api/docs/", "/api/v1/keys/")


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every reply that may carry personal data."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(CACHEABLE_PREFIXES) or request.path == "/":
            return response
        if "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response

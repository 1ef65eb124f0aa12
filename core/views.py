"""The landing page, and error pages that answer API clients in the shared JSON shape."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from core.api.errors import error_body
from core.selectors import membership_of

PORTALS = {
    "clerk": "/store/",
    "officer": "/customs/",
    "agent": "/agency/",
    "analyst": "/authority/",
}


def home(request: HttpRequest) -> HttpResponse:
    """Staff go to their portal; others see the links."""
    membership = membership_of(request.user)
    if membership is not None:
        return redirect(PORTALS[membership.role])
    return render(request, "home.html")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """404 for an unknown address under /api/, in the shared shape even with DEBUG on."""
    return JsonResponse(
        error_body("not_found", "No API endpoint at this address.", {"path": request.path}),
        status=404,
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: JSON under /api/ (an unknown URL is not an HTML page for an API client)."""
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 raised outside a DRF view (e.g. a disallowed Host)."""
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "The request is malformed."), status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """500: a bug; API clients still get the shared shape, never an HTML page."""
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it has been logged."),
            status=500,
        )
    return defaults.server_error(request)

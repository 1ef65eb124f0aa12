"""The landing page: sends each staff member to their portal."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.selectors import membership_of

PORTALS = {"clerk": "/store/", "officer": "/customs/", "agent": "/agency/"}


def home(request: HttpRequest) -> HttpResponse:
    """Staff go to their portal; others see the links."""
    membership = membership_of(request.user)
    if membership is not None:
        return redirect(PORTALS[membership.role])
    return render(request, "home.html")

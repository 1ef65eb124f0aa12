"""The traveler's phone page ``/t/<token>/``: no login; the token is the key.

Anyone holding the printed QR (the traveler) sees the trip's forms: status, amounts and
why they differ, the Buy & Refund deadline and hold, the pre-chosen transfer. No name and
no document number are shown, and choosing a transfer needs the full document number, as
at the kiosk (same throttle, same per-form lock).
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.exceptions import ApplicationError
from core.net import client_ip
from kiosk.guards import FormLocked, KioskRateThrottle, form_guarded
from kiosk.selectors import form_number_from_input
from travelers.exceptions import TravelerFormNotFound
from travelers.forms import ContactForm, PayoutChoiceForm
from travelers.models import TravelerPage
from travelers.selectors import page_by_token, trip_views
from travelers.services import (
    language_parse,
    payout_choice_set,
    traveler_contact_set,
    traveler_unsubscribe,
)

RTL = {"ar"}


def _page_or_404(token: str) -> TravelerPage:
    page = page_by_token(token)
    if page is None:
        raise Http404("No such page.")
    return page


def _language(request: HttpRequest) -> str:
    """?lang= switches (and is remembered in the language cookie); else the browser's."""
    chosen = request.GET.get("lang")
    if chosen:
        return language_parse(chosen)
    return language_parse(translation.get_language_from_request(request))


def _render(
    request: HttpRequest,
    page: TravelerPage,
    lang: str,
    *,
    contact: ContactForm | None = None,
    choice: PayoutChoiceForm | None = None,
    message: str = "",
    status: int = 200,
) -> HttpResponse:
    with translation.override(lang):
        context = {
            "page": page,
            "lang": lang,
            "dir": "rtl" if lang in RTL else "ltr",
            "languages": settings.LANGUAGES,
            "views": trip_views(page),
            "contact": contact or ContactForm(),
            "choice": choice or PayoutChoiceForm(initial={"form_number": page.form.number}),
            "message": message,
            "has_email": bool(page.email) and page.unsubscribed_at is None,
        }
        response = render(request, "travelers/page.html", context, status=status)
    response.headers["Content-Language"] = lang
    if request.GET.get("lang"):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, lang, max_age=365 * 24 * 3600, samesite="Lax"
        )
    return response


def _choice_error(code: str) -> tuple[str | None, str]:
    """The field and the message, in the page's language, for a refused choice."""
    if code == "invalid_card_number":
        return "payout_account", _("Enter a valid bank card number.")
    if code in ("invalid_payout_account", "invalid_payout_method"):
        return "payout_account", _("Enter a valid account for this payment method.")
    if code == "already_refunded":
        return None, _("This form is already refunded.")
    return None, _("Nothing will be paid for this form.")


@never_cache
@require_http_methods(["GET"])
def phone_page(request: HttpRequest, token: str) -> HttpResponse:
    page = _page_or_404(token)
    return _render(request, page, _language(request))


@never_cache
@require_http_methods(["POST"])
def contact_set(request: HttpRequest, token: str) -> HttpResponse:
    page = _page_or_404(token)
    lang = _language(request)
    form = ContactForm(request.POST)
    if not form.is_valid():
        return _render(request, page, lang, contact=form, status=400)
    traveler_contact_set(page=page, email=form.cleaned_data["email"], language=lang)
    return redirect(f"{page.path}?lang={lang}&saved=contact")


@never_cache
@require_http_methods(["POST"])
def payout_choose(request: HttpRequest, token: str) -> HttpResponse:
    page = _page_or_404(token)
    lang = _language(request)
    form = PayoutChoiceForm(request.POST)
    with translation.override(lang):
        if not form.is_valid():
            return _render(request, page, lang, choice=form, status=400)
        if not KioskRateThrottle().allow_request(request, None):  # type: ignore[arg-type]
            return _render(
                request,
                page,
                lang,
                choice=form,
                message=_("Too many tries: wait a minute."),
                status=429,
            )
        data = form.cleaned_data
        number = form_number_from_input(data["form_number"])
        try:
            form_guarded(
                number=number,
                attempt=lambda: payout_choice_set(
                    form_number=number or "",
                    document_number=data["document_number"],
                    payout_method=data["payout_method"],
                    payout_account=data["payout_account"],
                    language=lang,
                ),
                miss=TravelerFormNotFound,
                client=client_ip(request),
            )
        except TravelerFormNotFound:
            form.add_error(
                "document_number", _("The form number and document number do not match.")
            )
            return _render(request, page, lang, choice=form, status=404)
        except FormLocked:
            return _render(
                request,
                page,
                lang,
                choice=form,
                message=_("Too many wrong document numbers: try again in 15 minutes."),
                status=429,
            )
        except ApplicationError as error:
            field, text = _choice_error(error.code)
            form.add_error(field, text)
            return _render(request, page, lang, choice=form, status=error.status_code)
    return redirect(f"{page.path}?lang={lang}&saved=choice")


@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    page = _page_or_404(token)
    lang = _language(request)
    done = False
    if request.method == "POST":
        traveler_unsubscribe(page=page)
        done = True
    with translation.override(lang):
        response = render(
            request,
            "travelers/unsubscribe.html",
            {"page": page, "lang": lang, "dir": "rtl" if lang in RTL else "ltr", "done": done},
        )
    return response

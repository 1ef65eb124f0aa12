"""POST /api/v1/travelers/payout-choice/: a transfer chosen ahead, anonymous and throttled."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_body
from core.api.schema import error_response
from core.exceptions import BadRequest
from core.net import client_ip
from kiosk.guards import KioskRateThrottle, form_guarded
from kiosk.selectors import form_number_from_input
from travelers.api.serializers import PayoutChoiceIn, PayoutChoiceOut
from travelers.exceptions import TravelerFormNotFound
from travelers.services import payout_choice_set

NOT_FOUND_BODY = error_body(
    "not_found", "No refund form matches this form number and document number."
)
NO_STORE = {"Cache-Control": "no-store"}


def _text(data: dict[str, Any], key: str, limit: int = 254) -> str:
    value = data.get(key)
    return value[:limit] if isinstance(value, str) else ""


def _email(data: dict[str, Any]) -> str:
    email = _text(data, "email").strip()
    if not email:
        return ""
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise BadRequest(
            "The email address is not valid.",
            "invalid",
            {"fields": {"email": ["Enter a valid email address."]}},
        ) from exc
    return email


class PayoutChoiceView(APIView):
    """The traveler chooses the transfer for a form; paid once customs verifies (SPEC §2)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [KioskRateThrottle]

    @extend_schema(
        operation_id="travelers_payout_choice",
        summary="Choose the transfer a form is paid by after customs (no counter visit)",
        request=PayoutChoiceIn,
        responses={
            201: PayoutChoiceOut,
            400: error_response(
                "invalid_payout_method, invalid_payout_account, invalid_card_number, invalid"
                " (a bad email): nothing was written."
            ),
            404: error_response("No form matches (the same answer as the kiosk lookup)."),
            409: error_response(
                "already_refunded: the form is paid (or prepaid, or being paid);"
                " form_not_payable: voided or refused by customs."
            ),
            429: error_response("throttled, or form_locked after five wrong document numbers."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        # Read by hand, as the kiosk lookup: any mismatch answers like an unknown form.
        data = request.data if isinstance(request.data, dict) else {}
        number = form_number_from_input(data.get("form"))
        email = _email(data)
        try:
            choice = form_guarded(
                number=number,
                attempt=lambda: payout_choice_set(
                    form_number=number or "",
                    document_number=_text(data, "document_number", 64),
                    payout_method=_text(data, "payout_method", 16),
                    payout_account=_text(data, "payout_account", 128),
                    email=email,
                    language=_text(data, "lang", 16),
                ),
                miss=TravelerFormNotFound,
                client=client_ip(request),
            )
        except TravelerFormNotFound:
            return Response(dict(NOT_FOUND_BODY), status=404, headers=NO_STORE)
        return Response(
            {
                "form": choice.form.number,
                "payout_method": choice.payout_method,
                "payout_account": choice.payout_account_masked,
                "status": choice.status,
            },
            status=201,
            headers=NO_STORE,
        )

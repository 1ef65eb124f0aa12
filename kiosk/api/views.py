"""Kiosk API: anyone may look up a form with its document number, throttled."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_body
from core.api.schema import error_response
from kiosk.api.serializers import KioskLookupIn, KioskLookupOut
from kiosk.guards import KioskRateThrottle, form_guarded
from kiosk.selectors import KioskNotFound, form_number_from_input, kiosk_lookup

NOT_FOUND_BODY = error_body(
    "not_found", "No refund form matches this form number and document number."
)


class LookupView(APIView):
    """POST /api/v1/kiosk/lookup/ (SPEC §4): one uniform 404 for any mismatch."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [KioskRateThrottle]

    @extend_schema(
        request=KioskLookupIn,
        responses={
            200: KioskLookupOut,
            400: error_response("The body is not JSON."),
            404: error_response("No form matches (the same answer for any mismatch)."),
            429: error_response(
                "throttled: too many lookups from this address; form_locked: five wrong"
                " document numbers for this form, kiosk lookups of it wait 15 minutes."
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        # Fields are read by hand rather than validated by LookupIn: a missing or
        # malformed field must answer exactly like an unknown form (no probing).
        data = request.data if isinstance(request.data, dict) else {}
        try:
            result = form_guarded(
                number=form_number_from_input(data.get("form")),
                attempt=lambda: kiosk_lookup(
                    form=data.get("form"),
                    document_number=data.get("document_number"),
                    lang=data.get("lang") or request.query_params.get("lang"),
                ),
                miss=KioskNotFound,
            )
        except KioskNotFound:
            return Response(dict(NOT_FOUND_BODY), status=404, headers={"Cache-Control": "no-store"})
        return Response(result.as_dict(), headers={"Cache-Control": "no-store"})

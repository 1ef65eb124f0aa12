"""Kiosk API: anyone may look up a form with its document number (throttled); a registered
kiosk device may verify a form through the green lane."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_body
from core.api.schema import error_response
from core.net import client_ip
from customs.api.serializers import VerificationOut, verification_out
from customs.selectors import verification_reply
from kiosk.api.serializers import (
    DeviceOut,
    GreenLaneIn,
    KioskLookupIn,
    KioskLookupReplyOut,
)
from kiosk.auth import DeviceAuthentication, IsKioskDevice
from kiosk.guards import KioskRateThrottle, form_guarded, form_lock_keys
from kiosk.i18n import language_of, text
from kiosk.selectors import (
    KioskNotFound,
    form_number_from_input,
    form_number_named,
    kiosk_lookup,
    lookup_field_errors,
)
from kiosk.services import green_lane_verify

NOT_FOUND_BODY = error_body(
    "not_found", "No refund form matches this form number and document number."
)
NO_STORE = {"Cache-Control": "no-store"}


def field_errors_body(errors: dict[str, str], lang: str) -> dict[str, Any]:
    """400 ``invalid``: each empty or malformed field, its message in the traveler's language."""
    fields = {name: [text(lang, key)] for name, key in errors.items()}
    codes = {name: key.removeprefix("err_") for name, key in errors.items()}
    first = next(iter(fields.values()))[0]
    return error_body("invalid", first, {"fields": fields, "codes": codes})


class LookupView(APIView):
    """POST /api/v1/kiosk/lookup/ (SPEC §4): one uniform 404 for any mismatch."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [KioskRateThrottle]

    def check_throttles(self, request: Request) -> None:
        # A lookup is throttled first thing in ``post``, where the throttle's cache read
        # brings the form's lock along (one read); any other method here as DRF does.
        if request.method != "POST":
            super().check_throttles(request)

    def _throttle(self, request: Request, also: list[str]) -> dict[str, Any]:
        """The kiosk throttle (429 ``throttled``), its read with the cache keys ``also``."""
        found: dict[str, Any] = {}
        waits = []
        for throttle in self.get_throttles():
            if isinstance(throttle, KioskRateThrottle):
                allowed, found = throttle.allow_request_reading(request, self, also)
            else:
                allowed = throttle.allow_request(request, self)
            if not allowed:
                waits.append(throttle.wait())
        if waits:
            self.throttled(request, max((w for w in waits if w is not None), default=None))  # type: ignore[arg-type]
        return found

    @extend_schema(
        request=KioskLookupIn,
        responses={
            200: KioskLookupReplyOut,
            400: error_response(
                "invalid: a field is empty or malformed (extra.fields: the message per field in"
                " the requested language; extra.codes: form_empty, form_malformed, form_check,"
                " qr_incomplete, document_empty, document_malformed). Also a body that is not"
                " JSON."
            ),
            404: error_response("No form matches (the same answer for any mismatch)."),
            429: error_response(
                "throttled: too many lookups from this address; form_locked: five wrong"
                " document numbers for this form, kiosk lookups of it wait 15 minutes."
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        try:
            body = request.data
        except Exception:
            self._throttle(request, [])  # counted, and 429 before a bad body's 400, as ever
            raise
        # Fields are read by hand rather than validated by KioskLookupIn: what is wrong with
        # the characters typed is said per field (it tells nothing about stored forms);
        # anything well-formed that does not match answers exactly like an unknown form.
        data = body if isinstance(body, dict) else {}
        named = form_number_named(data.get("form"))
        seen = self._throttle(request, form_lock_keys(named) if named else [])
        lang = language_of(_str(data.get("lang")) or request.query_params.get("lang"))
        errors = lookup_field_errors(
            form=data.get("form"), document_number=data.get("document_number")
        )
        if errors:
            return Response(field_errors_body(errors, lang), status=400, headers=NO_STORE)
        number = form_number_from_input(data.get("form"))
        try:
            result = form_guarded(
                number=number,
                attempt=lambda: kiosk_lookup(
                    form=data.get("form"), document_number=data.get("document_number"), lang=lang
                ),
                miss=KioskNotFound,
                client=client_ip(request),
                # the form's lock as read with the throttle, when it is this form's
                seen=seen if number is not None and number == named else None,
            )
        except KioskNotFound:
            return Response(dict(NOT_FOUND_BODY), status=404, headers=NO_STORE)
        return Response(result.as_dict(), headers=NO_STORE)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


DEVICE_AUTH = [
    OpenApiParameter(
        "Authorization",
        str,
        OpenApiParameter.HEADER,
        required=True,
        description="Device <key>: the key shown once when the kiosk device was registered.",
    )
]


class DeviceView(APIView):
    """GET /api/v1/kiosk/device/: which registered device this key is (the kiosk page checks
    its stored key with it before offering the green lane)."""

    authentication_classes = [DeviceAuthentication]
    permission_classes = [IsKioskDevice]

    @extend_schema(
        responses={
            200: DeviceOut,
            401: error_response("No Device header, or an unknown or revoked key."),
        },
        parameters=DEVICE_AUTH,
        auth=[],
    )
    def get(self, request: Request) -> Response:
        return Response(DeviceOut(request.auth).data, headers=NO_STORE)


class GreenLaneView(APIView):
    """POST /api/v1/kiosk/green-lane/ (SPEC §4): customs verification at a registered kiosk."""

    authentication_classes = [DeviceAuthentication]
    permission_classes = [IsKioskDevice]
    throttle_classes = [KioskRateThrottle]

    @extend_schema(
        request=GreenLaneIn,
        responses={
            201: VerificationOut,
            400: error_response("Malformed body (invalid), or a code that is not a form QR."),
            401: error_response("No Device header, or an unknown or revoked key."),
            404: error_response("No form matches this number, QR and document number."),
            409: error_response(
                "already_verified (extra.status; extra.same_device: true when this device's"
                " green lane made the verification, e.g. a second press), form_not_verifiable"
            ),
            422: error_response(
                "inspection_required: the form was selected for inspection (see an officer);"
                " qr_mismatch, verification_refused (departure date)"
            ),
            429: error_response("throttled; form_locked (five wrong document numbers)"),
        },
        parameters=DEVICE_AUTH,
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = GreenLaneIn(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = data.validated_data
        verification = green_lane_verify(
            device=request.auth,  # type: ignore[arg-type]
            form_number="".join(values["form"].split()),
            qr="".join(values["qr"].split()).upper(),
            document_number=values["document_number"],
            departure_date=values["departure_date"],
            flight=values["flight"],
            client=client_ip(request),
        )
        return Response(
            verification_out(verification_reply(verification)),
            status=status.HTTP_201_CREATED,
            headers=NO_STORE,
        )

"""Token auth and the public keys any party needs to verify signatures."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.parsers import JSONParser
from core.api.schema import error_response
from core.auth import LOCKED_MESSAGE, AccountLocked, token_login_second_factor
from core.signing import QR_LENGTH, platform_public_key_b64

_KEY_SECTIONS: dict[str, Callable[[], dict[str, dict[str, str]]]] = {}


class TokenView(ObtainAuthToken):
    """POST {username, password, otp?} -> {token}."""

    throttle_classes: list[type] = []
    parser_classes = [JSONParser]  # ObtainAuthToken would also take form bodies

    @extend_schema(
        request=inline_serializer(
            "TokenRequest",
            {
                "username": serializers.CharField(),
                "password": serializers.CharField(),
                "otp": serializers.CharField(
                    required=False,
                    help_text="The authenticator code, for an account that has one.",
                ),
            },
        ),
        responses={
            200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
            400: error_response("Malformed body (a field missing, not JSON)."),
            401: error_response(
                "invalid_credentials; otp_required / otp_invalid: the account has an"
                " authenticator and the code is missing or wrong."
            ),
            403: error_response("otp_enrollment_required: this role must enroll a second factor."),
            429: error_response(
                "account_locked: too many failed logins for this user name from this address."
            ),
        },
        auth=[],
    )
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except ValidationError as exc:
            if getattr(request, "axes_locked_out", False) or getattr(
                request._request, "axes_locked_out", False
            ):
                raise AccountLocked(LOCKED_MESSAGE) from exc
            # Both fields present but no such user/password: a failed login (401),
            # not a malformed request (400).
            fields = exc.detail if isinstance(exc.detail, dict) else {}
            if "username" not in fields and "password" not in fields:
                raise AuthenticationFailed(
                    "Unable to log in with provided credentials.", code="invalid_credentials"
                ) from exc
            raise
        user = serializer.validated_data["user"]
        data = request.data if isinstance(request.data, dict) else {}
        token_login_second_factor(user=user, code=data.get("otp"))
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class PublicKeysView(APIView):
    """The platform's Ed25519 public key, the QR payload format, each port's stamp key."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        responses=inline_serializer(
            "PublicKeys",
            {
                "algorithm": serializers.CharField(),
                "platform": serializers.CharField(),
                "qr_format": serializers.CharField(),
                "qr_length": serializers.IntegerField(),
                "ports": serializers.DictField(
                    child=serializers.DictField(child=serializers.CharField())
                ),
            },
        )
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "algorithm": "Ed25519",
                "platform": platform_public_key_b64(),
                "qr_format": "RF1 + 16-digit form number + BASE32(digest16 || signature64)",
                "qr_length": QR_LENGTH,
                "ports": _port_stamp_keys(),
            }
        )


def register_public_keys(name: str, provider: Callable[[], dict[str, dict[str, str]]]) -> None:
    """Let an app that signs (customs stamps) publish its keys here without core importing it."""
    _KEY_SECTIONS[name] = provider


def _port_stamp_keys() -> dict[str, dict[str, str]]:
    """Each port's customs stamp key, as registered by the customs app."""
    provider = _KEY_SECTIONS.get("ports")
    return provider() if provider else {}

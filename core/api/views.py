"""Token auth and the public keys any party needs to verify signatures."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.signing import QR_LENGTH, platform_public_key_b64


class TokenView(ObtainAuthToken):
    """POST {username, password} -> {token}."""

    @extend_schema(
        request=inline_serializer(
            "TokenRequest",
            {"username": serializers.CharField(), "password": serializers.CharField()},
        ),
        responses=inline_serializer("TokenResponse", {"token": serializers.CharField()}),
    )
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().post(request, *args, **kwargs)


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


def _port_stamp_keys() -> dict[str, dict[str, str]]:
    """Each port's customs stamp key (Ed25519, raw base64) and its key id."""
    from core.models import Port
    from customs.stamps import key_id, port_public_key_b64  # customs builds on core

    return {
        code: {"key_id": key_id(code), "public_key": port_public_key_b64(code)}
        for code in Port.objects.order_by("code").values_list("code", flat=True)
    }

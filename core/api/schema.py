"""OpenAPI pieces every app shares: the one error shape as a schema component."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """{"code", "message", "extra"}: the body of every 4xx and 5xx answer (component "Error")."""

    code = serializers.CharField(help_text="Stable snake_case error code, e.g. below_minimum.")
    message = serializers.CharField(help_text="A sentence for people.")
    extra = serializers.DictField(help_text="Details: offending fields, amounts, checks.")


def error_response(description: str) -> OpenApiResponse:
    """An error answer for @extend_schema(responses={422: error_response("...")})."""
    return OpenApiResponse(ErrorSerializer, description=description)

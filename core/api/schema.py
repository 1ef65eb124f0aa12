"""OpenAPI pieces every app shares: the one error shape as a schema component."""

from __future__ import annotations

from typing import Any

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


_ERROR_REF = {"$ref": "#/components/schemas/Error"}
# Answers every operation of a kind can give, whatever its own view documents.
_COMMON = {
    "auth": {
        "401": "Not authenticated (no or bad token), or the second login step is missing.",
        "403": "Your role may not do this.",
    },
    "body": {
        "400": "Malformed body: not JSON, nested too deep, a lone surrogate, a field invalid.",
        "415": "The body is not application/json.",
    },
    "list": {"400": "?limit above 200 or not a positive integer, ?offset negative, a bad filter."},
    "path": {"404": "No such record in your scope (the same answer as one that does not exist)."},
    "idempotent": {
        "409": "idempotency_in_progress: the first request with this key is still running.",
        "422": "idempotency_key_reused: the same Idempotency-Key came with another body.",
    },
}


def document_common_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """POSTPROCESSING_HOOK: add the statuses every operation of a kind answers (SPEC §4).

    Views document their own domain errors; this adds the ones the framework gives to
    every operation alike (401/403 for authenticated ones, 400/415 for a body, 400 for a
    list's pagination, 404 for a path parameter, 409/422 for an Idempotency-Key), so that
    the schema lists every status an operation can answer.
    """
    result.setdefault("components", {}).setdefault("schemas", {})
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            kinds = []
            if operation.get("security") != [{}] and operation.get("security"):
                kinds.append("auth")
            if "requestBody" in operation:
                kinds.append("body")
            names = {p.get("name") for p in operation.get("parameters", [])}
            if "limit" in names:
                kinds.append("list")
            if "{" in path:
                kinds.append("path")
            if "Idempotency-Key" in names:
                kinds.append("idempotent")
            responses = operation.setdefault("responses", {})
            for kind in kinds:
                for status, description in _COMMON[kind].items():
                    responses.setdefault(
                        status,
                        {
                            "content": {"application/json": {"schema": _ERROR_REF}},
                            "description": description,
                        },
                    )
    return result

"""?limit and ?offset as SPEC §4 says: limit 1..200 (400 ``invalid`` above), offset >= 0."""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError

MAX_LIMIT = 200


def _non_negative_int(request: Any, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if len(raw) > 12 or not raw.isascii() or not raw.isdigit():
        raise ValidationError({name: [f"{name} must be a non-negative integer."]})
    return int(raw)


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's limit/offset, refusing what it would silently clamp or crash on."""

    max_limit = MAX_LIMIT

    def get_limit(self, request: Any) -> int | None:
        limit = _non_negative_int(request, self.limit_query_param, self.default_limit)
        if limit is not None and not 1 <= limit <= MAX_LIMIT:
            raise ValidationError({"limit": [f"limit must be between 1 and {MAX_LIMIT}."]})
        return limit

    def get_offset(self, request: Any) -> int:
        return _non_negative_int(request, self.offset_query_param, 0) or 0

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == self.limit_query_param:
                param["schema"].update({"minimum": 1, "maximum": MAX_LIMIT})
            elif param["name"] == self.offset_query_param:
                param["schema"].update({"minimum": 0})
        return params

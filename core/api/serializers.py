"""Shared request/reply building blocks for the apps' API serializers.

- ``StrictSerializer``: an input serializer that answers 400 for keys it does not
  declare (at any depth: nested serializers and ``many=True`` children too),
  instead of silently dropping them.
- ``StrictCharField``: text that must arrive as a JSON string (a name or a
  document number sent as a number or a boolean is a client bug, not text).
- ``RateField``: a VAT, refund or fee rate rendered as a short decimal string
  ("0.13", "0.02"), the one format every API reply uses (``core.money.rate_str``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import rate_str

UNKNOWN_FIELD = "Unknown field."


class StrictSerializerMixin:
    """Refuse undeclared keys with a 400 naming each of them (``extra.fields.<key>``)."""

    def unknown_fields(self, data: Any) -> list[str]:
        if not isinstance(data, Mapping):
            return []  # DRF itself answers "Expected a dictionary"
        declared = self.fields  # type: ignore[attr-defined]
        return sorted(str(key) for key in data if key not in declared)

    def to_internal_value(self, data: Any) -> Any:
        unknown = {name: [UNKNOWN_FIELD] for name in self.unknown_fields(data)}
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class StrictSerializer(StrictSerializerMixin, serializers.Serializer):
    """Base class for request bodies: only the declared keys are accepted."""


class StrictCharField(serializers.CharField):
    """A CharField that takes only JSON strings (no numbers or booleans coerced to text)."""

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.STR)
class RateField(serializers.Field):
    """A rate out as a short decimal string, e.g. "0.13" (also normalizes stored strings)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:
        if value is None or value == "":
            return None
        try:
            return rate_str(Decimal(str(value)))
        except InvalidOperation:
            return str(value)


# Dates a person can mean on this platform: the first policy is of 2015, and nothing is
# planned past 2100. Outside, date arithmetic (a window, 183 days) could overflow.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)


class SaneDateField(serializers.DateField):
    """An ISO date between 2000-01-01 and 2100-12-31 (400 ``invalid`` outside)."""

    def to_internal_value(self, value: Any) -> date:
        parsed: date = super().to_internal_value(value)
        if not EARLIEST_DATE <= parsed <= LATEST_DATE:
            raise serializers.ValidationError(
                f"Date out of range ({EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()})."
            )
        return parsed

"""Customs API: request parsing and reply shapes (no business rules here)."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_date
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import (
    EARLIEST_DATE,
    LATEST_DATE,
    RateField,
    SaneDateField,
    StrictSerializer,
)
from core.money import ZERO, money_str
from core.numbering import is_valid_form_number
from customs.models import InspectionDecision, MailboxBatch, MailboxBatchItem, Verification
from stores.scopes import nationality_label

# --- Requests ----------------------------------------------------------------------------


class LinePresentedIn(StrictSerializer):
    id = serializers.IntegerField(min_value=1)
    quantity_presented = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)


class PresentedIn(StrictSerializer):
    """A form presented at the port: its scanned QR, or its number and the full document number."""

    form = serializers.RegexField(r"^\d{16}$", help_text="16-digit form number.")
    qr = serializers.CharField(required=False, allow_blank=True, max_length=200)
    document_number = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text="Without qr (damaged code): the full document number from the passport in hand.",
    )

    def validate_form(self, value: str) -> str:
        if not is_valid_form_number(value):
            raise serializers.ValidationError("The form number's check digit is wrong.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("qr") and not (attrs.get("document_number") or "").strip():
            raise serializers.ValidationError(
                {"document_number": ["Without the QR, type the full document number."]}
            )
        return attrs


class VerificationIn(PresentedIn):
    departure_date = SaneDateField()
    flight = serializers.CharField(required=False, allow_blank=True, max_length=16, default="")
    lines = LinePresentedIn(many=True, required=False)
    traveler_matches = serializers.BooleanField(required=False, default=True)

    def validate_lines(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [row["id"] for row in value]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("A line is listed twice.")
        return value


# ``VerificationIn`` by hand for the usual body (issue 12: building the serializer's fields
# costs the request more than reading four strings). Only text that DRF would give back
# as it is (ASCII, printable, no surrounding blanks, within its length) and an exact bool
# are taken here; anything else (lines, a value DRF would coerce or trim, any error) is
# left to the serializer, so replies and errors stay the serializer's own.
_BY_HAND_KEYS = frozenset({"form", "qr", "document_number", "departure_date", "flight"})
_TEXT_LIMITS = {"qr": 200, "document_number": 40, "flight": 16}


def _plain_text(value: Any, limit: int) -> bool:
    return (
        isinstance(value, str)
        and len(value) <= limit
        and value.isascii()
        and value.isprintable()
        and value == value.strip()
    )


def _verification_in_by_hand(data: Any) -> dict[str, Any] | None:
    # A JSON object only (a form-encoded QueryDict reads booleans the HTML way in DRF).
    if type(data) is not dict or not data.keys() <= _BY_HAND_KEYS | {"traveler_matches"}:
        return None
    form, qr, day = data.get("form"), data.get("qr"), data.get("departure_date")
    if not (
        isinstance(form, str)
        and len(form) == 16
        and form.isascii()
        and form.isdigit()
        and is_valid_form_number(form)
        and isinstance(qr, str)
        and qr  # without a QR, the document number's rules: the serializer's
        and all(
            _plain_text(data[name], limit) for name, limit in _TEXT_LIMITS.items() if name in data
        )
        and isinstance(day, str)
        and isinstance(data.get("traveler_matches", True), bool)
    ):
        return None
    try:
        departure_date = parse_date(day)
    except ValueError:
        return None
    if departure_date is None or not EARLIEST_DATE <= departure_date <= LATEST_DATE:
        return None
    values: dict[str, Any] = {"form": form, "qr": qr}
    if "document_number" in data:
        values["document_number"] = data["document_number"]
    values["departure_date"] = departure_date
    values["flight"] = data.get("flight", "")
    values["traveler_matches"] = data.get("traveler_matches", True)
    return values


def verification_in(data: Any) -> dict[str, Any]:
    """``VerificationIn(data=data)``'s validated data; raises its ``ValidationError``."""
    values = _verification_in_by_hand(data)
    if values is not None:
        return values
    serializer = VerificationIn(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class BatchOpenIn(StrictSerializer):
    drop_date = SaneDateField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class ScanIn(StrictSerializer):
    code = serializers.CharField(max_length=300, help_text="QR payload or 16-digit form number.")


# --- Replies ----------------------------------------------------------------------------


class StampOut(serializers.Serializer):
    """The port's signature: verify ``signature`` over ``message`` with the port key."""

    port = serializers.CharField(source="port.code")
    officer = serializers.CharField(source="officer_label")
    signed_at = serializers.DateTimeField(source="verified_at")
    algorithm = serializers.SerializerMethodField()
    key_id = serializers.CharField(source="stamp_key_id")
    signature = serializers.CharField(source="stamp_signature")
    message = serializers.CharField(source="stamp_message")

    def get_algorithm(self, obj: Verification) -> str:
        return "Ed25519"


class InspectionOut(serializers.Serializer):
    selected = serializers.BooleanField()
    lane = serializers.CharField()
    reason = serializers.CharField()
    detail = serializers.CharField()
    rule = serializers.CharField(source="rule.name", allow_null=True, default=None)
    port = serializers.CharField(source="port.code")
    decided_at = serializers.DateTimeField()


class WarningOut(serializers.Serializer):
    code = serializers.CharField()
    check = serializers.CharField()
    days = serializers.IntegerField()
    limit = serializers.IntegerField()
    message = serializers.CharField()


class VerificationLineOut(serializers.Serializer):
    id = serializers.IntegerField(source="form_line_id")
    position = serializers.IntegerField(source="form_line.position")
    item = serializers.CharField(source="form_line.item")
    quantity = serializers.DecimalField(
        source="form_line.quantity", max_digits=12, decimal_places=2
    )
    quantity_presented = serializers.DecimalField(max_digits=12, decimal_places=2)
    verified_total = serializers.DecimalField(max_digits=14, decimal_places=2)


class VerificationOut(serializers.Serializer):
    form = serializers.CharField(source="form.number")
    result = serializers.CharField()
    verified_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    channel = serializers.CharField()
    departure_date = serializers.DateField()
    flight = serializers.CharField()
    traveler_matches = serializers.BooleanField()
    lines = serializers.SerializerMethodField()
    warnings = WarningOut(many=True)
    inspection = serializers.SerializerMethodField()
    stamp = StampOut(source="*")

    @extend_schema_field(VerificationLineOut(many=True))
    def get_lines(self, obj: Verification) -> list[dict[str, Any]]:
        rows = sorted(obj.lines.all(), key=lambda line: line.form_line.position)
        return VerificationLineOut(rows, many=True).data  # type: ignore[return-value]

    @extend_schema_field(InspectionOut(allow_null=True))
    def get_inspection(self, obj: Verification) -> dict[str, Any] | None:
        decision = getattr(obj.form, "inspection_decision", None)
        return InspectionOut(decision).data if decision else None


# The reply to a verification, by hand: what ``VerificationOut(verification).data`` gives
# (the schema stays VerificationOut's; tests compare the two), without building the
# serializer's fields on every request (issue 12). The fields convert as the serializer's.
_MONEY = serializers.DecimalField(max_digits=14, decimal_places=2)
_QUANTITY = serializers.DecimalField(max_digits=12, decimal_places=2)
_DAY = serializers.DateField()
_WHEN = serializers.DateTimeField()
_WARNING_FIELDS = (("code", str), ("check", str), ("days", int), ("limit", int), ("message", str))


def verification_out(verification: Verification) -> dict[str, Any]:
    """``VerificationOut(verification).data`` for a verification with its form, port, lines
    (with their form lines) and the form's inspection decision (port, rule) loaded."""
    lines = sorted(verification.lines.all(), key=lambda line: line.form_line.position)
    decision = getattr(verification.form, "inspection_decision", None)
    return {
        "form": str(verification.form.number),
        "result": str(verification.result),
        "verified_total": _MONEY.to_representation(verification.verified_total),
        "channel": str(verification.channel),
        "departure_date": _DAY.to_representation(verification.departure_date),
        "flight": str(verification.flight),
        "traveler_matches": bool(verification.traveler_matches),
        "lines": [
            {
                "id": int(line.form_line_id),
                "position": int(line.form_line.position),
                "item": str(line.form_line.item),
                "quantity": _QUANTITY.to_representation(line.form_line.quantity),
                "quantity_presented": _QUANTITY.to_representation(line.quantity_presented),
                "verified_total": _MONEY.to_representation(line.verified_total),
            }
            for line in lines
        ],
        "warnings": [
            {name: convert(warning[name]) for name, convert in _WARNING_FIELDS}
            for warning in verification.warnings
        ],
        "inspection": None
        if not decision
        else {
            "selected": bool(decision.selected),
            "lane": decision.lane,
            "reason": str(decision.reason),
            "detail": str(decision.detail),
            "rule": None if decision.rule is None else str(decision.rule.name),
            "port": str(decision.port.code),
            "decided_at": _WHEN.to_representation(decision.decided_at),
        },
        "stamp": {
            "port": str(verification.port.code),
            "officer": str(verification.officer_label),
            "signed_at": _WHEN.to_representation(verification.verified_at),
            "algorithm": "Ed25519",
            "key_id": str(verification.stamp_key_id),
            "signature": str(verification.stamp_signature),
            "message": str(verification.stamp_message),
        },
    }


class FormLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    item = serializers.CharField()
    spec = serializers.CharField()
    unit = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=2)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2)
    vat_rate = RateField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2)


class TravelerOut(serializers.Serializer):
    name = serializers.CharField(source="traveler_name")
    document_type = serializers.CharField()
    document_number_masked = serializers.CharField(source="document_masked")
    document_number = serializers.SerializerMethodField(
        help_text="The full number when the form was presented at your port (QR scanned, or"
        " number and document typed), to compare with the passport in hand; else null."
    )
    nationality = serializers.CharField()
    nationality_name = serializers.SerializerMethodField(help_text='"JP Japan"')
    last_entry_date = serializers.DateField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_document_number(self, obj: Any) -> str | None:
        value: str | None = self.context.get("document_number")
        return value

    def get_nationality_name(self, obj: Any) -> str:
        return nationality_label(obj.nationality)


class FormCustomsOut(serializers.Serializer):
    """A form as customs sees it: traveler (document masked), lines, inspection, warnings."""

    number = serializers.CharField()
    status = serializers.CharField()
    store = serializers.CharField(source="store.code")
    store_name = serializers.CharField(source="store.name")
    purchase_date = serializers.DateField()
    buy_and_refund = serializers.BooleanField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    traveler = serializers.SerializerMethodField()
    lines = serializers.SerializerMethodField()
    inspection = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()
    verification = serializers.SerializerMethodField()

    @extend_schema_field(TravelerOut)
    def get_traveler(self, obj: Any) -> dict[str, Any]:
        return dict(TravelerOut(obj, context=self.context).data)

    @extend_schema_field(FormLineOut(many=True))
    def get_lines(self, obj: Any) -> list[dict[str, Any]]:
        return FormLineOut(sorted(obj.lines.all(), key=lambda x: x.position), many=True).data  # type: ignore[return-value]

    @extend_schema_field(InspectionOut(allow_null=True))
    def get_inspection(self, obj: Any) -> dict[str, Any] | None:
        decision: InspectionDecision | None = self.context.get("inspection")
        return InspectionOut(decision).data if decision else None

    @extend_schema_field(WarningOut(many=True))
    def get_warnings(self, obj: Any) -> list[dict[str, Any]]:
        return list(self.context.get("warnings", []))

    @extend_schema_field(VerificationOut(allow_null=True))
    def get_verification(self, obj: Any) -> dict[str, Any] | None:
        verification: Verification | None = self.context.get("verification")
        return VerificationOut(verification).data if verification else None


class VerificationListOut(serializers.Serializer):
    form = serializers.CharField(source="form.number")
    store = serializers.CharField(source="form.store.code")
    traveler = serializers.CharField(source="form.traveler_name")
    result = serializers.CharField()
    channel = serializers.CharField()
    verified_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    departure_date = serializers.DateField()
    officer = serializers.CharField(source="officer_label")
    verified_at = serializers.DateTimeField()


class QueueOut(serializers.Serializer):
    form = serializers.CharField(source="form.number")
    store = serializers.CharField(source="form.store.code")
    traveler = serializers.CharField(source="form.traveler_name")
    document_number = serializers.CharField(source="form.document_masked")
    total = serializers.DecimalField(source="form.total", max_digits=14, decimal_places=2)
    reason = serializers.CharField()
    detail = serializers.CharField()
    decided_at = serializers.DateTimeField()


class BatchItemOut(serializers.Serializer):
    position = serializers.IntegerField()
    form = serializers.CharField(source="form_number")
    result = serializers.CharField()
    code = serializers.CharField()
    detail = serializers.CharField()
    verified_total = serializers.DecimalField(
        source="verification.verified_total",
        max_digits=14,
        decimal_places=2,
        allow_null=True,
        default=None,
    )
    scanned_by = serializers.CharField(source="scanned_by.username")
    scanned_at = serializers.DateTimeField()


class BatchOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    port = serializers.CharField(source="port.code")
    drop_date = serializers.DateField()
    status = serializers.CharField()
    note = serializers.CharField()
    opened_by = serializers.CharField(source="opened_by.username")
    opened_at = serializers.DateTimeField()
    closed_by = serializers.CharField(source="closed_by.username", allow_null=True, default=None)
    closed_at = serializers.DateTimeField(allow_null=True)
    scanned = serializers.IntegerField(source="scanned_count", default=0)
    verified = serializers.IntegerField(source="verified_count", default=0)
    refused = serializers.IntegerField(source="refused_count", default=0)
    verified_total = serializers.SerializerMethodField()

    def get_verified_total(self, obj: MailboxBatch) -> str:
        return money_str(getattr(obj, "verified_sum", None) or ZERO)


class BatchDetailOut(BatchOut):
    items = serializers.SerializerMethodField()

    @extend_schema_field(BatchItemOut(many=True))
    def get_items(self, obj: MailboxBatch) -> list[dict[str, Any]]:
        items: list[MailboxBatchItem] = list(self.context.get("items", []))
        return BatchItemOut(items, many=True).data  # type: ignore[return-value]

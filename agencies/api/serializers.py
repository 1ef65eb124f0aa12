"""Agency API shapes: refund requests and answers, settlement (SPEC §4; money as strings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

from agencies.models import Refund
from agencies.selectors import RefundAssessment
from core.api.serializers import RateField, StrictCharField, StrictSerializer
from core.money import money_str, rate_str
from stores.scopes import nationality_label


class RefundRequestSerializer(StrictSerializer):
    """POST /api/v1/refunds/: the form number, its scanned QR, the presented document.

    Without ``qr`` (damaged code) the typed number and the full document number must match.
    """

    form = serializers.CharField(max_length=32)
    qr = serializers.CharField(
        max_length=400,
        required=False,
        allow_blank=True,
        help_text="The scanned QR; omit it for a damaged code (typed number + document).",
    )
    document_number = StrictCharField(max_length=40)
    document_type = serializers.CharField(max_length=20, required=False, allow_blank=True)
    # Validated by the service (400 invalid_payout_method / invalid_card_number ...).
    payout_method = serializers.CharField(max_length=32)
    payout_account = serializers.CharField(
        max_length=80, required=False, allow_blank=True, allow_null=True
    )


class RefundCheckRequestSerializer(StrictSerializer):
    """POST /api/v1/refunds/check/: like a refund request, without the payout.

    Without ``qr`` (damaged code) the full ``document_number`` is required and must match.
    """

    form = serializers.CharField(max_length=32)
    qr = serializers.CharField(
        max_length=400,
        required=False,
        allow_blank=True,
        help_text="The scanned QR; omit it for a damaged code (typed number + document).",
    )
    document_number = StrictCharField(max_length=40, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("qr") and not (attrs.get("document_number") or "").strip():
            raise serializers.ValidationError(
                {"document_number": ["Without the QR, type the full document number."]}
            )
        return attrs

    document_type = serializers.CharField(max_length=20, required=False, allow_blank=True)


class CheckSerializer(serializers.Serializer):
    code = serializers.CharField()
    passed = serializers.BooleanField()
    detail = serializers.CharField()


class RateGroupSerializer(serializers.Serializer):
    vat_rate = RateField()
    refund_rate = RateField()
    total = serializers.CharField()
    refundable = serializers.CharField()
    fee = serializers.CharField()
    net = serializers.CharField()


# Fields that render a value the same whatever serializer holds them (stateless).
_MONEY = serializers.DecimalField(max_digits=14, decimal_places=2)
_RATE = RateField()
_DATE = serializers.DateField()
_DATETIME = serializers.DateTimeField()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _when(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


class RefundSerializer(serializers.ModelSerializer[Refund]):
    """A refund as the agency sees it; the SPEC §4 answer plus the receipt's facts."""

    form = serializers.CharField(source="form.number")
    store = serializers.CharField(source="form.store.code")
    traveler_name = serializers.CharField(source="form.traveler_name")
    nationality = serializers.CharField(source="form.nationality")
    agency = serializers.CharField(source="agency.code")
    agent = serializers.CharField(source="agent.username")
    port = serializers.SerializerMethodField()
    checks = CheckSerializer(many=True)
    groups = RateGroupSerializer(many=True)
    payout_account = serializers.CharField(source="payout_account_masked")
    retryable = serializers.SerializerMethodField()
    handed_over_by = serializers.SerializerMethodField()
    verified_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    refundable_vat = serializers.DecimalField(max_digits=14, decimal_places=2)
    fee = serializers.DecimalField(max_digits=14, decimal_places=2)
    net_refund = serializers.DecimalField(max_digits=14, decimal_places=2)
    fee_rate = RateField()

    class Meta:
        model = Refund
        fields = [
            "id",
            "form",
            "store",
            "traveler_name",
            "nationality",
            "agency",
            "agent",
            "port",
            "status",
            "checks",
            "verified_total",
            "refundable_vat",
            "fee",
            "net_refund",
            "fee_rate",
            "groups",
            "payout_method",
            "payout_account",
            "payout_reference",
            "failure_code",
            "retryable",
            "refund_date",
            "created_at",
            "paid_at",
            "handed_over_by",
            "handed_over_at",
        ]

    def to_representation(self, instance: Refund) -> dict[str, Any]:
        """The fields above, written out: a reply, a list row or a replay costs no field
        building (``tests/agencies/test_api.py`` holds it equal to DRF's own rendering)."""
        refund = instance
        form = refund.form
        return {
            "id": refund.pk,
            "form": form.number,
            "store": form.store.code,
            "traveler_name": form.traveler_name,
            "nationality": form.nationality,
            "agency": refund.agency.code,
            "agent": refund.agent.username,
            "port": self.get_port(refund),
            "status": str(refund.status),
            "checks": [
                {
                    "code": _text(c["code"]),
                    "passed": bool(c["passed"]),
                    "detail": _text(c["detail"]),
                }
                for c in refund.checks
            ],
            "verified_total": _MONEY.to_representation(refund.verified_total),
            "refundable_vat": _MONEY.to_representation(refund.refundable_vat),
            "fee": _MONEY.to_representation(refund.fee),
            "net_refund": _MONEY.to_representation(refund.net_refund),
            "fee_rate": _RATE.to_representation(refund.fee_rate),
            "groups": [
                {
                    "vat_rate": _RATE.to_representation(g["vat_rate"]),
                    "refund_rate": _RATE.to_representation(g["refund_rate"]),
                    "total": _text(g["total"]),
                    "refundable": _text(g["refundable"]),
                    "fee": _text(g["fee"]),
                    "net": _text(g["net"]),
                }
                for g in refund.groups
            ],
            "payout_method": str(refund.payout_method),
            "payout_account": refund.payout_account_masked,
            "payout_reference": refund.payout_reference,
            "failure_code": refund.failure_code,
            "retryable": self.get_retryable(refund),
            "refund_date": _DATE.to_representation(refund.refund_date),
            "created_at": _DATETIME.to_representation(refund.created_at),
            "paid_at": _when(refund.paid_at),
            "handed_over_by": self.get_handed_over_by(refund),
            "handed_over_at": _when(refund.handed_over_at),
        }

    def get_port(self, refund: Refund) -> str:
        return refund.port.code if refund.port else ""

    def get_handed_over_by(self, refund: Refund) -> str | None:
        """Who confirmed the cash left the drawer (cash refunds, once confirmed)."""
        return refund.handed_over_by.get_username() if refund.handed_over_by else None

    def get_retryable(self, refund: Refund) -> bool:
        return refund.status == "failed"


class PayoutOptionSerializer(serializers.Serializer):
    method = serializers.CharField()
    allowed = serializers.BooleanField()
    reason = serializers.CharField()


class RefundCheckSerializer(serializers.Serializer):
    """The counter's preview: checks A-F, amounts on the verified goods, payout options."""

    form = serializers.CharField()
    status = serializers.CharField()
    store = serializers.CharField()
    traveler = serializers.DictField()
    passed = serializers.BooleanField()
    checks = CheckSerializer(many=True)
    verified_total = serializers.CharField()
    refundable_vat = serializers.CharField()
    fee = serializers.CharField()
    net_refund = serializers.CharField()
    fee_rate = RateField()
    cash_cap = serializers.CharField()
    mailbox = serializers.BooleanField()
    payout_options = PayoutOptionSerializer(many=True)
    refund = serializers.DictField(allow_null=True)


def assessment_body(
    assessment: RefundAssessment, *, document_number: str | None = None
) -> dict[str, Any]:
    """Render an assessment as the check endpoint's JSON; ``document_number`` is the full
    number for the agent who has the form presented (stores.scopes.document_number_for)."""
    form = assessment.form
    existing = assessment.existing
    return {
        "form": form.number,
        "status": form.status,
        "store": form.store.code,
        "traveler": {
            "name": form.traveler_name,
            "document_type": form.document_type,
            "document_number": document_number,
            "document_number_masked": form.document_masked,
            "nationality": form.nationality,
            "nationality_name": nationality_label(form.nationality),
            "last_entry_date": form.last_entry_date.isoformat(),
        },
        "purchase_date": form.purchase_date.isoformat(),
        "departure_date": assessment.verification.departure_date.isoformat()
        if assessment.verification
        else None,
        "passed": assessment.passed,
        "checks": assessment.checks_as_dicts(),
        **assessment.amounts(),
        "fee_rate": rate_str(assessment.fee_rate),
        "cash_cap": money_str(assessment.cash_cap),
        "mailbox": assessment.mailbox,
        "payout_options": [o.as_dict() for o in assessment.payout_options],
        "refund": {"id": existing.pk, "status": existing.status} if existing else None,
    }


class SettlementRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    count = serializers.IntegerField()
    goods_total = serializers.CharField()
    refundable_vat = serializers.CharField()
    fee = serializers.CharField()
    net_refund = serializers.CharField()


class SettlementSerializer(serializers.Serializer):
    agency = serializers.CharField()
    month = serializers.CharField()
    count = serializers.IntegerField()
    totals = SettlementRowSerializer()
    by_payout_method = SettlementRowSerializer(many=True)
    by_store = SettlementRowSerializer(many=True)
    by_port = SettlementRowSerializer(many=True)
    by_nationality = SettlementRowSerializer(many=True)
    daily = SettlementRowSerializer(many=True)

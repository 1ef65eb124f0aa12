"""The agency's part of the form detail (GET /api/v1/forms/{number}/): what was paid.

The form's own amounts are the estimate on the purchased goods at issue; after
customs the refund is computed on the verified quantities (SPEC §2), and this
section shows those figures once a refund exists.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from agencies.selectors import live_refund_of
from core.money import money_str
from stores.models import RefundForm


class RefundSectionSerializer(serializers.Serializer):
    """``refund`` on the form detail: the live refund on the verified goods."""

    status = serializers.CharField()
    verified_total = serializers.CharField()
    refundable_vat = serializers.CharField()
    fee = serializers.CharField()
    net_refund = serializers.CharField()
    payout_method = serializers.CharField()
    payout_account = serializers.CharField(help_text="Masked.")
    paid_at = serializers.DateTimeField(allow_null=True)


def refund_section(form: RefundForm) -> dict[str, Any] | None:
    """The form's live refund (pending, paid or failed) on the verified goods, or None."""
    refund = live_refund_of(form)
    if refund is None:
        return None
    return {
        "status": refund.status,
        "verified_total": money_str(refund.verified_total),
        "refundable_vat": money_str(refund.refundable_vat),
        "fee": money_str(refund.fee),
        "net_refund": money_str(refund.net_refund),
        "payout_method": refund.payout_method,
        "payout_account": refund.payout_account_masked,
        "paid_at": refund.paid_at.isoformat() if refund.paid_at else None,
    }


def register() -> None:
    """Hook the section into the stores form detail."""
    from stores.api.serializers import register_form_section

    register_form_section("refund", refund_section, RefundSectionSerializer)

"""Kiosk API shapes: the lookup request and its reply (for the schema and for parsing)."""

from __future__ import annotations

from rest_framework import serializers


class KioskLookupIn(serializers.Serializer):
    """A typed 16-digit form number or the scanned QR payload, and the document number."""

    form = serializers.CharField(help_text="16-digit form number or the 147-character QR payload")
    document_number = serializers.CharField()
    lang = serializers.CharField(
        required=False, help_text="en, zh-hans, zh-hant, ja, ko, ru, fr, de, es or ar"
    )


class KioskTimelineEventOut(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.CharField()
    status = serializers.CharField()
    text = serializers.CharField()


class KioskNextStepOut(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()


class KioskPayoutOptionOut(serializers.Serializer):
    method = serializers.CharField()
    name = serializers.CharField()
    allowed = serializers.BooleanField()
    reason = serializers.CharField()


class KioskPayoutChoiceOut(serializers.Serializer):
    payout_method = serializers.CharField()
    payout_account = serializers.CharField(help_text="Masked")
    status = serializers.CharField(help_text="chosen, paid, failed or lapsed")
    failure_code = serializers.CharField(allow_null=True)


class KioskLookupOut(serializers.Serializer):
    """What the traveler sees: status, amounts (RMB strings), next step, payout, history."""

    form = serializers.CharField()
    lang = serializers.CharField()
    status = serializers.CharField()
    status_text = serializers.CharField()
    timeline = KioskTimelineEventOut(many=True)
    total = serializers.CharField()
    net_refund = serializers.CharField()
    next_step = KioskNextStepOut()
    payout_options = KioskPayoutOptionOut(many=True)
    payout_choice = KioskPayoutChoiceOut(
        allow_null=True, help_text="The transfer chosen ahead (account masked), or null"
    )

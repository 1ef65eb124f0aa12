"""Kiosk API shapes: the lookup request and its reply (for the schema and for parsing)."""

from __future__ import annotations

from rest_framework import serializers

from core.api.serializers import SaneDateField, StrictCharField, StrictSerializer


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


class KioskDifferenceOut(serializers.Serializer):
    code = serializers.CharField(help_text="partially_verified, rates, or empty")
    text = serializers.CharField()


class KioskPaymentOut(serializers.Serializer):
    """How a paid refund was paid, and why it differs from the estimate printed on the form."""

    method = serializers.CharField()
    method_text = serializers.CharField()
    account = serializers.CharField(help_text="masked")
    amount = serializers.CharField()
    estimate = serializers.CharField()
    printed_total = serializers.CharField()
    verified_total = serializers.CharField()
    paid_at = serializers.DateTimeField(allow_null=True)
    difference = KioskDifferenceOut()


class KioskFormOut(serializers.Serializer):
    """One form as the traveler sees it."""

    form = serializers.CharField()
    lang = serializers.CharField()
    status = serializers.CharField()
    status_text = serializers.CharField()
    timeline = KioskTimelineEventOut(many=True)
    total = serializers.CharField()
    net_refund = serializers.CharField()
    estimate = serializers.CharField(help_text="the net refund printed on the form")
    next_step = KioskNextStepOut()
    payout_options = KioskPayoutOptionOut(many=True)
    payment = KioskPaymentOut(allow_null=True)
    green_lane = serializers.BooleanField(
        help_text="issued and not selected for inspection: a registered kiosk may verify it"
    )
    payout_choice = KioskPayoutChoiceOut(
        allow_null=True, help_text="The transfer chosen ahead (account masked), or null"
    )


class KioskLookupReplyOut(KioskFormOut):
    """The form, and the traveler's other forms of this trip (same document, same entry)."""

    trip = KioskFormOut(many=True)


class GreenLaneIn(StrictSerializer):
    """The traveler at a kiosk: the scanned QR and the full document number."""

    form = StrictCharField(max_length=32, help_text="16-digit form number")
    qr = StrictCharField(max_length=300, help_text="the signed QR payload, as scanned")
    document_number = StrictCharField(max_length=200)
    departure_date = SaneDateField()
    flight = StrictCharField(required=False, allow_blank=True, max_length=16, default="")


class DeviceOut(serializers.Serializer):
    name = serializers.CharField()
    port = serializers.CharField(source="port.code")

"""Traveler API shapes: the pre-chosen transfer request and its reply."""

from __future__ import annotations

from rest_framework import serializers


class PayoutChoiceIn(serializers.Serializer):
    """Possession (form number or QR, full document number) and the chosen transfer."""

    form = serializers.CharField(help_text="16-digit form number or the QR payload")
    document_number = serializers.CharField(help_text="The full document number (passport)")
    payout_method = serializers.CharField(help_text="bank_card, alipay or wechat (a transfer)")
    payout_account = serializers.CharField(
        help_text="Bank card number, Alipay account (mobile, email, 2088 id) or WeChat ID"
    )
    email = serializers.EmailField(
        required=False, allow_blank=True, help_text="Where notices go (optional)"
    )
    lang = serializers.CharField(
        required=False, help_text="en, zh-hans, zh-hant, ja, ko, ru, fr, de, es or ar"
    )


class PayoutChoiceOut(serializers.Serializer):
    form = serializers.CharField()
    payout_method = serializers.CharField()
    payout_account = serializers.CharField(help_text="Masked")
    status = serializers.CharField(help_text='"chosen"')

"""Customs records: verifications with signed stamps, their lines, refused attempts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import Port
from stores.models import RefundForm, RefundFormLine


class VerificationResult(models.TextChoices):
    VERIFIED = "verified"
    PARTIALLY_VERIFIED = "partially_verified"
    REJECTED = "rejected"


class VerificationChannel(models.TextChoices):
    COUNTER = "counter", "Officer counter"
    MAILBOX = "mailbox", "Mailbox drop"
    KIOSK = "kiosk", "Kiosk green lane"


class Verification(models.Model):
    """Customs' one decision on a form, stamped (signed) by the port.

    One per form (unique): two officers racing on the same form produce one
    verification and one 409.
    """

    form = models.OneToOneField(RefundForm, on_delete=models.PROTECT, related_name="verification")
    port = models.ForeignKey(Port, on_delete=models.PROTECT, related_name="verifications")
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    channel = models.CharField(
        max_length=16, choices=VerificationChannel.choices, default=VerificationChannel.COUNTER
    )
    result = models.CharField(max_length=24, choices=VerificationResult.choices)
    departure_date = models.DateField()
    flight = models.CharField(max_length=16, blank=True)
    traveler_matches = models.BooleanField(default=True)
    verified_total = models.DecimalField(max_digits=14, decimal_places=2)
    verified_at = models.DateTimeField()
    stamp_message = models.TextField()
    stamp_signature = models.CharField(max_length=128)
    stamp_key_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["-verified_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(verified_total__gte=0), name="verification_total_non_negative"
            ),
            models.CheckConstraint(
                condition=~Q(result="rejected") | Q(verified_total=0),
                name="rejected_verifies_nothing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.form_id} {self.result}"


class VerificationLine(models.Model):
    """The quantity actually presented for one form line."""

    verification = models.ForeignKey(Verification, on_delete=models.CASCADE, related_name="lines")
    form_line = models.OneToOneField(
        RefundFormLine, on_delete=models.PROTECT, related_name="verification_line"
    )
    quantity_presented = models.DecimalField(max_digits=12, decimal_places=2)
    verified_total = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity_presented__gte=0) & Q(verified_total__gte=0),
                name="verification_line_non_negative",
            )
        ]

    def __str__(self) -> str:
        return f"{self.form_line_id}: {self.quantity_presented}"


class VerificationAttempt(models.Model):
    """A refused verification (bad QR, wrong state): recorded, changes nothing else."""

    form_number = models.CharField(max_length=32, blank=True)
    port = models.ForeignKey(Port, on_delete=models.PROTECT)
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    code = models.CharField(max_length=64)
    detail = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.form_number} {self.code}"

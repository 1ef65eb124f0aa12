"""The traveler's side of a form: the phone page, a transfer chosen ahead, notices sent."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from stores.models import RefundForm

TOKEN_BYTES = 24  # 32 URL-safe characters: unguessable, unrelated to the form number


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class TravelerPage(models.Model):
    """A form's phone page ``/t/<token>/`` and how its traveler wants to be told (email)."""

    form = models.OneToOneField(RefundForm, on_delete=models.CASCADE, related_name="traveler_page")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    # Where notices go; empty: the traveler gave none. Never in a URL or a log line.
    email = models.EmailField(blank=True)
    # For SMS / WeChat template messages (international format); optional too.
    phone = models.CharField(max_length=20, blank=True)
    language = models.CharField(max_length=8, default="en")
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"phone page of form {self.form_id}"

    @property
    def path(self) -> str:
        return f"/t/{self.token}/"


class PreChoiceStatus(models.TextChoices):
    CHOSEN = "chosen", "Chosen: paid once customs verifies"
    PAID = "paid", "Paid automatically"
    FAILED = "failed", "Not paid automatically: see the counter"
    LAPSED = "lapsed", "Lapsed: paid at the counter"


PRE_CHOICE_TRANSITIONS = {
    PreChoiceStatus.CHOSEN: {PreChoiceStatus.PAID, PreChoiceStatus.FAILED, PreChoiceStatus.LAPSED},
    PreChoiceStatus.FAILED: {PreChoiceStatus.CHOSEN, PreChoiceStatus.LAPSED, PreChoiceStatus.PAID},
    PreChoiceStatus.PAID: set(),
    PreChoiceStatus.LAPSED: set(),
}


class PayoutPreChoice(models.Model):
    """A transfer the traveler chose ahead for one form (SPEC §2 "Pre-chosen transfer")."""

    form = models.OneToOneField(RefundForm, on_delete=models.PROTECT, related_name="pre_choice")
    payout_method = models.CharField(max_length=16)
    # Fernet token of the account, as agencies keeps a refund's account; shown masked only.
    payout_account_encrypted = models.TextField()
    payout_account_masked = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=PreChoiceStatus.choices, default=PreChoiceStatus.CHOSEN
    )
    # The refund that paid it (automatically or at the counter), once there is one.
    refund = models.OneToOneField(
        "agencies.Refund",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pre_choice",
    )
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(payout_method__in=["bank_card", "alipay", "wechat"]),
                name="pre_choice_is_transfer",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(refund__isnull=False),
                name="pre_choice_paid_has_refund",
            ),
        ]

    def __str__(self) -> str:
        return f"pre-chosen {self.payout_method} for form {self.form_id} ({self.status})"


class NoticeKind(models.TextChoices):
    FORM_ISSUED = "form_issued", "Form issued"
    FORM_VERIFIED = "form_verified", "Customs verified"
    REFUND_PAID = "refund_paid", "Refund paid"
    PAYOUT_FAILED = "payout_failed", "Automatic transfer not paid"
    HOLD_PLACED = "hold_placed", "Card hold placed"
    DEADLINE_REMINDER = "deadline_reminder", "Reminder: 3 days before the deadline"
    HOLD_RELEASED = "hold_released", "Card hold released"
    CARD_CHARGED = "card_charged", "Card charged"


class NoticeState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (no address or unsubscribed)"


class Notice(models.Model):
    """One message to a traveler about one form; at most one per (form, kind), sent once."""

    form = models.ForeignKey(RefundForm, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=24, choices=NoticeKind.choices)
    state = models.CharField(
        max_length=16, choices=NoticeState.choices, default=NoticeState.PENDING
    )
    channel = models.CharField(max_length=16, default="email")
    language = models.CharField(max_length=8, default="en")
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["form", "kind"], name="notice_once_per_form_kind"),
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False),
                name="notice_sent_has_time",
            ),
        ]
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"{self.kind} notice of form {self.form_id} ({self.state})"


class SandboxMessage(models.Model):
    """What the sandbox SMS/WeChat adapter 'sent' (demo and tests): no network."""

    channel = models.CharField(max_length=16)
    recipient_masked = models.CharField(max_length=64)
    template = models.CharField(max_length=32)
    language = models.CharField(max_length=8)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.channel} {self.template}"

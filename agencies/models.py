"""Agency records: refunds paid at the port, refused attempts, the sandbox payout log."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import Agency, LedgerHead, Port, RefundPolicy
from core.state import TransitionMap
from stores.models import RefundForm


class PayoutMethod(models.TextChoices):
    CASH = "cash", "Cash"
    BANK_CARD = "bank_card", "Bank card"
    ALIPAY = "alipay", "Alipay"
    WECHAT = "wechat", "WeChat Pay"


TRANSFER_METHODS = frozenset({PayoutMethod.BANK_CARD, PayoutMethod.ALIPAY, PayoutMethod.WECHAT})


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending (transfer in flight)"
    AWAITING_HANDOVER = "awaiting_handover", "Awaiting handover (cash)"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed (retryable)"


# A failed transfer goes back to pending when it is re-sent (same payout key). Cash
# waits for the agent to confirm it left the drawer (awaiting_handover -> paid).
REFUND_TRANSITIONS = TransitionMap(
    "refund",
    {
        RefundStatus.PENDING: {
            RefundStatus.PAID,
            RefundStatus.FAILED,
            RefundStatus.AWAITING_HANDOVER,
        },
        RefundStatus.AWAITING_HANDOVER: {RefundStatus.PAID},
        RefundStatus.FAILED: {RefundStatus.PENDING},
    },
)

# Statuses that hold the form: at most one such refund per form (DB constraint).
LIVE_REFUND_STATUSES = (
    RefundStatus.PENDING,
    RefundStatus.AWAITING_HANDOVER,
    RefundStatus.PAID,
    RefundStatus.FAILED,
)


class Refund(LedgerHead):
    """One refund of one form, paid by an agency; the amounts are on the verified goods.

    A transfer is created ``pending`` in one transaction, sent to the payout
    gateway outside any transaction with ``payout_key``, and marked ``paid`` or
    ``failed`` in a second one. Cash is ``awaiting_handover`` after the first
    transaction and ``paid`` once the agent confirms it left the drawer.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    form = models.ForeignKey(RefundForm, on_delete=models.PROTECT, related_name="refunds")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="refunds")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds_paid"
    )
    port = models.ForeignKey(
        Port, on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    status = models.CharField(
        max_length=24, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    payout_method = models.CharField(max_length=16, choices=PayoutMethod.choices)
    payout_account_masked = models.CharField(max_length=64, blank=True)
    # Fernet token of the full account: needed to re-send a failed transfer.
    payout_account_encrypted = models.TextField(blank=True)
    payout_account_hash = models.CharField(max_length=64, blank=True)
    payout_attempt = models.PositiveSmallIntegerField(default=1)
    payout_key = models.CharField(max_length=80, unique=True)
    payout_reference = models.CharField(max_length=80, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    # Whether the gateway answered definitively (declined) or not (timeout: outcome unknown).
    failure_definite = models.BooleanField(default=False)

    policy = models.ForeignKey(RefundPolicy, on_delete=models.PROTECT)
    fee_rate = models.DecimalField(max_digits=5, decimal_places=4)
    cash_cap = models.DecimalField(max_digits=14, decimal_places=2)
    verified_total = models.DecimalField(max_digits=14, decimal_places=2)
    refundable_vat = models.DecimalField(max_digits=14, decimal_places=2)
    fee = models.DecimalField(max_digits=14, decimal_places=2)
    net_refund = models.DecimalField(max_digits=14, decimal_places=2)
    groups = models.JSONField(default=list)
    checks = models.JSONField(default=list)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    refund_date = models.DateField()
    # Cash: who confirmed the money left the drawer, and when (= paid_at).
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds_handed_over",
    )
    handed_over_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["form"],
                condition=Q(status__in=["pending", "awaiting_handover", "paid", "failed"]),
                name="refund_one_live_per_form",
                violation_error_message=(
                    "This form already has a refund (pending, awaiting handover, paid or failed)."
                ),
            ),
            # SQLite evaluates column arithmetic in floating point (135.80 - 24.69
            # != 111.11 there), so the equality is held to within a tenth of a cent;
            # amounts are stored with two decimals, so this is still exact to the cent.
            models.CheckConstraint(
                condition=Q(net_refund__gte=F("refundable_vat") - F("fee") - Decimal("0.001"))
                & Q(net_refund__lte=F("refundable_vat") - F("fee") + Decimal("0.001"))
                & Q(net_refund__gte=0),
                name="refund_net_is_refundable_minus_fee",
                violation_error_message=(
                    "The net refund must be the refundable VAT minus the fee, and not negative."
                ),
            ),
            models.CheckConstraint(
                condition=Q(status="paid", paid_at__isnull=False)
                | (~Q(status="paid") & Q(paid_at__isnull=True)),
                name="refund_paid_has_time",
                violation_error_message=(
                    "A paid refund has the time it was paid; any other has none."
                ),
            ),
            models.CheckConstraint(
                condition=Q(payout_method="cash", payout_account_encrypted="")
                | (~Q(payout_method="cash") & ~Q(payout_account_encrypted="")),
                name="refund_transfer_has_account",
                violation_error_message=(
                    "A cash refund has no payout account; a transfer needs one."
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "refund_date"]),
            models.Index(fields=["status"]),
        ]

    def __str__(self) -> str:
        return f"refund {self.pk} of {self.form_id} ({self.status})"

    @property
    def is_transfer(self) -> bool:
        return self.payout_method in TRANSFER_METHODS


class RefundAttempt(models.Model):
    """A refused refund request (checks failed, cash over the cap, already refunded...)."""

    form = models.ForeignKey(
        RefundForm,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refund_attempts",
    )
    form_number = models.CharField(max_length=32)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="refund_attempts")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    port = models.ForeignKey(Port, on_delete=models.PROTECT, null=True, blank=True)
    payout_method = models.CharField(max_length=16, blank=True)
    code = models.CharField(max_length=64)
    detail = models.CharField(max_length=300)
    checks = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.form_number} refused: {self.code}"


class SandboxTransfer(models.Model):
    """The sandbox payout gateway's own record of a transfer, one per idempotency key.

    Stands in for the remote provider's books: a repeated key returns the
    recorded outcome and never moves money twice.
    """

    class Status(models.TextChoices):
        NOT_EXECUTED = "not_executed"
        SUCCEEDED = "succeeded"
        DECLINED = "declined"

    key = models.CharField(max_length=80, unique=True)
    method = models.CharField(max_length=16)
    account_hash = models.CharField(max_length=64)
    account_masked = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_EXECUTED)
    reference = models.CharField(max_length=80, blank=True)
    calls = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    executed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.key} {self.status} {self.amount}"


from agencies.guarantee_models import *  # noqa: E402, F403  (Buy & Refund records)

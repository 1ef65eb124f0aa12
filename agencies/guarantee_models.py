"""Buy & Refund records: the prepayment, its card guarantee, the guarantee's gateway operations.

Imported from ``agencies/models.py`` so Django registers them with the app.
Only a card TOKEN is stored, never a card number (SPEC §2 Buy & Refund 5).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import Agency, LedgerHead, Store
from core.state import TransitionMap
from stores.models import RefundForm

__all__ = [
    "ACTIVE_GUARANTEE_STATUSES",
    "GUARANTEE_TRANSITIONS",
    "PREPAYMENT_TRANSITIONS",
    "REQUEST_ATTEMPT_PREFIX",
    "Guarantee",
    "GuaranteeOperation",
    "GuaranteeStatus",
    "OperationKind",
    "OperationStatus",
    "Prepayment",
    "PrepaymentStatus",
    "SandboxCardOperation",
]


# ``attempt`` of a request made with an Idempotency-Key (``core.api.idempotency.current_attempt``):
# it names one client request, so it makes at most one prepayment.
REQUEST_ATTEMPT_PREFIX = "idem:"


class PrepaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending (guarantee being placed)"
    AWAITING_HANDOVER = "awaiting_handover", "Awaiting handover (cash)"
    PAID = "paid", "Paid to the traveler"
    FAILED = "failed", "Failed (card declined, nothing paid)"
    RETURNED = "returned", "Returned by the traveler"


# Cash waits for the clerk to confirm it left the drawer; cash never handed over is
# "returned" (it stays in the drawer) and the hold is released.
PREPAYMENT_TRANSITIONS = TransitionMap(
    "prepayment",
    {
        PrepaymentStatus.PENDING: {
            PrepaymentStatus.PAID,
            PrepaymentStatus.FAILED,
            PrepaymentStatus.AWAITING_HANDOVER,
        },
        PrepaymentStatus.AWAITING_HANDOVER: {PrepaymentStatus.PAID, PrepaymentStatus.RETURNED},
        PrepaymentStatus.PAID: {PrepaymentStatus.RETURNED},
    },
)


class GuaranteeStatus(models.TextChoices):
    PENDING = "pending", "Pending (authorization in flight)"
    AUTHORIZED = "authorized", "Authorized"
    REAUTHORIZED = "reauthorized", "Re-authorized"
    RELEASED = "released", "Released"
    CAPTURED = "captured", "Captured"
    PARTIALLY_CAPTURED = "partially_captured", "Partially captured"
    FAILED = "failed", "Failed (declined)"


ACTIVE_GUARANTEE_STATUSES = (GuaranteeStatus.AUTHORIZED, GuaranteeStatus.REAUTHORIZED)
_SETTLED: set[str] = {
    GuaranteeStatus.REAUTHORIZED,
    GuaranteeStatus.RELEASED,
    GuaranteeStatus.CAPTURED,
    GuaranteeStatus.PARTIALLY_CAPTURED,
}

GUARANTEE_TRANSITIONS = TransitionMap(
    "guarantee",
    {
        GuaranteeStatus.PENDING: {GuaranteeStatus.AUTHORIZED, GuaranteeStatus.FAILED},
        GuaranteeStatus.AUTHORIZED: _SETTLED,
        GuaranteeStatus.REAUTHORIZED: _SETTLED,
    },
)


class Prepayment(LedgerHead):
    """The Buy & Refund prepayment (= the form's net refund) paid at the store, once per form."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    form = models.ForeignKey(RefundForm, on_delete=models.PROTECT, related_name="prepayments")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="prepayments")
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="prepayments"
    )
    status = models.CharField(
        max_length=24, choices=PrepaymentStatus.choices, default=PrepaymentStatus.PENDING
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    payout_method = models.CharField(max_length=16)
    # The request that created it (its Idempotency-Key record, or the page session):
    # only that request may resume an authorization left unanswered.
    attempt = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    # Cash: who confirmed the money left the drawer, and when (= paid_at).
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="prepayments_handed_over",
    )
    handed_over_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Once per form: only a declined (failed) attempt may be followed by another.
            models.UniqueConstraint(
                fields=["form"],
                condition=~Q(status="failed"),
                name="prepayment_one_per_form",
                violation_error_message=(
                    "This form already has a prepayment (only a declined one may be followed by "
                    "another)."
                ),
            ),
            # Once per client request (its Idempotency-Key): the same request sent again,
            # whatever became of its first attempt, finds its own prepayment (an index too).
            models.UniqueConstraint(
                fields=["attempt"],
                condition=Q(attempt__startswith=REQUEST_ATTEMPT_PREFIX),
                name="prepayment_one_per_request",
                violation_error_message="This request already made a prepayment.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="prepayment_amount_positive",
                violation_error_message="A prepayment amount must be positive.",
            ),
            # Returned cash may never have been handed over (then it has no paid_at).
            models.CheckConstraint(
                condition=Q(status="paid", paid_at__isnull=False)
                | Q(status="returned")
                | (~Q(status__in=["paid", "returned"]) & Q(paid_at__isnull=True)),
                name="prepayment_paid_has_time",
                violation_error_message=(
                    "A paid or returned prepayment has the time it was paid; any other has none."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"prepayment {self.pk} of {self.form_id} ({self.status})"


class Guarantee(LedgerHead):
    """The card pre-authorization guaranteeing a prepayment until customs verifies.

    ``deadline`` is the purchase date plus the regional window; after
    ``grace_until`` (deadline + 3 working days) without customs verification
    the prepayment is captured. ``hold_expires_at`` is the current hold's own
    expiry (from the gateway); it is renewed before it lapses.
    """

    prepayment = models.OneToOneField(
        Prepayment, on_delete=models.PROTECT, related_name="guarantee"
    )
    form = models.ForeignKey(RefundForm, on_delete=models.PROTECT, related_name="guarantees")
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="guarantees"
    )
    status = models.CharField(
        max_length=24, choices=GuaranteeStatus.choices, default=GuaranteeStatus.PENDING
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    card_token = models.CharField(max_length=64)
    card_holder_name = models.CharField(max_length=200)
    deadline = models.DateField()
    grace_until = models.DateField()
    hold_reference = models.CharField(max_length=80, blank=True)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    authorizations = models.PositiveSmallIntegerField(default=0)
    captured_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    # The first day the sweep must look at this guarantee: set by the sweep from the
    # grace period's end and the hold's expiry; NULL (look now) when something happens
    # to it (created, customs verified the form, the prepayment was returned or handed
    # over). The sweep selects by this column, so its cost follows the guarantees due.
    sweep_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(captured_amount__gte=0)
                & Q(captured_amount__lte=F("amount") + Decimal("0.001")),
                name="guarantee_captured_within_amount",
                violation_error_message=(
                    "The captured amount must be between 0 and the guarantee amount."
                ),
            ),
            models.CheckConstraint(
                condition=Q(grace_until__gte=F("deadline")),
                name="guarantee_grace_after_deadline",
                violation_error_message="The grace period cannot end before the deadline.",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "hold_expires_at"]),
            # Active guarantees only (the settled ones are most of the table).
            models.Index(
                fields=["sweep_on"],
                condition=Q(status__in=["authorized", "reauthorized"]),
                name="guarantee_sweep_on_active",
            ),
        ]

    def __str__(self) -> str:
        return f"guarantee {self.pk} of {self.form_id} ({self.status})"


class OperationKind(models.TextChoices):
    AUTHORIZE = "authorize"
    REAUTHORIZE = "reauthorize"
    CAPTURE = "capture"
    CHARGE = "charge"  # the consented charge of the stored token when no hold is left
    RELEASE = "release"
    # After a re-authorization: release the hold it replaces (the guarantee stays).
    RELEASE_PREVIOUS = "release_previous"


class OperationStatus(models.TextChoices):
    PENDING = "pending", "Pending (sent or to send; outcome unknown)"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"


class GuaranteeOperation(models.Model):
    """One call to the card gateway, recorded before it is made, with its idempotency key.

    A retry (task redelivery, a second sweep) re-sends the same key, so the
    gateway executes each operation at most once: nothing is charged twice.
    """

    guarantee = models.ForeignKey(Guarantee, on_delete=models.PROTECT, related_name="operations")
    kind = models.CharField(max_length=16, choices=OperationKind.choices)
    key = models.CharField(max_length=100, unique=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    hold_reference = models.CharField(max_length=80, blank=True)
    business_date = models.DateField()
    status = models.CharField(
        max_length=16, choices=OperationStatus.choices, default=OperationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # Set by the process sending it: until then no other process re-sends it (a
    # crashed sender's operation is re-sent once the lease has expired).
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    reference = models.CharField(max_length=80, blank=True)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["guarantee"],
                condition=Q(status="pending"),
                name="guarantee_one_pending_operation",
                violation_error_message="This guarantee already has an operation in flight.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} {self.status}"


class SandboxCardOperation(models.Model):
    """The sandbox card gateway's own books, one row per idempotency key."""

    class Status(models.TextChoices):
        NOT_EXECUTED = "not_executed"
        SUCCEEDED = "succeeded"
        DECLINED = "declined"

    key = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16)
    token = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    hold_reference = models.CharField(max_length=80, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_EXECUTED)
    reference = models.CharField(max_length=80, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    decline_code = models.CharField(max_length=64, blank=True)
    # Every call with this key, replays included (tests count calls, not rows).
    calls = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    # An authorization (hold) that a later release let go.
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} {self.status} {self.amount}"

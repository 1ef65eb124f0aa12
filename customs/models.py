"""Customs records: verifications with signed stamps, inspection selection, mailbox batches."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from core.models import LedgerHead, Port
from core.state import TransitionMap
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
    # The officer's user name as signed: a later rename must not break the stamp.
    officer_label = models.CharField(max_length=150, blank=True)
    channel = models.CharField(
        max_length=16, choices=VerificationChannel.choices, default=VerificationChannel.COUNTER
    )
    result = models.CharField(max_length=24, choices=VerificationResult.choices)
    departure_date = models.DateField()
    flight = models.CharField(max_length=16, blank=True)
    traveler_matches = models.BooleanField(default=True)
    verified_total = models.DecimalField(max_digits=14, decimal_places=2)
    verified_at = models.DateTimeField()
    # What the agency will likely refuse (183/90-day rules): told to the traveler, not enforced.
    warnings = models.JSONField(default=list, blank=True)
    stamp_message = models.TextField()
    stamp_signature = models.CharField(max_length=128)
    stamp_key_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["-verified_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(verified_total__gte=0),
                name="verification_total_non_negative",
                violation_error_message="The verified total cannot be negative.",
            ),
            models.CheckConstraint(
                condition=~Q(result="rejected") | Q(verified_total=0),
                name="rejected_verifies_nothing",
                violation_error_message=(
                    "A rejected verification verifies nothing: its verified total must be 0."
                ),
            ),
        ]
        indexes = [models.Index(fields=["port", "verified_at"])]

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
                violation_error_message=(
                    "The quantity presented and the verified total of a line cannot be negative."
                ),
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
    channel = models.CharField(
        max_length=16, choices=VerificationChannel.choices, default=VerificationChannel.COUNTER
    )
    code = models.CharField(max_length=64)
    detail = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.form_number} {self.code}"


# --- Inspection selection ----------------------------------------------------------


def new_seed() -> str:
    """A fresh per-port sampling seed."""
    return secrets.token_hex(16)


class InspectionPolicy(models.Model):
    """How a port selects forms for item-by-item inspection (configurable in the admin).

    Forms at or over ``threshold`` are always inspected; below it a share
    ``sample_rate`` is drawn at random, reproducibly: the draw is derived from
    HMAC-SHA256(seed, form number), so one form always gets the same answer.
    Risk rules force inspection whatever the amount.
    """

    port = models.OneToOneField(Port, on_delete=models.CASCADE, related_name="inspection_policy")
    threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("10000.00"),
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Forms with a total at or over this amount (RMB) are inspected item by item.",
    )
    sample_rate = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.1000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="Share of forms below the threshold drawn at random (0.1 = 10%).",
    )
    seed = models.CharField(
        max_length=64,
        default=new_seed,
        help_text="Secret the random draw is derived from; changing it changes future draws.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "inspection policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__gt=0) & Q(sample_rate__gte=0) & Q(sample_rate__lte=1),
                name="inspection_policy_ranges",
                violation_error_message=(
                    "The inspection threshold must be above 0 and the sample rate between 0 and 1 "
                    "(0%% to 100%%)."
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.port_id}: >= {self.threshold}, sample {self.sample_rate}"


class RiskRuleKind(models.TextChoices):
    FORMS_PER_DOCUMENT_DAY = (
        "forms_per_document_day",
        "Forms for one document on one purchase day at least N",
    )
    DOCUMENT_OPEN_TOTAL = (
        "document_open_total",
        "Total of one document's unverified forms at least an amount",
    )
    LINE_TOTAL = "line_total", "Any single line at least an amount"
    ITEM_KEYWORD = "item_keyword", "An item name contains one of the keywords"
    NATIONALITY = "nationality", "Traveler nationality is one of the listed codes"
    STORE = "store", "Issued by one of the listed store codes"


NUMERIC_RISK_KINDS = frozenset(
    {
        RiskRuleKind.FORMS_PER_DOCUMENT_DAY,
        RiskRuleKind.DOCUMENT_OPEN_TOTAL,
        RiskRuleKind.LINE_TOTAL,
    }
)


class RiskRule(models.Model):
    """An admin-editable condition that forces inspection (port NULL: every port)."""

    port = models.ForeignKey(
        Port, on_delete=models.CASCADE, null=True, blank=True, related_name="risk_rules"
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=RiskRuleKind.choices)
    amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="N forms, or an amount in RMB, for the numeric kinds.",
    )
    values = models.TextField(
        blank=True,
        help_text="Keywords, nationality codes or store codes: comma- or line-separated.",
    )
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        kind__in=[
                            "forms_per_document_day",
                            "document_open_total",
                            "line_total",
                        ],
                        amount__gt=0,
                    )
                    | (Q(kind__in=["item_keyword", "nationality", "store"]) & ~Q(values=""))
                ),
                name="risk_rule_has_its_parameter",
                violation_error_message=(
                    "An amount rule needs an amount above 0; a keyword, nationality or store rule "
                    "needs its values."
                ),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def value_list(self) -> list[str]:
        """The listed values, stripped, without blanks."""
        raw = self.values.replace("\n", ",").replace(
            "\uff0c", ","
        )  # full-width comma, as typed in Chinese
        return [v.strip() for v in raw.split(",") if v.strip()]

    def clean(self) -> None:
        if self.kind in NUMERIC_RISK_KINDS and (self.amount is None or self.amount <= 0):
            raise ValidationError({"amount": "This kind of rule needs a positive number."})
        if self.kind not in NUMERIC_RISK_KINDS and not self.value_list():
            raise ValidationError({"values": "This kind of rule needs at least one value."})


class InspectionReason(models.TextChoices):
    THRESHOLD = "threshold", "At or over the inspection threshold"
    RISK_RULE = "risk_rule", "Risk rule"
    RANDOM_SAMPLE = "random_sample", "Random sample"
    NOT_SELECTED = "not_selected", "Not selected"


class InspectionDecision(models.Model):
    """Whether a form is inspected item by item ("red") or not ("green"), decided once."""

    form = models.OneToOneField(
        RefundForm, on_delete=models.PROTECT, related_name="inspection_decision"
    )
    port = models.ForeignKey(Port, on_delete=models.PROTECT, related_name="inspection_decisions")
    selected = models.BooleanField()
    reason = models.CharField(max_length=24, choices=InspectionReason.choices)
    detail = models.CharField(max_length=300)
    rule = models.ForeignKey(RiskRule, on_delete=models.SET_NULL, null=True, blank=True)
    draw = models.DecimalField(max_digits=7, decimal_places=6)
    threshold = models.DecimalField(max_digits=14, decimal_places=2)
    sample_rate = models.DecimalField(max_digits=5, decimal_places=4)
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["-decided_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(selected=False, reason="not_selected")
                | Q(selected=True, reason__in=["threshold", "risk_rule", "random_sample"]),
                name="inspection_reason_matches_selection",
                violation_error_message=(
                    "A form not selected has the reason 'not selected'; a selected form has the "
                    "threshold, a risk rule or the random sample as its reason."
                ),
            )
        ]
        indexes = [models.Index(fields=["port", "selected", "decided_at"])]

    def __str__(self) -> str:
        return f"{self.form_id} {'red' if self.selected else 'green'} ({self.reason})"

    @property
    def lane(self) -> str:
        """ "red": see an officer; "green": the kiosk may verify."""
        return "red" if self.selected else "green"


# --- Mailbox -----------------------------------------------------------------------


class BatchStatus(models.TextChoices):
    OPEN = "open"
    CLOSED = "closed"


BATCH_TRANSITIONS = TransitionMap("mailbox batch", {BatchStatus.OPEN: {BatchStatus.CLOSED}})


class MailboxBatch(LedgerHead):
    """Forms travelers dropped in a port mailbox, processed together by an officer."""

    number = models.CharField(max_length=32, unique=True)
    port = models.ForeignKey(Port, on_delete=models.PROTECT, related_name="mailbox_batches")
    drop_date = models.DateField(help_text="The day the box was emptied: the departure date.")
    status = models.CharField(max_length=8, choices=BatchStatus.choices, default=BatchStatus.OPEN)
    note = models.CharField(max_length=200, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField()
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "mailbox batches"
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | Q(status="closed", closed_at__isnull=False),
                name="mailbox_batch_closed_has_time",
                violation_error_message=(
                    "A closed batch has the time it was closed; an open batch has none."
                ),
            )
        ]

    def __str__(self) -> str:
        return self.number


class MailboxItemResult(models.TextChoices):
    VERIFIED = "verified"
    PARTIALLY_VERIFIED = "partially_verified"
    REJECTED = "rejected"
    REFUSED = "refused"


class MailboxBatchItem(models.Model):
    """One scan in a batch: the form it verified, or why it was refused."""

    batch = models.ForeignKey(MailboxBatch, on_delete=models.PROTECT, related_name="items")
    position = models.PositiveIntegerField()
    scanned = models.CharField(max_length=160)
    form_number = models.CharField(max_length=32, blank=True)
    verification = models.OneToOneField(
        Verification,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mailbox_item",
    )
    result = models.CharField(max_length=24, choices=MailboxItemResult.choices)
    code = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    scanned_at = models.DateTimeField()

    class Meta:
        ordering = ["batch", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "position"],
                name="mailbox_item_position",
                violation_error_message="This batch already has an item at that position.",
            ),
            models.CheckConstraint(
                condition=Q(result="refused", verification__isnull=True)
                | (~Q(result="refused") & Q(verification__isnull=False)),
                name="mailbox_item_result_consistent",
                violation_error_message=(
                    "A refused mailbox item has no verification; any other item has one."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.position} {self.form_number} {self.result}"

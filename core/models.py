"""Shared records: the directory of parties, effective-dated policies, sequences, the ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

two_digits = RegexValidator(r"^\d{2}$", "Two digits.")


class Agency(models.Model):
    """A refund agency (退税代理机构) serving ports and Buy & Refund stores."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Port(models.Model):
    """A departure port where customs verifies forms and agencies pay refunds."""

    code = models.CharField(max_length=8, unique=True)
    name = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    region_code = models.CharField(max_length=2, validators=[two_digits])
    has_mailbox = models.BooleanField(default=False)
    buy_and_refund_designated = models.BooleanField(default=True)
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="ports"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Store(models.Model):
    """A registered tax-free (离境退税) store."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200, blank=True)
    taxpayer_id = models.CharField(
        max_length=18,
        validators=[RegexValidator(r"^[0-9A-Z]{15,18}$", "15-18 digits or capitals.")],
    )
    region_code = models.CharField(max_length=2, validators=[two_digits])
    city = models.CharField(max_length=100)
    address = models.CharField(max_length=300, blank=True)
    buy_and_refund = models.BooleanField(default=False)
    serving_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="stores"
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(buy_and_refund=False) | Q(serving_agency__isnull=False),
                name="store_buy_and_refund_needs_agency",
                violation_error_message=(
                    "A Buy & Refund store needs a serving agency (the agency holds the card "
                    "guarantee)."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class StaffRole(models.TextChoices):
    CLERK = "clerk", "Store clerk"
    OFFICER = "officer", "Customs officer"
    AGENT = "agent", "Agency operator"
    ANALYST = "analyst", "Tax authority analyst"


class StaffMembership(models.Model):
    """Links a user to exactly one store, port or agency with the matching role.

    A tax authority analyst has no place: the authority reads everything, read-only.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    role = models.CharField(max_length=16, choices=StaffRole.choices)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, null=True, blank=True)
    port = models.ForeignKey(Port, on_delete=models.PROTECT, null=True, blank=True)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role="clerk", store__isnull=False, port__isnull=True, agency__isnull=True)
                    | Q(role="officer", store__isnull=True, port__isnull=False, agency__isnull=True)
                    | Q(role="agent", store__isnull=True, port__isnull=True, agency__isnull=False)
                    | Q(role="analyst", store__isnull=True, port__isnull=True, agency__isnull=True)
                ),
                name="membership_one_place_matching_role",
                violation_error_message=(
                    "A clerk belongs to a store, an officer to a port, an agent to an agency, an "
                    "analyst to none: set exactly the place of the role."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class RefundPolicy(models.Model):
    """The refund policy in force from a date; the invoice date picks it."""

    effective_from = models.DateField(unique=True)
    minimum_amount = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    cash_cap = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "refund policies"
        ordering = ["effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(minimum_amount__gte=0) & Q(cash_cap__gte=0),
                name="policy_amounts_non_negative",
                violation_error_message="The minimum amount and the cash cap cannot be negative.",
            )
        ]

    def __str__(self) -> str:
        return f"Policy from {self.effective_from}"


class RefundRate(models.Model):
    """Within a policy: goods at ``vat_rate`` are refunded at ``refund_rate``."""

    policy = models.ForeignKey(RefundPolicy, on_delete=models.CASCADE, related_name="rates")
    vat_rate = models.DecimalField(max_digits=5, decimal_places=4)
    refund_rate = models.DecimalField(max_digits=5, decimal_places=4)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "vat_rate"],
                name="one_rate_per_vat_rate",
                violation_error_message="This policy already has a refund rate for this VAT rate.",
            ),
            models.CheckConstraint(
                condition=Q(refund_rate__gt=0) & Q(refund_rate__lte=Decimal("0.2")),
                name="refund_rate_range",
                violation_error_message="The refund rate must be above 0%% and at most 20%%.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vat_rate} -> {self.refund_rate}"


class AgencyFeeRate(models.Model):
    """The agency fee rate from a date; agency NULL is the platform default."""

    agency = models.ForeignKey(
        Agency, on_delete=models.CASCADE, null=True, blank=True, related_name="fee_rates"
    )
    effective_from = models.DateField()
    rate = models.DecimalField(max_digits=5, decimal_places=4)

    class Meta:
        ordering = ["effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "effective_from"],
                condition=Q(agency__isnull=False),
                name="one_fee_rate_per_agency_day",
                violation_error_message="This agency already has a fee rate starting on that day.",
            ),
            models.UniqueConstraint(
                fields=["effective_from"],
                condition=Q(agency__isnull=True),
                name="one_default_fee_rate_per_day",
                violation_error_message="A default fee rate already starts on that day.",
            ),
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lt=Decimal("0.11")),
                name="fee_rate_range",
                violation_error_message="The fee rate must be at least 0%% and below 11%%.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency or 'default'} {self.rate} from {self.effective_from}"


class BuyAndRefundWindow(models.Model):
    """Days a Buy & Refund traveler has to leave, from a date (configurable, effective-dated).

    ``region_code`` NULL is a nationwide row that applies to every region. The
    purchase date picks the row in force: the latest ``effective_from`` on or
    before it among the region's own rows and the nationwide rows; on the same
    date the regional row wins. So a nationwide row supersedes older regional
    pilots, and a later regional row overrides a nationwide one for its region.
    """

    region_code = models.CharField(
        max_length=2,
        validators=[two_digits],
        null=True,
        blank=True,
        help_text="Two-digit region (Shanghai 31). Leave blank for a nationwide window that"
        " applies to every region.",
    )
    effective_from = models.DateField(
        help_text="The purchase date from which this window applies; the latest row on or"
        " before a purchase date is in force (a regional row wins a tie)."
    )
    days = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1)],
        help_text="Calendar days from the purchase date to leave through a Buy & Refund port.",
    )
    source = models.CharField(
        max_length=300,
        blank=True,
        help_text="Where the figure comes from. The nationwide 28 days from 2026-07-01"
        " (departure tax refund 2.0) is reported, not yet read in a primary text.",
    )

    class Meta:
        ordering = ["effective_from", "region_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["region_code", "effective_from"],
                condition=Q(region_code__isnull=False),
                name="one_window_per_region_day",
                violation_error_message=(
                    "This region already has a Buy & Refund window starting on that day."
                ),
            ),
            models.UniqueConstraint(
                fields=["effective_from"],
                condition=Q(region_code__isnull=True),
                name="one_nationwide_window_per_day",
                violation_error_message=(
                    "A nationwide Buy & Refund window already starts on that day."
                ),
            ),
        ]

    def __str__(self) -> str:
        where = f"region {self.region_code}" if self.region_code else "nationwide"
        return f"{where}: {self.days} days from {self.effective_from}"


class WorkingDayOverride(models.Model):
    """An administrator's correction of the official Chinese calendar for one day.

    The ``chinese-calendar`` package knows the State Council's holidays and
    adjusted working days (调休) for the years it was released with; add rows here
    for a year it does not know yet, or to correct a day.
    """

    day = models.DateField(unique=True)
    is_working_day = models.BooleanField(
        help_text="Ticked: a working day (e.g. an adjusted Saturday, 调休上班)."
        " Unticked: a day off (e.g. a public holiday)."
    )
    note = models.CharField(max_length=200, blank=True, help_text="E.g. 国庆节 National Day.")

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day}: {'working day' if self.is_working_day else 'day off'}"


class NumberSequence(models.Model):
    """A named counter for document numbers, allocated under a row lock."""

    key = models.CharField(max_length=64, unique=True)
    last_value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}={self.last_value}"


# --- Ledger ----------------------------------------------------------------------


class AppendOnlyError(Exception):
    """Ledger rows (entries, seals, seal items) are never updated or deleted."""


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """Refuses every bulk change: rows of these tables are only ever inserted."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} cannot be updated")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} cannot be deleted")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} cannot be updated")


# Kept under its first name: the ledger entries' queryset.
LedgerQuerySet = AppendOnlyQuerySet


class AppendOnlyModel(models.Model):
    """A model whose saved rows may not be changed or deleted through the ORM."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.verbose_name_plural} cannot be updated")
        # Insert only: a new instance given an existing pk must not overwrite that row.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self._meta.verbose_name_plural} cannot be deleted")


LEDGER_HEAD_FIELDS = ("ledger_seq", "ledger_hash")


class LedgerHead(models.Model):
    """The head of a record's ledger chain, kept on the record's own row.

    The service that changes a record already holds its row lock, so the head read with
    the row orders the chain and an append is one INSERT (the head is written with the
    status, in the same UPDATE). ``ledger_seq`` 0 means the row does not carry the head
    (a row written before heads were kept, or created with its first entry in the same
    transaction): the next append reads the chain instead. A non-zero head is exact.
    """

    # db_default too: set-based SQL inserts (bulk fills, the benchmark) leave them out.
    ledger_seq = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    ledger_hash = models.CharField(
        max_length=64, blank=True, default="", db_default="", editable=False
    )

    class Meta:
        abstract = True


class LedgerEntry(AppendOnlyModel):
    """One state change of one record, hash-chained to that record's previous entry."""

    record_type = models.CharField(max_length=64)
    record_id = models.CharField(max_length=64)
    seq = models.PositiveIntegerField()
    action = models.CharField(max_length=64)
    from_status = models.CharField(max_length=32, blank=True)
    to_status = models.CharField(max_length=32, blank=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    payload = models.JSONField(default=dict)
    payload_digest = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64, blank=True)
    entry_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["record_type", "record_id", "seq"],
                name="ledger_one_entry_per_seq",
                violation_error_message=(
                    "This record already has a ledger entry with that sequence number."
                ),
            )
        ]
        indexes = [models.Index(fields=["record_type", "record_id", "seq"])]

    def __str__(self) -> str:
        return f"{self.record_type}#{self.record_id}.{self.seq} {self.action}"


class LedgerSeal(AppendOnlyModel):
    """A signed tree head over the entries sealed in this batch, chained to the previous head."""

    created_at = models.DateTimeField()
    tree_size = models.PositiveBigIntegerField()
    batch_size = models.PositiveIntegerField()
    batch_root = models.CharField(max_length=64)
    prev_head = models.CharField(max_length=64, blank=True)
    head_hash = models.CharField(max_length=64, unique=True)
    signature = models.CharField(max_length=128)
    # Version 2 heads also sign ``root``: the RFC 6962 Merkle Tree Hash of every entry
    # sealed so far (sealing order), which inclusion and consistency proofs are made
    # against. Version 1 heads (sealed before) sign the batch root only.
    version = models.PositiveSmallIntegerField(default=1)
    root = models.CharField(max_length=64, blank=True)
    # The perfect subtrees ([[size, hex], ...]) of that tree: the next seal extends
    # them instead of re-reading every entry. Derived data, not signed.
    frontier = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"seal {self.pk} size {self.tree_size}"


class LedgerSealItem(AppendOnlyModel):
    """Membership of an entry in exactly one seal, at a leaf index."""

    seal = models.ForeignKey(LedgerSeal, on_delete=models.PROTECT, related_name="items")
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="seal_item")
    leaf_index = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["seal", "leaf_index"],
                name="seal_leaf_unique",
                violation_error_message="This seal already has an entry at that leaf index.",
            )
        ]

    def __str__(self) -> str:
        return f"seal {self.seal_id} leaf {self.leaf_index}"


# --- Idempotency -----------------------------------------------------------------


class IdempotencyRecord(models.Model):
    """The first answer to a (user, Idempotency-Key), replayed for retries."""

    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETE = "complete"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The attempt running it holds a lease: a retry meanwhile gets 409 at once; once
    # the lease has expired the attempt is taken as dead and the record is resolved.
    attempt = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # What the attempt created (e.g. "agencies.refund", 12), bound in the same
    # transaction: how a dead attempt's outcome is learned from the record itself.
    resource = models.CharField(max_length=64, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"],
                name="idempotency_key_per_user",
                violation_error_message="This idempotency key was already used by this user.",
            )
        ]
        indexes = [models.Index(fields=["status", "lease_expires_at"])]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class Heartbeat(models.Model):
    """The last time a periodic process proved it was alive (``beat``: beat and a worker)."""

    name = models.CharField(max_length=32, unique=True)
    beat_at = models.DateTimeField()
    hostname = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"

"""The tax authority's records: the store registry (备案), its read audit, risk signal rules."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import Store


class TaxpayerRating(models.TextChoices):
    A = "A", "A (credit rating A)"
    B = "B", "B (credit rating B)"
    M = "M", "M (newly opened)"


class FilingStatus(models.TextChoices):
    FILED = "filed", "Filed (may issue forms)"
    SUSPENDED = "suspended", "Suspended"
    EXITED = "exited", "Exited the scheme"


class StoreFiling(models.Model):
    """One effective-dated state of a store's filing (备案) with the tax authority.

    The row with the latest ``effective_from`` on or before a day (the last one
    recorded, when a day has several) is the store's state that day; a store may
    issue forms only on days it is ``filed``. Rows are never edited: a change is a
    new row (``authority.services.store_filing_change``).
    """

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="filings")
    effective_from = models.DateField()
    status = models.CharField(max_length=16, choices=FilingStatus.choices)
    rating = models.CharField(max_length=1, choices=TaxpayerRating.choices)
    filing_number = models.CharField(max_length=32, blank=True)
    filed_on = models.DateField(help_text="The date of the store's filing (备案日期).")
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["store", "-effective_from", "-id"]
        indexes = [models.Index(fields=["store", "effective_from"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["filed", "suspended", "exited"]),
                name="filing_status_known",
                violation_error_message="The filing status is filed, suspended or exited.",
            ),
            models.CheckConstraint(
                condition=Q(rating__in=["A", "B", "M"]),
                name="filing_rating_known",
                violation_error_message="The rating is A, B or M.",
            ),
            models.CheckConstraint(
                condition=Q(effective_from__gte=models.F("filed_on")),
                name="filing_effective_after_filed",
                violation_error_message="A filing cannot take effect before the day it was filed.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.status} from {self.effective_from}"


class AuthorityRead(models.Model):
    """One read by a tax authority analyst (or a ledger proof by anyone): who, when, what."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    at = models.DateTimeField(auto_now_add=True)
    what = models.CharField(max_length=64)
    detail = models.CharField(max_length=300, blank=True)
    channel = models.CharField(max_length=8, default="page")

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["user", "at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.what} {self.at:%Y-%m-%d %H:%M}"


class SignalCode(models.TextChoices):
    MANY_STORES_ONE_DAY = "many_stores_one_day", "One traveler, many stores, one day"
    JUST_UNDER_THRESHOLD = "just_under_threshold", "Totals just under the inspection threshold"
    STORE_VOID_RATE = "store_void_rate", "Stores with a high void rate"
    FAR_PORT_FAST = "far_port_fast", "Verified at a far port within hours of purchase"
    KIOSK_FORM_LOCKS = "kiosk_form_locks", "Repeated kiosk form locks"


class RiskSignalRule(models.Model):
    """The thresholds of one risk signal, set in the admin; a signal never refuses anything.

    ``threshold`` and ``parameter`` mean what each rule's ``help`` says (SIGNAL_HELP).
    """

    code = models.CharField(max_length=32, choices=SignalCode.choices, unique=True)
    enabled = models.BooleanField(default=True)
    threshold = models.DecimalField(max_digits=14, decimal_places=2)
    parameter = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__gt=0) & Q(parameter__gte=0),
                name="risk_rule_positive",
                violation_error_message=(
                    "A risk signal needs a threshold above 0 and a parameter of at least 0."
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} ≥ {self.threshold}"

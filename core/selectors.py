"""Reads of shared records: policies, fee rates and windows as rules-engine values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from core.models import (
    AgencyFeeRate,
    BuyAndRefundWindow,
    RefundPolicy,
    StaffMembership,
)
from core.rules import Dated, NoPolicyInForce, Policy, in_force


def policies_all() -> list[Policy]:
    """Every refund policy with its rates, as pure values."""
    result = []
    for row in RefundPolicy.objects.prefetch_related("rates").order_by("effective_from"):
        result.append(
            Policy(
                effective_from=row.effective_from,
                minimum_amount=row.minimum_amount,
                cash_cap=row.cash_cap,
                refund_rates={r.vat_rate.normalize(): r.refund_rate for r in row.rates.all()},
            )
        )
    return result


def policy_on(day: date) -> Policy:
    """The refund policy in force on ``day`` (raises NoPolicyInForce)."""
    return in_force(policies_all(), day)


def fee_rate_on(*, agency_id: int | None, day: date) -> Decimal:
    """The agency's fee rate on ``day``, else the platform default."""
    scope = AgencyFeeRate.objects.filter(agency__isnull=True)
    if agency_id is not None:
        scope = AgencyFeeRate.objects.filter(agency__pk=agency_id)
    rows = list(scope.values_list("effective_from", "rate"))
    if agency_id is not None and not rows:
        return fee_rate_on(agency_id=None, day=day)
    try:
        return in_force([Dated(d, r) for d, r in rows], day).value
    except NoPolicyInForce:
        if agency_id is not None:
            return fee_rate_on(agency_id=None, day=day)
        raise


def buy_and_refund_days(*, region_code: str, day: date) -> int | None:
    """Days a Buy & Refund traveler from this region has to leave, or None if not configured."""
    rows = [
        Dated(d, Decimal(n))
        for d, n in BuyAndRefundWindow.objects.filter(region_code=region_code).values_list(
            "effective_from", "days"
        )
    ]
    try:
        return int(in_force(rows, day).value)
    except NoPolicyInForce:
        return None


def membership_of(user: AbstractBaseUser | AnonymousUser | None) -> StaffMembership | None:
    """The staff membership of a user, or None."""
    if user is None or not user.is_authenticated:
        return None
    try:
        return StaffMembership.objects.select_related("store", "port", "agency").get(
            user__pk=user.pk
        )
    except StaffMembership.DoesNotExist:
        return None

"""Reads of shared records: policies, fee rates and windows as rules-engine values."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

from core import workdays
from core.models import (
    AgencyFeeRate,
    BuyAndRefundWindow,
    RefundPolicy,
    StaffMembership,
    WorkingDayOverride,
)
from core.rules import Dated, NoPolicyInForce, Policy, Window, in_force, window_in_force


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


def buy_and_refund_window(*, region_code: str, day: date) -> Window | None:
    """The Buy & Refund window for a purchase on ``day`` at a store of this region, or None."""
    rows = [
        Window(effective_from=d, days=n, region_code=r)
        for r, d, n in BuyAndRefundWindow.objects.filter(
            Q(region_code=region_code) | Q(region_code__isnull=True)
        ).values_list("region_code", "effective_from", "days")
    ]
    return window_in_force(rows, region_code=region_code, on=day)


def buy_and_refund_days(*, region_code: str, day: date) -> int | None:
    """Days a Buy & Refund traveler has to leave after a purchase on ``day``, or None."""
    window = buy_and_refund_window(region_code=region_code, day=day)
    return window.days if window is not None else None


def working_day_overrides(*, start: date, end: date) -> dict[date, bool]:
    """The administrator's calendar corrections between two dates (inclusive)."""
    return dict(
        WorkingDayOverride.objects.filter(day__gte=start, day__lte=end).values_list(
            "day", "is_working_day"
        )
    )


def working_days_add(*, day: date, count: int) -> date:
    """``day`` plus ``count`` working days on the Chinese calendar with the admin's overrides."""
    # Generous span: the longest holiday plus its weekends stays well inside it.
    overrides = working_day_overrides(start=day, end=day + timedelta(days=count * 7 + 70))
    return workdays.add_working_days(day, count, overrides)


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

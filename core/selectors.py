"""Reads of shared records: policies, fee rates and windows as rules-engine values."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from core import workdays
from core.models import (
    AgencyFeeRate,
    BuyAndRefundWindow,
    RefundPolicy,
    StaffMembership,
    WorkingDayOverride,
)
from core.refcache import reference_cached
from core.rules import Dated, NoPolicyInForce, Policy, Window, in_force, window_in_force


def _policies_load() -> tuple[list[Policy], dict[date, int]]:
    result = []
    ids = {}
    for row in RefundPolicy.objects.prefetch_related("rates").order_by("effective_from"):
        result.append(
            Policy(
                effective_from=row.effective_from,
                minimum_amount=row.minimum_amount,
                cash_cap=row.cash_cap,
                refund_rates={r.vat_rate.normalize(): r.refund_rate for r in row.rates.all()},
            )
        )
        ids[row.effective_from] = row.pk
    return result, ids


def policies_all() -> list[Policy]:
    """Every refund policy with its rates, as pure values (cached per process)."""
    return list(reference_cached("policies", _policies_load)[0])


def policy_id_of(policy: Policy) -> int:
    """The row id of a policy value (for a form's foreign key), without a query."""
    return reference_cached("policies", _policies_load)[1][policy.effective_from]


def policy_on(day: date) -> Policy:
    """The refund policy in force on ``day`` (raises NoPolicyInForce)."""
    return in_force(policies_all(), day)


def _fee_rates() -> dict[int | None, list[tuple[date, Decimal]]]:
    def load() -> dict[int | None, list[tuple[date, Decimal]]]:
        rows: dict[int | None, list[tuple[date, Decimal]]] = {}
        for agency_id, day, rate in AgencyFeeRate.objects.values_list(
            "agency_id", "effective_from", "rate"
        ):
            rows.setdefault(agency_id, []).append((day, rate))
        return rows

    return reference_cached("fee-rates", load)


def fee_rate_on(*, agency_id: int | None, day: date) -> Decimal:
    """The agency's fee rate on ``day``, else the platform default."""
    rows = _fee_rates().get(agency_id, [])
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
    every = reference_cached(
        "windows",
        lambda: [
            Window(effective_from=d, days=n, region_code=r)
            for r, d, n in BuyAndRefundWindow.objects.values_list(
                "region_code", "effective_from", "days"
            )
        ],
    )
    rows = [w for w in every if w.region_code in (region_code, None)]
    return window_in_force(rows, region_code=region_code, on=day)


def buy_and_refund_days(*, region_code: str, day: date) -> int | None:
    """Days a Buy & Refund traveler has to leave after a purchase on ``day``, or None."""
    window = buy_and_refund_window(region_code=region_code, day=day)
    return window.days if window is not None else None


def working_day_overrides(*, start: date, end: date) -> dict[date, bool]:
    """The administrator's calendar corrections between two dates (inclusive)."""
    every: dict[date, bool] = reference_cached(
        "working-day-overrides",
        lambda: dict(WorkingDayOverride.objects.values_list("day", "is_working_day")),
    )
    return {day: working for day, working in every.items() if start <= day <= end}


def working_days_add(*, day: date, count: int) -> date:
    """``day`` plus ``count`` working days on the Chinese calendar with the admin's overrides."""
    # Generous span: the longest holiday plus its weekends stays well inside it.
    overrides = working_day_overrides(start=day, end=day + timedelta(days=count * 7 + 70))
    return workdays.add_working_days(day, count, overrides)


def membership_of(user: AbstractBaseUser | AnonymousUser | None) -> StaffMembership | None:
    """The staff membership of a user, or None (no query when the token's read brought it)."""
    if user is None or not user.is_authenticated:
        return None
    descriptor = getattr(type(user), "membership", None)
    if descriptor is not None and descriptor.is_cached(user):
        try:
            membership: StaffMembership = user.membership  # type: ignore[union-attr,attr-defined]
        except StaffMembership.DoesNotExist:
            return None
        return membership
    try:
        return StaffMembership.objects.select_related("store", "port", "agency").get(
            user__pk=user.pk
        )
    except StaffMembership.DoesNotExist:
        return None


def prefetched_set(instance: Any, name: str, objects: Iterable[Any]) -> None:
    """Give ``instance.<name>.all()`` the rows the service just wrote: the reply reads
    them without a query (as a ``prefetch_related`` would have left them)."""
    queryset = getattr(instance, name).all()  # lazy: no query
    queryset._result_cache = list(objects)
    queryset._prefetch_done = True
    cache = getattr(instance, "_prefetched_objects_cache", None)
    if cache is None:
        cache = instance._prefetched_objects_cache = {}
    cache[name] = queryset

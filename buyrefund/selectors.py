"""Read side of the Buy & Refund guarantees dashboard (/agency/guarantees/).

One selector, two queries whatever the number of guarantees: the agency's
active guarantees and the ones settled in the month of ``day``. Sections are
read from the stored states on ``day`` (the sweep's own ``guarantee_due``
reads the verification per guarantee, so it is not called per row here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.utils import timezone

from agencies.models import (
    ACTIVE_GUARANTEE_STATUSES,
    Guarantee,
    GuaranteeStatus,
    PrepaymentStatus,
)
from buyrefund.services import business_time
from customs.models import VerificationResult

ZERO = Decimal("0.00")
# The dashboard warns about holds expiring within this many days of ``day``.
EXPIRING_WITHIN_DAYS = 2
SETTLED_STATUSES = (
    GuaranteeStatus.RELEASED,
    GuaranteeStatus.CAPTURED,
    GuaranteeStatus.PARTIALLY_CAPTURED,
)
_RELEASE_RESULTS = (VerificationResult.VERIFIED, VerificationResult.PARTIALLY_VERIFIED)


@dataclass(frozen=True)
class GuaranteeRow:
    """One guarantee as the dashboard shows it, with what awaits it on the day."""

    guarantee: Guarantee
    verification_result: str
    outlook: str  # a short bilingual note: what the sweep will do / why it is listed
    hold_lapsed: bool = False  # the hold expired before the day's sweep (a charge instead)

    @property
    def verification_label(self) -> str:
        """Customs' result as words ("Partially Verified"), or "" before customs."""
        return (
            str(VerificationResult(self.verification_result).label)
            if self.verification_result
            else ""
        )


@dataclass
class Section:
    """A dashboard section: its rows, count and sums."""

    key: str
    rows: list[GuaranteeRow] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def amount(self) -> Decimal:
        return sum((r.guarantee.amount for r in self.rows), ZERO)

    @property
    def captured(self) -> Decimal:
        return sum((r.guarantee.captured_amount for r in self.rows), ZERO)


@dataclass
class Dashboard:
    """The four sections of the dashboard on ``day``."""

    day: date
    month: date
    due: Section
    expiring: Section
    open: Section
    settled: Section


def _result_of(guarantee: Guarantee) -> str:
    try:
        return str(guarantee.form.verification.result)
    except ObjectDoesNotExist:
        return ""


def _due_outlook(guarantee: Guarantee, result: str, day: date) -> str | None:
    """Why an active guarantee is due on ``day`` (verified, rejected, past grace), or None."""
    if guarantee.prepayment.status == PrepaymentStatus.AWAITING_HANDOVER:
        return None  # cash not confirmed as handed over: the sweep leaves the hold as it is
    if guarantee.prepayment.status != PrepaymentStatus.PAID:
        return "Prepayment returned: hold to release · 预付款已退回 释放担保"
    if guarantee.captured_amount > 0:
        return "Partly captured: rest of the hold to release · 已部分扣款 释放余额"
    if result == VerificationResult.VERIFIED:
        return "Verified by customs: hold to release · 海关已核验 释放担保"
    if result == VerificationResult.PARTIALLY_VERIFIED:
        return "Partially verified: difference to capture · 部分核验 扣除差额"
    if result == VerificationResult.REJECTED:
        return "Rejected by customs: to capture · 海关未核验 扣款"
    if day > guarantee.grace_until:
        return "Past deadline and grace, not verified: to capture · 逾期未核验 扣款"
    return None


def _month_bounds(day: date) -> tuple[datetime, datetime]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return (
        timezone.make_aware(datetime.combine(first, time.min)),
        timezone.make_aware(datetime.combine(following, time.min)),
    )


def _base(agency_id: int) -> QuerySet[Guarantee]:
    return Guarantee.objects.filter(agency_id=agency_id).select_related(
        "prepayment", "form", "form__store", "form__verification"
    )


def guarantees_dashboard(*, agency_id: int, day: date | None = None) -> Dashboard:
    """The agency's guarantees on ``day`` (default today): due, expiring, open, settled."""
    day = day or timezone.localdate()
    at = business_time(day)
    horizon = day + timedelta(days=EXPIRING_WITHIN_DAYS)
    due, expiring, open_ = Section("due"), Section("expiring"), Section("open")
    active = (
        _base(agency_id).filter(status__in=ACTIVE_GUARANTEE_STATUSES).order_by("deadline", "pk")
    )
    for guarantee in active:
        result = _result_of(guarantee)
        reason = _due_outlook(guarantee, result, day)
        lapsed = guarantee.hold_expires_at is not None and guarantee.hold_expires_at <= at
        if reason is not None:
            due.rows.append(GuaranteeRow(guarantee, result, reason, lapsed))
        elif (
            guarantee.hold_expires_at is not None
            and guarantee.hold_expires_at > at
            and timezone.localdate(guarantee.hold_expires_at) <= horizon
        ):
            expiring.rows.append(
                GuaranteeRow(guarantee, result, "Hold to re-authorize · 担保将重新授权", lapsed)
            )
        open_.rows.append(GuaranteeRow(guarantee, result, reason or "", lapsed))
    start, end = _month_bounds(day)
    settled = Section("settled")
    for guarantee in (
        _base(agency_id)
        .filter(status__in=SETTLED_STATUSES, settled_at__gte=start, settled_at__lt=end)
        .order_by("-settled_at", "-pk")
    ):
        settled.rows.append(GuaranteeRow(guarantee, _result_of(guarantee), ""))
    return Dashboard(
        day=day,
        month=day.replace(day=1),
        due=due,
        expiring=expiring,
        open=open_,
        settled=settled,
    )

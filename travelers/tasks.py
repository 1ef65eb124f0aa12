"""Traveler tasks: react to a verification, send notices, remind before the deadline.

Every task gets ids, re-reads its rows and does nothing when the work is done, so a
redelivered task (acks_late) or a beat safety net running the same work is harmless.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone
from kombu.exceptions import OperationalError

from agencies.cards import CardGatewayError
from agencies.guarantee_models import ACTIVE_GUARANTEE_STATUSES, Guarantee
from buyrefund.services import guarantee_settle_now
from customs.models import Verification, VerificationResult
from stores.models import FormStatus
from travelers.messaging import MessageError
from travelers.models import Notice, NoticeKind, NoticeState, PayoutPreChoice, PreChoiceStatus
from travelers.notices import notice_create, notice_give_up, notice_send
from travelers.services import pre_choice_pay

logger = logging.getLogger(__name__)

REMINDER_DAYS_BEFORE = 3
NOTICE_MAX_RETRIES = 5


def _enqueue(task: object, *args: object, countdown: float = 0) -> None:
    """Enqueue after commit; a broker outage is logged, the beat safety nets catch up."""
    try:
        task.apply_async(args=args, countdown=countdown)  # type: ignore[attr-defined]
    except OperationalError:
        logger.warning("broker unreachable: %s%s left to the periodic safety net", task, args)


def enqueue_form_verified(verification_id: int) -> None:
    _enqueue(form_verified_task, verification_id)


def enqueue_pre_choice_pay(form_id: int) -> None:
    _enqueue(pre_choice_pay_task, form_id)


def enqueue_notice_send(form_id: int, kind: str) -> None:
    _enqueue(notice_send_task, form_id, kind)  # type: ignore[arg-type]


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(CardGatewayError,),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=False,
    max_retries=5,
)
def form_verified_task(self: object, verification_id: int) -> dict[str, object]:
    """Customs stamped a form: release (or capture) its guarantee now, pay its pre-choice."""
    verification = Verification.objects.filter(pk=verification_id).first()
    if verification is None:
        return {"verification": verification_id, "found": False}
    operations = guarantee_settle_now(form_id=verification.form_id)
    choice = pre_choice_pay(form_id=verification.form_id)
    return {
        "verification": verification_id,
        "guarantee_operations": [f"{op.kind}:{op.status}" for op in operations],
        "pre_choice": choice.status if choice is not None else None,
    }


@shared_task(acks_late=True)
def pre_choice_pay_task(form_id: int) -> str | None:
    """Pay a form's pre-chosen transfer if customs verified it (idempotent)."""
    choice = pre_choice_pay(form_id=form_id)
    return choice.status if choice is not None else None


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OSError, MessageError),
    retry_backoff=10,
    retry_backoff_max=300,
    retry_jitter=False,
    max_retries=NOTICE_MAX_RETRIES,
)
def notice_send_task(self: object, form_id: int, kind: str) -> str:
    """Send one notice at most once; a mail server error retries with backoff, then fails."""
    notice_id = (
        Notice.objects.filter(form_id=form_id, kind=kind).values_list("pk", flat=True).first()
    )
    if notice_id is None:
        return "missing"  # its transaction rolled back
    try:
        return notice_send(notice_id=notice_id)
    except (OSError, MessageError) as exc:
        if self.request.retries >= NOTICE_MAX_RETRIES:  # type: ignore[attr-defined]
            notice_give_up(notice_id=notice_id, error=str(exc))
        raise


@shared_task(acks_late=True)
def deadline_reminders_task(today: str | None = None) -> int:
    """Daily: Buy & Refund forms not yet verified whose deadline is within 3 days.

    The notice is unique per form, so it goes out once: on the 3rd day before the
    deadline, or on a later day if beat did not run that day.
    """
    day = date.fromisoformat(today) if today else timezone.localdate()
    due = Guarantee.objects.filter(
        status__in=ACTIVE_GUARANTEE_STATUSES,
        form__status=FormStatus.ISSUED,
        deadline__gte=day,
        deadline__lte=day + timedelta(days=REMINDER_DAYS_BEFORE),
    ).select_related("form")
    sent = 0
    for guarantee in due:
        if notice_create(form=guarantee.form, kind=NoticeKind.DEADLINE_REMINDER):
            sent += 1
    return sent


@shared_task(acks_late=True)
def travelers_safety_net_task() -> dict[str, int]:
    """Every few minutes: what an event's task should have done, if its enqueue was lost.

    Pending notices older than a minute are sent; chosen transfers of forms customs
    verified over a minute ago are paid (both idempotent).
    """
    cutoff = timezone.now() - timedelta(minutes=1)
    notices = list(
        Notice.objects.filter(state=NoticeState.PENDING, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:200]
    )
    for notice_id in notices:
        try:
            notice_send(notice_id=notice_id)
        except (OSError, MessageError):
            logger.warning("notice %s: send failed, retried next time", notice_id)
    forms = list(
        PayoutPreChoice.objects.filter(
            status=PreChoiceStatus.CHOSEN,
            form__verification__result__in=[
                VerificationResult.VERIFIED,
                VerificationResult.PARTIALLY_VERIFIED,
            ],
            form__verification__verified_at__lt=cutoff,
        ).values_list("form_id", flat=True)[:200]
    )
    for form_id in forms:
        pre_choice_pay(form_id=form_id)
    return {"notices": len(notices), "pre_choices": len(forms)}

"""Buy & Refund periodic work: the guarantee sweep and the card operations it leaves unanswered."""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task
from django.utils import timezone
from kombu.exceptions import OperationalError

from agencies.cards import CardGatewayError
from buyrefund.services import guarantee_operation_send, guarantees_sweep

logger = logging.getLogger(__name__)


# The names predate the app: beat schedules and queued messages carry them.
@shared_task(name="agencies.tasks.guarantees_sweep_task", acks_late=True)
def guarantees_sweep_task(today: str | None = None) -> dict[str, object]:
    """Buy & Refund guarantees due on ``today``: release, re-authorize, capture.

    Every gateway call carries its stored key, so a redelivered task (or the
    ``guarantees sweep`` command run the same day) never charges twice.
    Operations the gateway left unanswered are retried by
    ``guarantee_operation_task`` with backoff.
    """
    day = date.fromisoformat(today) if today else timezone.localdate()
    report = guarantees_sweep(today=day)
    deferred: list[int] = []
    for guarantee_id in report.unanswered:
        pending = guarantee_pending_operation(guarantee_id)
        if pending is None:
            continue
        try:
            guarantee_operation_task.apply_async(args=(pending,), countdown=30)
        except OperationalError:
            # The broker is down: the operation stays pending under its key, and the
            # next sweep (hourly, or the command) sends it again. Nothing is lost.
            deferred.append(guarantee_id)
    if deferred:
        logger.warning(
            "broker unreachable: %s unanswered operation(s) will be retried by the next sweep",
            len(deferred),
        )
    result: dict[str, object] = {**report.as_dict(), "retry_deferred": deferred}
    logger.info("guarantees sweep %s: %s", day, result)
    return result


def guarantee_pending_operation(guarantee_id: int) -> int | None:
    """The id of the guarantee's operation still waiting for an answer, if any."""
    from agencies.models import GuaranteeOperation, OperationStatus

    return (
        GuaranteeOperation.objects.filter(guarantee_id=guarantee_id, status=OperationStatus.PENDING)
        .values_list("pk", flat=True)
        .first()
    )


@shared_task(
    name="agencies.tasks.guarantee_operation_task",
    bind=True,
    acks_late=True,
    autoretry_for=(CardGatewayError,),
    retry_backoff=5,
    # Below the broker's visibility timeout, so a countdown is never taken for a lost task.
    retry_backoff_max=120,
    retry_jitter=False,
    max_retries=5,
)
def guarantee_operation_task(self: object, operation_id: int) -> str:
    """Send one stored card operation under its key; transient errors retry with backoff.

    Returns the operation's status (pending only if the gateway never answered).
    """
    return guarantee_operation_send(operation_id=operation_id).status

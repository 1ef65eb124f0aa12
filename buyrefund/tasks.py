"""Buy & Refund periodic work: the guarantee sweep and the card operations it leaves unanswered."""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task
from django.utils import timezone
from kombu.exceptions import OperationalError

from agencies.cards import CardGatewayError
from buyrefund.services import guarantee_operation_send, guarantees_due_ids, guarantees_sweep

logger = logging.getLogger(__name__)


# Guarantees per chunk task: each chunk is its own task, so more workers finish sooner.
SWEEP_CHUNK = 200


# The names predate the app: beat schedules and queued messages carry them.
@shared_task(name="agencies.tasks.guarantees_sweep_task", acks_late=True)
def guarantees_sweep_task(today: str | None = None) -> dict[str, object]:
    """Buy & Refund guarantees due on ``today``: release, re-authorize, capture.

    Selects the guarantees due (``guarantees_due_ids``: indexed, whatever the size
    of the table) and sweeps them in chunks of ``SWEEP_CHUNK``, each chunk its own
    ``guarantees_sweep_chunk_task``; a single chunk is swept here. Every gateway
    call carries its stored key, so a redelivered task (or the ``guarantees sweep``
    command run the same day) never charges twice. Operations the gateway left
    unanswered are retried by ``guarantee_operation_task`` with backoff.
    """
    day = date.fromisoformat(today) if today else timezone.localdate()
    return guarantees_sweep_run(day=day, fan_out=True)


def guarantees_sweep_run(*, day: date, fan_out: bool) -> dict[str, object]:
    """Select the guarantees due on ``day`` and sweep them chunk by chunk.

    ``fan_out``: enqueue a task per chunk when there is more than one (a chunk the
    broker does not take is swept here); otherwise sweep every chunk in this process.
    """
    ids = guarantees_due_ids(day=day)
    chunks = [ids[i : i + SWEEP_CHUNK] for i in range(0, len(ids), SWEEP_CHUNK)] or [[]]
    result: dict[str, object] = {
        "day": day.isoformat(),
        "due": len(ids),
        "chunks": len(chunks),
        "enqueued": 0,
    }
    for chunk in chunks:
        if fan_out and len(chunks) > 1:
            try:
                guarantees_sweep_chunk_task.apply_async(
                    kwargs={"today": day.isoformat(), "ids": chunk}
                )
            except OperationalError:
                logger.warning("broker unreachable: sweeping a chunk of %s here", len(chunk))
            else:
                result["enqueued"] = int(result["enqueued"]) + 1  # type: ignore[call-overload]
                continue
        _merge(result, _sweep_chunk(day=day, ids=chunk))
    logger.info("guarantees sweep %s: %s", day, result)
    return result


@shared_task(name="buyrefund.tasks.guarantees_sweep_chunk_task", acks_late=True)
def guarantees_sweep_chunk_task(today: str, ids: list[int]) -> dict[str, object]:
    """Sweep one chunk of the day's due guarantees (each locked and decided again)."""
    result = _sweep_chunk(day=date.fromisoformat(today), ids=[int(i) for i in ids])
    logger.info("guarantees sweep %s, chunk of %s: %s", today, len(ids), result)
    return result


def _merge(into: dict[str, object], part: dict[str, object]) -> None:
    for key, value in part.items():
        if isinstance(value, list):
            into.setdefault(key, [])
            into[key] = [*into[key], *value]  # type: ignore[misc]
        else:
            into[key] = value


def _sweep_chunk(*, day: date, ids: list[int]) -> dict[str, object]:
    report = guarantees_sweep(today=day, ids=ids)
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
    return {**report.as_dict(), "retry_deferred": deferred}


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

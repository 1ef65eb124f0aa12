"""Periodic core work: seal the ledger (every minute), verify it (daily), the beat
heartbeat and the settling of idempotency records whose request died (every minute)."""

import logging
import socket

from celery import shared_task
from django.utils import timezone

from core.api.idempotency import idempotency_settle_stale
from core.ledger import ledger_seal, ledger_verify
from core.models import Heartbeat

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def ledger_seal_task() -> int:
    """Seal new entries into a signed head (the batch is checked first; a break logs an error)."""
    seal = ledger_seal()
    return seal.batch_size if seal else 0


@shared_task(acks_late=True)
def ledger_verify_task() -> bool:
    """Recheck every chain and every signed head; log an error naming the first break."""
    report = ledger_verify()
    if not report.intact:
        logger.error("Ledger verification failed: %s", report.first_break)
    else:
        logger.info("Ledger intact: %s entries, %s signed heads", report.entries, report.seals)
    return report.intact


@shared_task(acks_late=True)
def heartbeat_task() -> str:
    """Record that beat sent this and a worker ran it (``manage.py doctor`` reads it)."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(
        name="beat", defaults={"beat_at": now, "hostname": socket.gethostname()[:200]}
    )
    return now.isoformat()


@shared_task(acks_late=True)
def idempotency_settle_task() -> dict[str, int]:
    """Store the settled answer of requests whose process died; free keys that did nothing."""
    report = idempotency_settle_stale()
    if report["settled"] or report["freed"]:
        logger.info("idempotency records reconciled: %s", report)
    return report

"""Periodic ledger work: seal new entries (every minute), verify everything (daily)."""

import logging

from celery import shared_task

from core.ledger import ledger_seal, ledger_verify

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

"""Periodic ledger sealing."""

import logging

from celery import shared_task

from core.ledger import ledger_seal, ledger_verify

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def ledger_seal_task() -> int:
    """Seal new entries into a signed head; log an error if any chain is broken."""
    report = ledger_verify()
    if not report.intact:
        logger.error("Ledger verification failed: %s", report.first_break)
    seal = ledger_seal()
    return seal.batch_size if seal else 0

"""Agency periodic work: last month's settlement files; re-sending stranded transfers."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from agencies.services import refunds_resend_stale
from agencies.settlement import previous_month, settlement_write_files
from core.models import Agency

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def settlement_monthly_task(today: str | None = None) -> list[str]:
    """On the 1st: write last month's settlement (CSV and XLSX) for every agency.

    Rewriting the files is harmless, so a redelivered task simply writes them again.
    """
    day = date.fromisoformat(today) if today else timezone.localdate()
    year, month = previous_month(day)
    written: list[str] = []
    for agency in Agency.objects.order_by("code"):
        paths = settlement_write_files(agency=agency, year=year, month=month)
        written.extend(str(p) for p in paths)
    logger.info("settlement %04d-%02d written: %s", year, month, written)
    return written


@shared_task(acks_late=True)
def refunds_resend_stale_task() -> int:
    """Re-send transfers a crash left pending, with their stored payout keys."""
    return refunds_resend_stale(older_than=timedelta(seconds=settings.REFUND_STALE_SECONDS))

"""Mailbox batch export (CSV), shared by the API and the officer pages."""

from __future__ import annotations

import io

from django.utils import timezone

from core.exports import SafeCsvWriter
from core.money import money_str
from customs.models import MailboxBatch
from customs.selectors import mailbox_items

CSV_HEADER = [
    "batch",
    "drop_date",
    "position",
    "scanned_at",
    "form",
    "result",
    "code",
    "detail",
    "verified_total",
    "channel",
    "officer",
]


def mailbox_batch_csv(batch: MailboxBatch) -> str:
    """One row per scan, in scan order, UTF-8 text with a header row."""
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(CSV_HEADER)
    for item in reversed(list(mailbox_items(batch=batch))):
        verification = item.verification
        writer.writerow(
            [
                batch.number,
                batch.drop_date.isoformat(),
                item.position,
                timezone.localtime(item.scanned_at).isoformat(timespec="seconds"),
                item.form_number,
                item.result,
                item.code,
                item.detail,
                money_str(verification.verified_total) if verification else "",
                verification.channel if verification else "",
                item.scanned_by.get_username(),
            ]
        )
    return out.getvalue()

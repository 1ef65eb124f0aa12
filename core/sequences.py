"""Gap-free counters for document numbers, safe under concurrent issuing."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from core.models import NumberSequence


def sequence_next(*, key: str, count: int = 1) -> int:
    """Reserve ``count`` numbers of counter ``key``; returns the first.

    The row is created if missing (conflict-safe) and then incremented under its
    row lock, so two transactions never get the same number: the second waits
    for the first to commit (PostgreSQL row lock; SQLite IMMEDIATE write lock).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("sequence_next must run inside the issuing transaction")
    NumberSequence.objects.bulk_create([NumberSequence(key=key)], ignore_conflicts=True)
    row = NumberSequence.objects.select_for_update().get(key=key)
    NumberSequence.objects.filter(pk=row.pk).update(last_value=F("last_value") + count)
    return row.last_value + 1

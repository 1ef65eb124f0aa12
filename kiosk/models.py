"""What the kiosk keeps: a record of every form lock (the lock itself lives in the cache)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from stores.models import RefundForm


class KioskFormLock(models.Model):
    """One lock of a form number after too many wrong document numbers (SPEC §4).

    The lock that refuses lookups is a cache entry (kiosk.guards); this row is the
    evidence the authority's risk signal ``kiosk_form_locks`` counts. ``number`` is the
    form number the lock applies to (well formed, existing or not: unknown numbers lock
    the same way); ``form`` is that form when it exists. ``client`` is a keyed hash of
    the caller's address, so repeated locks from one place can be told apart without
    keeping the address.
    """

    number = models.CharField(max_length=16, db_index=True)
    form = models.ForeignKey(
        RefundForm, null=True, blank=True, on_delete=models.PROTECT, related_name="kiosk_locks"
    )
    locked_at = models.DateTimeField(default=timezone.now, db_index=True)
    locked_until = models.DateTimeField()
    client = models.CharField(max_length=16)

    class Meta:
        ordering = ["-locked_at"]

    def __str__(self) -> str:
        return f"{self.number} locked at {self.locked_at:%Y-%m-%d %H:%M}"

"""What the kiosk keeps: kiosk devices (the green lane) and a record of every form lock
(the lock itself lives in the cache)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.models import Port
from stores.models import RefundForm


class Device(models.Model):
    """A self-service kiosk registered to a port; its key is stored hashed, shown once.

    The green lane (``POST /api/v1/kiosk/green-lane/``) verifies forms at the device's
    port on the traveler's own presentation, so only a registered, unrevoked device may
    call it (``Authorization: Device <key>``). Revoking keeps the row (stamps name it).
    """

    name = models.CharField(max_length=40, unique=True, help_text="e.g. KIOSK-PVG-1")
    port = models.ForeignKey(Port, on_delete=models.PROTECT, related_name="kiosk_devices")
    # SHA-256 of the key (a key is 32+ random bytes: a slow password hash would add nothing).
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The key's first characters: tell two keys apart in the admin without the key itself.
    key_prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(key_hash=""),
                name="device_key_hash_set",
                violation_error_message="A kiosk device has a key (register it to get one).",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None


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

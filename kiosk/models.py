"""Kiosk devices: the machines at a port allowed to use the green lane."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.models import Port


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
            models.CheckConstraint(condition=~Q(key_hash=""), name="device_key_hash_set"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None

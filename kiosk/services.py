"""Kiosk writes: register and revoke kiosk devices; the green lane at a registered device.

The green lane is customs' own verification (``customs.services.verification_create``,
channel ``kiosk``), called for the device's port with the device as the stamp's signer:
the kiosk adds only what a machine without an officer needs first, the traveler's proof
of possession (the full document number, under the kiosk's per-form lock).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.models import Port
from customs.exceptions import AlreadyVerified
from customs.models import Verification, VerificationChannel
from customs.services import verification_create
from kiosk.exceptions import DeviceNameTaken, DeviceRevoked
from kiosk.guards import form_guarded
from kiosk.models import Device
from stores.exceptions import FormNotFound
from stores.scopes import form_matching_document

# The device name a stamp signed by a kiosk carries instead of an officer's user name.
DEVICE_SIGNER_PREFIX = "device:"


def device_key_hash(key: str) -> str:
    """The stored form of a device key."""
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def device_register(*, name: str, port: Port, key: str | None = None) -> tuple[Device, str]:
    """Register a kiosk device at ``port``; returns it and its key (shown once, stored hashed).

    ``key`` is for the demo only (``seed_demo``); production keys are generated here.
    """
    secret = key or secrets.token_urlsafe(32)
    device = Device(
        name=name.strip().upper(),
        port=port,
        key_hash=device_key_hash(secret),
        key_prefix=secret[:6],
    )
    device.full_clean(exclude=["key_hash"])
    try:
        with transaction.atomic():
            device.save()
    except IntegrityError as exc:
        raise DeviceNameTaken(f"A device named {device.name} exists already.") from exc
    return device, secret


@transaction.atomic
def device_key_rotate(*, device: Device) -> str:
    """A new key for an active device (the old one stops working at once); shown once."""
    locked = Device.objects.select_for_update().get(pk=device.pk)
    if locked.revoked_at is not None:
        raise DeviceRevoked(f"{locked.name} is revoked: register a new device instead.")
    secret = secrets.token_urlsafe(32)
    locked.key_hash = device_key_hash(secret)
    locked.key_prefix = secret[:6]
    locked.save(update_fields=["key_hash", "key_prefix"])
    return secret


@transaction.atomic
def device_revoke(*, device: Device) -> Device:
    """Revoke a device: its key opens nothing from now on (idempotent)."""
    locked = Device.objects.select_for_update().get(pk=device.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
    return locked


def device_used(*, device: Device) -> None:
    """Note when a device last called the API (at most once a minute per device)."""
    now = timezone.now()
    if device.last_used_at is None or (now - device.last_used_at).total_seconds() > 60:
        Device.objects.filter(pk=device.pk).update(last_used_at=now)


def green_lane_verify(
    *,
    device: Device,
    form_number: str,
    qr: str,
    document_number: str,
    departure_date: date,
    flight: str = "",
    client: str = "unknown",
) -> Verification:
    """Verify a form not selected for inspection at the device's port (customs channel kiosk).

    The traveler proves possession twice: the signed QR of the form and the full document
    number (a wrong one is the kiosk's uniform 404, counted by the per-form lock). Customs'
    own service then decides inspection (once), refuses a selected form (422
    ``inspection_required``, recorded as an attempt) and stamps with the port key, the
    device named as the signer.
    """

    signer = DEVICE_SIGNER_PREFIX + device.name

    def attempt() -> Verification:
        if form_matching_document(number=form_number, document_number=document_number) is None:
            raise FormNotFound(f"No refund form {form_number}.")
        try:
            return verification_create(
                port=device.port,
                officer=None,
                form_number=form_number,
                qr=qr,
                departure_date=departure_date,
                flight=flight,
                channel=VerificationChannel.KIOSK,
                signer_label=signer,
            )
        except AlreadyVerified as exc:
            # A second press (or a reply lost on the way) at the kiosk that verified it: the
            # traveler, who proved possession above, is told it is this kiosk's own stamp.
            exc.extra["same_device"] = Verification.objects.filter(
                form__number=form_number,
                channel=VerificationChannel.KIOSK,
                officer_label=signer[:150],
            ).exists()
            raise

    return form_guarded(number=form_number, attempt=attempt, miss=FormNotFound, client=client)

"""The demo kiosk device of SPEC §4: KIOSK-PVG-1 at PVG, key ``$DEMO_KIOSK_KEY``."""

from __future__ import annotations

from django.conf import settings

from core.models import Port
from kiosk.models import Device
from kiosk.services import device_key_hash, device_register

DEMO_DEVICE = "KIOSK-PVG-1"


def demo_device_seed() -> dict[str, int]:
    """KIOSK-PVG-1 at PVG with the demo key, active; safe to run again (seed_demo hook)."""
    key = settings.DEMO_KIOSK_KEY
    port = Port.objects.get(code="PVG")
    device = Device.objects.filter(name=DEMO_DEVICE).first()
    if device is None:
        device_register(name=DEMO_DEVICE, port=port, key=key)
    elif device.key_hash != device_key_hash(key) or device.revoked_at or device.port_id != port.pk:
        device.key_hash, device.key_prefix = device_key_hash(key), key[:6]
        device.revoked_at, device.port = None, port
        device.save(update_fields=["key_hash", "key_prefix", "revoked_at", "port"])
    return {
        "kiosk_devices": Device.objects.filter(name=DEMO_DEVICE, revoked_at__isnull=True).count()
    }

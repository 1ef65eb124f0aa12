"""Kiosk errors (the shared ``ApplicationError`` shape)."""

from __future__ import annotations

from core.exceptions import ApplicationError


class DeviceNameTaken(ApplicationError):
    """Another device already has this name."""

    status_code = 409
    default_code = "device_name_taken"


class DeviceRevoked(ApplicationError):
    """The device was revoked: its key opens nothing any more."""

    status_code = 409
    default_code = "device_revoked"

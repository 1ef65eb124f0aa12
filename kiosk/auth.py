"""``Authorization: Device <key>``: DRF authentication of a registered kiosk device.

A device is not a person: ``request.user`` stays anonymous and ``request.auth`` is the
``Device``; ``IsKioskDevice`` lets only such requests through. A missing header is 401
(``WWW-Authenticate: Device``), an unknown or revoked key the same 401.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from kiosk.models import Device
from kiosk.selectors import device_for_key
from kiosk.services import device_used

KEYWORD = "Device"


class DeviceAuthentication(BaseAuthentication):
    """Authenticate a kiosk device by its key (stored hashed; revoked keys fail)."""

    def authenticate(self, request: Request) -> tuple[Any, Device] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid Device header: Device <key>.")
        try:
            key = parts[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid device key.") from exc
        device = device_for_key(key=key)
        if device is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked device key.")
        device_used(device=device)
        return AnonymousUser(), device

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class IsKioskDevice(BasePermission):
    """Only a request authenticated as a registered, active kiosk device."""

    message = "Only a registered kiosk device may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Device)

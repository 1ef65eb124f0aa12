"""Ed25519 signatures: the form QR payload, customs stamps, ledger tree heads.

QR payload (147 characters, only 0-9 and A-Z, so QR alphanumeric mode and
keyboard-wedge scanners under any layout keep it intact)::

    "RF1" + form number (16 digits) + BASE32(digest16 || signature64)

``digest16`` is the first 16 bytes of the SHA-256 content digest of the form
record; ``signature64`` is Ed25519 over ``b"RF1" + number + digest16`` with the
platform key. Base32 is RFC 4648 without padding (80 bytes -> 128 characters).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.keys import platform_signing_key

QR_PREFIX = "RF1"
FORM_NUMBER_LENGTH = 16
QR_LENGTH = len(QR_PREFIX) + FORM_NUMBER_LENGTH + 128


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not canonical JSON: {type(value).__name__}")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8; Decimals and dates as strings."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    ).encode()


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def platform_public_key_b64() -> str:
    """The platform's public key, raw 32 bytes in base64, for any verifier."""
    raw = platform_signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign(message: bytes) -> bytes:
    """Ed25519 signature with the platform key."""
    return platform_signing_key().sign(message)


def verify(message: bytes, signature: bytes, public_key: Ed25519PublicKey | None = None) -> bool:
    """True when the signature is valid for the message (platform key by default)."""
    key = public_key or platform_signing_key().public_key()
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def make_form_qr(number: str, content_digest_hex: str) -> str:
    """The signed QR payload for a form number and its content digest."""
    digest16 = bytes.fromhex(content_digest_hex)[:16]
    signature = sign(QR_PREFIX.encode() + number.encode() + digest16)
    return QR_PREFIX + number + base64.b32encode(digest16 + signature).decode().rstrip("=")


@dataclass(frozen=True)
class ParsedQr:
    """A QR payload taken apart; ``signature_valid`` says if the platform signed it."""

    number: str
    digest16_hex: str
    signature_valid: bool

    def matches_digest(self, content_digest_hex: str) -> bool:
        return content_digest_hex[:32] == self.digest16_hex


class MalformedQr(ValueError):
    """The text is not a form QR payload of this format."""


def parse_form_qr(payload: str) -> ParsedQr:
    """Parse and verify a scanned payload; raises MalformedQr when it is not one."""
    text = payload.strip().upper()
    if len(text) != QR_LENGTH or not text.startswith(QR_PREFIX):
        raise MalformedQr("not a refund form QR code")
    number = text[len(QR_PREFIX) : len(QR_PREFIX) + FORM_NUMBER_LENGTH]
    if not number.isdigit():
        raise MalformedQr("not a refund form QR code")
    try:
        blob = base64.b32decode(text[len(QR_PREFIX) + FORM_NUMBER_LENGTH :])
    except (binascii.Error, ValueError) as exc:
        raise MalformedQr("not a refund form QR code") from exc
    digest16, signature = blob[:16], blob[16:]
    valid = verify(QR_PREFIX.encode() + number.encode() + digest16, signature)
    return ParsedQr(number=number, digest16_hex=digest16.hex(), signature_valid=valid)

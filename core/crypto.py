"""Document numbers: encrypted at rest, looked up by keyed hash, shown masked."""

from __future__ import annotations

import hashlib
import hmac
import re

from core.keys import document_hash_key, fernet

_STRIP = re.compile(r"[\s\-]")


def normalize_document_number(number: str) -> str:
    """Uppercase, without spaces or hyphens: how scanners and people differ."""
    return _STRIP.sub("", number).upper()


def document_hash(number: str) -> str:
    """HMAC-SHA256 of the normalized number: the lookup column."""
    return hmac.new(
        document_hash_key(), normalize_document_number(number).encode(), hashlib.sha256
    ).hexdigest()


def encrypt_document(number: str) -> str:
    """Fernet token (text) of the normalized number."""
    return fernet().encrypt(normalize_document_number(number).encode()).decode()


def decrypt_document(token: str) -> str:
    """The normalized number back from its Fernet token."""
    return fernet().decrypt(token.encode()).decode()


def mask_document(number: str) -> str:
    """First character and last three shown, the rest as '*': E*****678."""
    value = normalize_document_number(number)
    if len(value) <= 4:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 4) + value[-3:]

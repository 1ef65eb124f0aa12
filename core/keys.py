"""Key material from settings; local runs generate dev keys under var/keys (never in git)."""

from __future__ import annotations

import base64
import os
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _from_file_or_generate(name: str, make: bytes) -> bytes:
    """Read var/keys/<name>, creating it (mode 0600) with ``make`` if missing."""
    if not settings.GENERATE_MISSING_KEYS:
        raise ImproperlyConfigured(f"{name} is not configured and key generation is off.")
    path = Path(settings.KEY_DIR) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path.read_bytes().strip()
    # Write a complete temp file, then link it into place: a concurrent
    # process either wins the link or reads the winner's complete key.
    tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(make)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes().strip()


@cache
def platform_signing_key() -> Ed25519PrivateKey:
    """The platform's Ed25519 key: signs QR payloads and ledger tree heads."""
    raw = settings.SIGNING_PRIVATE_KEY.encode() or _from_file_or_generate(
        "platform_ed25519.b64", base64.b64encode(os.urandom(32))
    )
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw))


@cache
def fernet() -> Fernet:
    """Fernet for document numbers at rest."""
    raw = settings.FIELD_ENCRYPTION_KEY.encode() or _from_file_or_generate(
        "field_fernet.key", Fernet.generate_key()
    )
    return Fernet(raw)


@cache
def document_hash_key() -> bytes:
    """HMAC key for the document-number lookup hash."""
    raw = settings.DOCUMENT_HASH_KEY.encode() or _from_file_or_generate(
        "document_hmac.b64", base64.b64encode(os.urandom(32))
    )
    return base64.b64decode(raw)


def generate_ed25519_seed_b64() -> str:
    """A new Ed25519 private key as base64 of its 32-byte seed (for .env files)."""
    return base64.b64encode(os.urandom(32)).decode()

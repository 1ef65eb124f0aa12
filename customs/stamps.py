"""Port stamps: Ed25519 signatures by the port over what customs verified.

Each port has its own key pair, derived from the platform key with HKDF
(info = "customs-stamp/<port code>"), so no port private key is stored anywhere
and each port's public key can be published (``GET /api/v1/keys/``). An agency
verifies a stamp with the port's public key alone: the signed message is the
canonical JSON stored beside the signature.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from core.keys import platform_signing_key
from core.signing import canonical_json, verify


@cache
def port_private_key(port_code: str) -> Ed25519PrivateKey:
    """The port's stamp key, derived from the platform key."""
    seed = platform_signing_key().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"refund-platform",
        info=b"customs-stamp/" + port_code.encode(),
    ).derive(seed)
    return Ed25519PrivateKey.from_private_bytes(derived)


def port_public_key(port_code: str) -> Ed25519PublicKey:
    return port_private_key(port_code).public_key()


def port_public_key_b64(port_code: str) -> str:
    """Raw 32-byte public key of the port, base64."""
    raw = port_public_key(port_code).public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id(port_code: str) -> str:
    """First 16 hex of SHA-256 over the raw public key."""
    raw = port_public_key(port_code).public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def stamp_message(body: dict[str, Any]) -> str:
    """The canonical text a stamp signs."""
    return canonical_json({"v": 1, "kind": "customs-stamp", **body}).decode()


def stamp_sign(port_code: str, message: str) -> str:
    """Base64 Ed25519 signature of the message by the port."""
    return base64.b64encode(port_private_key(port_code).sign(message.encode())).decode()


def stamp_verify(port_code: str, message: str, signature_b64: str) -> bool:
    """True when the port signed exactly this message."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError:
        return False
    return verify(message.encode(), signature, port_public_key(port_code))


def port_stamp_keys() -> dict[str, dict[str, str]]:
    """Every port's stamp key id and public key, for GET /api/v1/keys/."""
    from core.models import Port

    return {
        code: {"key_id": key_id(code), "public_key": port_public_key_b64(code)}
        for code in Port.objects.order_by("code").values_list("code", flat=True)
    }

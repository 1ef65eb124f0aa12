"""Production settings: refuse to start without secrets; HTTPS everywhere."""

import base64
import binascii

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
# Customs, agency and authority staff and administrators log in with a second factor.
OTP_REQUIRED = env.bool("OTP_REQUIRED", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
GENERATE_MISSING_KEYS = False

_required = {
    "DJANGO_SECRET_KEY": SECRET_KEY,
    "SIGNING_PRIVATE_KEY": SIGNING_PRIVATE_KEY,  # noqa: F405
    "FIELD_ENCRYPTION_KEY": FIELD_ENCRYPTION_KEY,  # noqa: F405
    "DOCUMENT_HASH_KEY": DOCUMENT_HASH_KEY,  # noqa: F405
}
# manage.py generate_keys prints the secrets, so it runs before they exist (manage.py
# sets this for that command alone); it reads no key and serves nothing.
_GENERATING_KEYS = env.bool("REFUND_GENERATING_KEYS", default=False)
if _GENERATING_KEYS:
    SECRET_KEY = SECRET_KEY or "generating-keys-" + "x" * 50
    _required = {name: value or "unused" for name, value in _required.items()}
_missing = [name for name, value in _required.items() if not value]
if _missing:
    raise ImproperlyConfigured(
        f"Production settings need: {', '.join(_missing)}"
        " (python manage.py generate_keys --output FILE makes them)"
    )
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 characters.")


def _check_key(name: str, value: str) -> None:
    """Fail at start-up, not at the first signature, when a key is not what it should be."""
    try:
        if name == "FIELD_ENCRYPTION_KEY":
            Fernet(value.encode())
        elif len(base64.b64decode(value, validate=True)) != 32:
            raise ValueError("must be 32 bytes")
    except (ValueError, binascii.Error) as exc:
        raise ImproperlyConfigured(
            f"{name} is malformed ({exc}); python manage.py generate_keys prints valid ones."
        ) from exc


for _name in ("SIGNING_PRIVATE_KEY", "FIELD_ENCRYPTION_KEY", "DOCUMENT_HASH_KEY"):
    if not _GENERATING_KEYS:
        _check_key(_name, _required[_name])

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

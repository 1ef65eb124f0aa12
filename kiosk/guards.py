"""Abuse guards of the anonymous traveler endpoints: a shared rate and a per-form lock.

Both count in Django's cache (a database table by default, Redis through ``CACHE_URL``),
so every web process of every host sees the same numbers. The client is identified by
``core.net.client_ip`` (X-Forwarded-For only behind ``TRUSTED_PROXIES``).

The per-form lock stops the walk through a masked document number: after
``KIOSK_FORM_LOCK_FAILURES`` wrong document numbers for one form within
``KIOSK_FORM_LOCK_SECONDS``, that form answers 429 ``form_locked`` to every kiosk lookup
(the right document included) until the lock expires. Unknown form numbers count and lock
the same way, so the lock says nothing about whether a form exists.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from core.exceptions import ApplicationError
from core.keys import document_hash_key
from core.net import client_ip
from stores.models import RefundForm

T = TypeVar("T")


class FormLocked(ApplicationError):
    """Too many wrong document numbers for this form: kiosk lookups wait (429)."""

    status_code = 429
    default_code = "form_locked"


class KioskRateThrottle(SimpleRateThrottle):
    """The kiosk rate (``KIOSK_THROTTLE_RATE``) per client address, in the shared cache."""

    scope = "kiosk"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}

    def allow_request_reading(
        self, request: Any, view: Any, also: Sequence[str]
    ) -> tuple[bool, dict[str, Any]]:
        """``allow_request`` (DRF's sliding window, unchanged), its history read in one
        cache read with the keys ``also`` (the form's lock, which the lookup reads next):
        whether the request may go on, and what the cache holds of ``also``."""
        if self.rate is None:
            return True, dict(cache.get_many(list(also))) if also else {}
        self.key = self.get_cache_key(request, view)
        found = dict(self.cache.get_many([self.key, *also]))
        self.history = found.pop(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:  # type: ignore[attr-defined]
            self.history.pop()
        if len(self.history) >= self.num_requests:  # type: ignore[attr-defined]
            return self.throttle_failure(), found
        return self.throttle_success(), found


def _fail_key(number: str) -> str:
    return f"kiosk:form-fail:{number}"


def _lock_key(number: str) -> str:
    return f"kiosk:form-lock:{number}"


def _locked() -> FormLocked:
    return FormLocked(
        "Too many wrong document numbers for this form: try again in 15 minutes.",
        extra={"retry_after": settings.KIOSK_FORM_LOCK_SECONDS},
    )


def _client_tag(client: str) -> str:
    """A keyed hash of the client address: comparable between locks, not reversible."""
    tag = f"kiosk-client:{client}".encode()
    return hmac.new(document_hash_key(), tag, hashlib.sha256).hexdigest()[:16]


def _record_lock(*, number: str, client: str, seconds: int) -> None:
    """Keep the evidence of a lock for the authority's risk signal (kiosk_form_locks)."""
    from kiosk.models import KioskFormLock

    now = timezone.now()
    KioskFormLock.objects.create(
        number=number,
        form=RefundForm.objects.filter(number=number).first(),
        locked_at=now,
        locked_until=now + timedelta(seconds=seconds),
        client=_client_tag(client),
    )


def form_lock_failure(*, number: str | None, client: str = "unknown") -> None:
    """Count one wrong document number for the form; the last allowed one locks it."""
    if number is None:
        return
    seconds = settings.KIOSK_FORM_LOCK_SECONDS
    key = _fail_key(number)
    cache.add(key, 0, timeout=seconds)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        failures = 1
    if failures >= settings.KIOSK_FORM_LOCK_FAILURES:
        cache.set(_lock_key(number), 1, timeout=seconds)
        cache.delete(key)
        _record_lock(number=number, client=client, seconds=seconds)


def form_lock_success(*, number: str) -> None:
    """The right document number: the traveler's earlier typos no longer count."""
    cache.delete(_fail_key(number))


def form_lock_keys(number: str) -> list[str]:
    """The cache keys ``form_guarded`` reads for the form (to read them with others)."""
    return [_lock_key(number), _fail_key(number)]


def form_guarded(
    *,
    number: str | None,
    attempt: Callable[[], T],
    miss: type[Exception],
    client: str = "unknown",
    seen: Mapping[str, Any] | None = None,
) -> T:
    """Run one lookup of a form by its document number under the form's lock.

    ``attempt`` raises ``miss`` for a wrong document (or unknown form); that is counted
    and re-raised. Raises ``FormLocked`` while the form is locked. Used by the kiosk lookup
    and by every other anonymous endpoint that proves possession with the document number.
    ``client`` (``core.net.client_ip``) goes, hashed, into the lock record. ``seen``: what
    the cache held of the form's ``form_lock_keys`` when the caller read them (with its
    throttle's history), else they are read here.
    """
    # The lock and the failure count in one read: a lookup without earlier typos (the
    # usual one) then has nothing to forget.
    if number is None:
        seen = {}
    elif seen is None:
        seen = cache.get_many(form_lock_keys(number))
    if number is not None and seen.get(_lock_key(number)):
        raise _locked()
    try:
        result = attempt()
    except miss:
        form_lock_failure(number=number, client=client)
        raise
    if number is not None and _fail_key(number) in seen:
        form_lock_success(number=number)
    return result

"""Reference data cached per process: policies, fee rates, windows, calendar overrides.

These rows change a few times a year, through the admin, and are read by every money
flow. Each process keeps what it read for ``REFERENCE_CACHE_SECONDS`` (default 30 s).
A save or delete of one of these models in this process empties the cache at once (and
again when its transaction commits, so nothing read inside an uncommitted change
lingers); other processes see the change when their copy ages out.

Why a short TTL and not a version key in the shared cache: the shared cache here is the
database cache (``dbcache``), so reading a version key would cost a statement per
request, the very statement the cache saves. The rows are effective-dated and entered
ahead of the day they take effect, so a change reaching the other workers up to 30 s
later changes no decision; a correction of a rate already in force is the one case that
waits those seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction

T = TypeVar("T")

_lock = threading.Lock()
_entries: dict[Any, tuple[float, Any]] = {}


def _ttl() -> float:
    return float(getattr(settings, "REFERENCE_CACHE_SECONDS", 30))


def reference_cached(key: Any, load: Callable[[], T]) -> T:
    """The value cached under ``key`` in this process, loaded by ``load`` when missing or old.

    Inside a transaction that changed reference data the cache was emptied, and what
    ``load`` reads then is not kept (it may be rolled back).
    """
    now = time.monotonic()
    with _lock:
        hit = _entries.get(key)
    if hit is not None and now - hit[0] < _ttl():
        value: T = hit[1]
        return value
    value = load()
    if _dirty.active and not transaction.get_connection().in_atomic_block:
        _dirty.active = False  # that transaction ended (committed or rolled back)
    if _ttl() > 0 and not _dirty.active:
        with _lock:
            _entries[key] = (now, value)
    return value


class _Dirty(threading.local):
    active = False


_dirty = _Dirty()


def reference_cache_clear() -> None:
    """Forget everything cached (this process)."""
    _dirty.active = False
    with _lock:
        _entries.clear()


def reference_changed(**_: Any) -> None:
    """Signal receiver: a reference row was saved or deleted in this process."""
    reference_cache_clear()
    if transaction.get_connection().in_atomic_block:
        _dirty.active = True

        def committed() -> None:
            _dirty.active = False
            reference_cache_clear()

        transaction.on_commit(committed)


def reference_models(*models: Any) -> None:
    """Empty the cache whenever a row of one of these models is saved or deleted here."""
    from django.db.models.signals import post_delete, post_save

    for model in models:
        uid = f"refcache-{model._meta.label_lower}"
        post_save.connect(reference_changed, sender=model, dispatch_uid=uid)
        post_delete.connect(reference_changed, sender=model, dispatch_uid=uid)


def reference_cache_forget(key: Any) -> None:
    """Drop one key (its value was found missing and has just been created)."""
    with _lock:
        _entries.pop(key, None)

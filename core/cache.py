"""Django's database cache with ``set`` in one write (the shared cache's default backend).

The throttles and the kiosk's per-form lock count in the shared cache (a database table
unless ``CACHE_URL`` names Redis), and every throttled request writes its history there.
Django's ``DatabaseCache.set`` does that in a transaction of its own: a count (to cull),
BEGIN, a read of the key, an UPDATE or INSERT, COMMIT. Here the read and the write are
one ``INSERT ... ON CONFLICT (cache_key) DO UPDATE`` (PostgreSQL and SQLite), which
needs no transaction of its own. ``add``, ``touch``, a ``set`` inside the caller's
transaction, and other databases are Django's own.

The count Django culls by is not made on every ``set`` but at most once every
``CULL_EVERY_SECONDS`` (an option; 0: every ``set``, as Django) in each process, the
culling then exactly Django's. A ``COUNT(*)`` per throttled request costs a statement on
every kiosk lookup and grows with the table; and the table must be allowed to grow:
Django's default ``MAX_ENTRIES`` of 300 let a burst of wrong lookups over other forms
cull a form's failure count and lock (the oldest keys by name go first), which undid
the per-form lock. The settings give it a million (``CACHE_MAX_ENTRIES``); between two
counts a process writes at most what its throttled requests write, so the table can
overshoot by that much, never by an unbounded amount.
"""

from __future__ import annotations

import base64
import pickle
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import DatabaseError, connections, router
from django.utils.timezone import now as tz_now

# Backends whose INSERT takes ON CONFLICT (column) DO UPDATE ... EXCLUDED.
_UPSERT_VENDORS = frozenset({"postgresql", "sqlite"})


# table -> the monotonic time after which this process counts it again (one per process:
# Django makes a cache object per thread).
_next_count: dict[str, float] = {}


class DatabaseCache(DjangoDatabaseCache):
    """``django.core.cache.backends.db.DatabaseCache``, its ``set`` one upsert."""

    def __init__(self, table: str, params: dict[str, Any]) -> None:
        super().__init__(table, params)
        options = params.get("OPTIONS") or {}
        self._cull_every = float(options.get("CULL_EVERY_SECONDS", 0))
        self._table_name = table  # Django's ``_table``, which its stubs do not declare

    def _count_due(self) -> bool:
        """Whether this ``set`` counts the table (and culls it above ``MAX_ENTRIES``).

        The first count of a process comes one interval after its first ``set``, so that
        a process's statements do not depend on when it started."""
        if self._cull_every <= 0:
            return True
        now = time.monotonic()
        due = _next_count.setdefault(self._table_name, now + self._cull_every)
        if now < due:
            return False
        _next_count[self._table_name] = now + self._cull_every
        return True

    def _base_set(self, mode: str, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT) -> bool:
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        if (
            mode != "set"
            or connection.vendor not in _UPSERT_VENDORS
            # Inside a transaction Django's savepoint keeps a failed write from breaking it.
            or connection.in_atomic_block
        ):
            return super()._base_set(mode, key, value, timeout)  # type: ignore[misc,no-any-return]
        timeout = self.get_backend_timeout(timeout)
        quote_name = connection.ops.quote_name
        table = quote_name(self._table_name)
        with connection.cursor() as cursor:
            now = tz_now().replace(microsecond=0)
            if timeout is None:
                expires = datetime.max
            else:
                expires = datetime.fromtimestamp(timeout, tz=UTC if settings.USE_TZ else None)
            expires = expires.replace(microsecond=0)
            if self._count_due():
                # As Django: the count, and culling above MAX_ENTRIES, before the write.
                cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 (the cache table)
                num = cursor.fetchone()[0]
                if num > self._max_entries:
                    self._cull(db, cursor, now, num)  # type: ignore[attr-defined]
            pickled = pickle.dumps(value, self.pickle_protocol)
            encoded = base64.b64encode(pickled).decode("latin1")
            key_column, value_column, expires_column = (
                quote_name("cache_key"),
                quote_name("value"),
                quote_name("expires"),
            )
            try:
                cursor.execute(
                    f"INSERT INTO {table} ({key_column}, {value_column}, {expires_column})"  # noqa: S608
                    f" VALUES (%s, %s, %s) ON CONFLICT ({key_column}) DO UPDATE SET"
                    f" {value_column} = EXCLUDED.{value_column},"
                    f" {expires_column} = EXCLUDED.{expires_column}",
                    [key, encoded, connection.ops.adapt_datetimefield_value(expires)],
                )
            except DatabaseError:
                # As Django's: a write that fails (a concurrent cull, a closed table) is a
                # cache miss later, never an error for the request.
                return False
        return True

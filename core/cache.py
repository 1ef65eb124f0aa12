"""Django's database cache with ``set`` in one write (the shared cache's default backend).

The throttles and the kiosk's per-form lock count in the shared cache (a database table
unless ``CACHE_URL`` names Redis), and every throttled request writes its history there.
Django's ``DatabaseCache.set`` does that in a transaction of its own: a count (to cull),
BEGIN, a read of the key, an UPDATE or INSERT, COMMIT. Here the read and the write are
one ``INSERT ... ON CONFLICT (cache_key) DO UPDATE`` (PostgreSQL and SQLite), which
needs no transaction of its own: the count and the culling stay exactly Django's. ``add``,
``touch``, a ``set`` inside the caller's transaction, and other databases are Django's own.
"""

from __future__ import annotations

import base64
import pickle
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import DatabaseError, connections, router
from django.utils.timezone import now as tz_now

# Backends whose INSERT takes ON CONFLICT (column) DO UPDATE ... EXCLUDED.
_UPSERT_VENDORS = frozenset({"postgresql", "sqlite"})


class DatabaseCache(DjangoDatabaseCache):
    """``django.core.cache.backends.db.DatabaseCache``, its ``set`` one upsert."""

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
        table = quote_name(self._table)  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            # As Django: the count, and culling above MAX_ENTRIES, before the write.
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 (the cache table)
            num = cursor.fetchone()[0]
            now = tz_now().replace(microsecond=0)
            if timeout is None:
                expires = datetime.max
            else:
                expires = datetime.fromtimestamp(timeout, tz=UTC if settings.USE_TZ else None)
            expires = expires.replace(microsecond=0)
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

"""core.cache.DatabaseCache: Django's database cache with ``set`` as one upsert."""

from __future__ import annotations

import pytest
from django.core.cache import cache, caches
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.cache import DatabaseCache

pytestmark = pytest.mark.django_db(transaction=True)


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
    ]


def test_the_default_cache_is_this_backend():
    assert isinstance(caches["default"], DatabaseCache)


def test_set_inserts_then_overwrites_in_one_write_each():
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        cache.set("throttle:a", [1.5, 2.5], 60)
    # the count Django culls by, and the upsert: no read of the key, no transaction
    assert len(statements(captured)) == 2, statements(captured)
    assert "ON CONFLICT" in statements(captured)[1]
    assert cache.get("throttle:a") == [1.5, 2.5]
    with CaptureQueriesContext(connection) as captured:
        cache.set("throttle:a", {"n": 3}, 60)
    assert len(statements(captured)) == 2
    assert cache.get("throttle:a") == {"n": 3}
    assert cache.get_many(["throttle:a", "missing"]) == {"throttle:a": {"n": 3}}


def test_expiry_and_no_timeout_as_django():
    cache.clear()
    cache.set("gone", 1, -1)  # a timeout in the past: expired at once
    assert cache.get("gone", "default") == "default"
    cache.set("kept", 2, None)  # never expires
    assert cache.get("kept") == 2
    cache.set("gone", 3, 60)  # an expired row is written over
    assert cache.get("gone") == 3


def test_add_incr_touch_delete_stay_djangos():
    cache.clear()
    assert cache.add("k", 1, 60) is True
    assert cache.add("k", 5, 60) is False  # add does not overwrite a live key
    assert cache.incr("k") == 2  # get + set
    assert cache.touch("k", 120) is True
    cache.delete("k")
    assert cache.get("k") is None


def test_culls_above_max_entries_as_django():
    small = DatabaseCache("refund_cache", {"OPTIONS": {"MAX_ENTRIES": 4, "CULL_FREQUENCY": 2}})
    small.clear()
    for n in range(12):
        small.set(f"key-{n}", n, 60)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM refund_cache")
        count = cursor.fetchone()[0]
    assert count <= 5  # never more than MAX_ENTRIES + the one just written
    assert small.get("key-11") == 11  # the newest write survives the cull before it


def test_set_inside_a_transaction_is_djangos_and_keeps_the_transaction():
    cache.clear()
    with transaction.atomic():
        with CaptureQueriesContext(connection) as captured:
            cache.set("in-tx", "yes", 60)
        assert not any("ON CONFLICT" in sql for sql in statements(captured))
        assert cache.get("in-tx") == "yes"
    assert cache.get("in-tx") == "yes"

"""core.cache.DatabaseCache: Django's database cache with ``set`` as one upsert."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core import cache as core_cache
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
    # the upsert alone: no read of the key, no transaction, no count (not due)
    assert len(statements(captured)) == 1, statements(captured)
    assert "ON CONFLICT" in statements(captured)[0]
    assert cache.get("throttle:a") == [1.5, 2.5]
    with CaptureQueriesContext(connection) as captured:
        cache.set("throttle:a", {"n": 3}, 60)
    assert len(statements(captured)) == 1
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


def test_the_settings_cache_holds_a_million_and_counts_every_ten_seconds():
    options = settings.CACHES["default"]["OPTIONS"]
    assert options["MAX_ENTRIES"] == 1_000_000  # Django's 300 undid the kiosk's form locks
    from refund_site.settings import base

    assert base.CACHES["default"]["OPTIONS"]["CULL_EVERY_SECONDS"] == 10.0


def test_the_count_is_made_once_an_interval_in_a_process(monkeypatch):
    """CULL_EVERY_SECONDS: the first count one interval after the first set, then one per
    interval; above MAX_ENTRIES that count culls as Django's does."""
    clock = [1000.0]
    monkeypatch.setattr(core_cache.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(core_cache, "_next_count", {})
    small = DatabaseCache(
        "refund_cache",
        {"OPTIONS": {"MAX_ENTRIES": 4, "CULL_FREQUENCY": 2, "CULL_EVERY_SECONDS": 10}},
    )
    small.clear()

    def counts(key: str) -> bool:
        with CaptureQueriesContext(connection) as captured:
            small.set(key, 1, 60)
        return any("COUNT(*)" in sql for sql in statements(captured))

    made = [counts(f"key-{n}") for n in range(8)]  # within the first interval
    assert made == [False] * 8
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM refund_cache")
        assert cursor.fetchone()[0] == 8  # over MAX_ENTRIES until the next count
    clock[0] += 10
    assert counts("key-8") is True  # counted and culled, then written
    assert counts("key-9") is False
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM refund_cache")
        assert cursor.fetchone()[0] <= 6
    assert small.get("key-8") == 1
    clock[0] += 10
    assert counts("key-10") is True

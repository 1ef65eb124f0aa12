"""Gap-free counters for document numbers, safe under concurrent issuing."""

from __future__ import annotations

from django.db import connection, transaction

from core.models import NumberSequence


def sequence_next(*, key: str, count: int = 1) -> int:
    """Reserve ``count`` numbers of counter ``key``; returns the first.

    The row is created if missing or incremented under its row lock, in one upsert, so
    two transactions never get the same number: the second waits for the first to
    commit (PostgreSQL row lock; SQLite IMMEDIATE write lock).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("sequence_next must run inside the issuing transaction")
    # One statement: create the row or bump it under its row lock, and read the new value
    # (PostgreSQL and SQLite >= 3.35 both have ON CONFLICT ... RETURNING).
    table = connection.ops.quote_name(NumberSequence._meta.db_table)
    key_column = connection.ops.quote_name("key")
    value_column = connection.ops.quote_name("last_value")
    sql = (
        f"INSERT INTO {table} ({key_column}, {value_column}) VALUES (%s, %s) "  # noqa: S608 (names from the model, values bound)
        f"ON CONFLICT ({key_column}) DO UPDATE SET {value_column} = {table}.{value_column} + %s "
        f"RETURNING {value_column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, count, count])
        last_value = int(cursor.fetchone()[0])
    return last_value - count + 1

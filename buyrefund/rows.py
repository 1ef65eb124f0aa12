"""One-row INSERT and UPDATE whose SQL is built once per process, for the prepayment's hot path.

The prepayment request writes a handful of rows; through the ORM each statement is built
and compiled again on every request, which is most of its Python cost. These helpers
build the same statement once per model and column set and bind the values through each
field's own ``get_db_prep_save``, so the database receives what the ORM would send. No
model signals are sent (none is connected to the Buy & Refund models).
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection, models


def _quote(name: str | None) -> str:
    return connection.ops.quote_name(str(name))


@functools.cache
def _insert_sql(model: type[models.Model], skip_conflict: bool) -> tuple[str, tuple[Any, ...]]:
    meta = model._meta
    fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
    # Identifiers from the model's own metadata, quoted; every value is a bound parameter.
    sql = (
        f"INSERT INTO {_quote(meta.db_table)} ({', '.join(_quote(f.column) for f in fields)})"  # noqa: S608
        f" VALUES ({', '.join('%s' for _ in fields)})"
        + (" ON CONFLICT DO NOTHING" if skip_conflict else "")
        + f" RETURNING {_quote(meta.pk.column)}"
    )
    return sql, fields


def row_insert(record: models.Model, *, skip_conflict: bool = False) -> bool:
    """INSERT ``record`` (a new row) and set its primary key: one statement.

    ``skip_conflict``: when a unique constraint already holds a row like it, write
    nothing and return False (the check for an existing row costs nothing when there is
    none).
    """
    sql, fields = _insert_sql(type(record), skip_conflict)
    values = [f.get_db_prep_save(f.pre_save(record, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    record.pk = row[0]
    record._state.adding = False
    record._state.db = connection.alias
    return True


def _field(meta: Any, name: str) -> models.Field[Any, Any]:
    field = meta.get_field(name)  # a name or an attname (``handed_over_by_id``)
    assert isinstance(field, models.Field)
    return field


@functools.cache
def _update_sql(
    model: type[models.Model], names: tuple[str, ...], fenced: bool
) -> tuple[str, tuple[Any, ...]]:
    meta = model._meta
    fields = tuple(_field(meta, name) for name in names)
    sets = ", ".join(f"{_quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {_quote(meta.db_table)} SET {sets} WHERE {_quote(meta.pk.column)} = %s"  # noqa: S608
    if fenced:
        sql += f" AND {_quote(_field(meta, 'status').column)} = %s"
    return sql, fields


def row_update(
    model: type[models.Model], pk: Any, values: dict[str, Any], *, status: str | None = None
) -> int:
    """UPDATE one row's columns (``values`` by field name or attname); the rows changed.

    ``status``: only while the row's status is still that one (0 otherwise).
    """
    sql, fields = _update_sql(model, tuple(values), status is not None)
    params = [
        f.get_db_prep_save(value, connection)
        for f, value in zip(fields, values.values(), strict=True)
    ]
    params.append(pk)
    if status is not None:
        params.append(status)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)

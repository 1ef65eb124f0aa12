"""One-row UPDATE whose SQL is built once per process, for the prepayment's hot path.

The prepayment request writes a handful of rows; through the ORM each statement is built
and compiled again on every request, which is most of its Python cost. ``row_update``
builds the same statement once per model and column set and binds the values through each
field's own ``get_db_prep_save``, so the database receives what the ORM would send. No
model signals are sent (none is connected to the Buy & Refund models). Its INSERTs use
``stores.sql.insert_row``, the same mechanism for inserts.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection, models


def _quote(name: str | None) -> str:
    return connection.ops.quote_name(str(name))


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

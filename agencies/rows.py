"""Hand-written conditional UPDATEs on the counter's hot path (the card refund's second
transaction), built once per process and model shape.

``Model.objects.filter(...).update(...)`` builds and compiles its statement on every call,
which cost the card refund more than running it (issue 12). ``update_if`` writes the same
statement as SQL: table and column names come from the model, every value is bound and
prepared by its field as the ORM's update prepares it, so the row written is the same.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model


@dataclass(frozen=True)
class _Updater:
    sql: str
    assigned: tuple[Field[Any, Any], ...]
    compared: tuple[Field[Any, Any], ...]


@functools.cache
def _updater(
    model: type[Model], assigned: tuple[str, ...], compared: tuple[str, ...], alias: str
) -> _Updater:
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = model._meta
    assigned_fields = tuple(meta.get_field(name) for name in assigned)
    compared_fields = (meta.pk, *(meta.get_field(name) for name in compared))
    sets = ", ".join(f"{quote(str(f.column))} = %s" for f in assigned_fields)  # type: ignore[union-attr]
    where = " AND ".join(f"{quote(str(f.column))} = %s" for f in compared_fields)  # type: ignore[union-attr]
    return _Updater(
        sql=f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {where}",  # noqa: S608 (names from the model, values bound)
        assigned=assigned_fields,  # type: ignore[arg-type]
        compared=compared_fields,  # type: ignore[arg-type]
    )


def update_if(
    model: type[Model], pk: Any, *, where: Mapping[str, Any], values: Mapping[str, Any]
) -> int:
    """``model.objects.filter(pk=pk, **where).update(**values)`` for equality conditions on
    plain columns: the rows changed (0 or 1). No signals, as the ORM's ``update``."""
    connection = connections[router.db_for_write(model)]
    updater = _updater(model, tuple(values), tuple(where), connection.alias)
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(updater.assigned, values.values(), strict=True)
    ]
    params += [
        field.get_db_prep_value(value, connection)
        for field, value in zip(updater.compared, (pk, *where.values()), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(updater.sql, params)
        return int(cursor.rowcount)

"""Inserts without the ORM's per-statement compiling, for the hot paths (issue 12).

Building and compiling an INSERT costs a request more Python than running it; these write
a model's new rows with SQL built once per model and connection: table and column names
come from the model, values are always bound and prepared as the ORM prepares them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model
from django.db.models.signals import post_save, pre_save

# Field types whose get_db_prep_save() gives back the very value it is handed when that is
# already of the field's Python type (a str for text, an int for integers and foreign keys
# to integer keys, a bool): the ORM's preparation is skipped for those values. Every other
# value (decimals, dates, JSON...) is prepared by its field, as the ORM does.
_TEXT = (str,)
_INTEGER = (int,)
_PLAIN_TYPES: dict[str, tuple[type, ...]] = {
    "AutoField": _INTEGER,
    "BigAutoField": _INTEGER,
    "BigIntegerField": _INTEGER,
    "BooleanField": (bool,),
    "CharField": _TEXT,
    "EmailField": _TEXT,
    "IntegerField": _INTEGER,
    "PositiveBigIntegerField": _INTEGER,
    "PositiveIntegerField": _INTEGER,
    "PositiveSmallIntegerField": _INTEGER,
    "SlugField": _TEXT,
    "SmallAutoField": _INTEGER,
    "SmallIntegerField": _INTEGER,
    "TextField": _TEXT,
}


def _plain_types(field: Field[Any, Any]) -> tuple[type, ...]:
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    return (*_PLAIN_TYPES.get(target.get_internal_type(), ()), type(None))


# --- Inserts ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inserter:
    start: str
    row: str
    returning: str
    fields: tuple[Field[Any, Any], ...]
    plain: tuple[tuple[type, ...], ...]


@functools.cache
def _inserter(model: type[Model], connection_alias: str) -> _Inserter:
    connection = connections[connection_alias]
    quote = connection.ops.quote_name
    meta = model._meta
    fields = tuple(
        field
        for field in meta.local_concrete_fields
        if not field.primary_key and not getattr(field, "generated", False)
    )
    return _Inserter(
        start=(
            f"INSERT INTO {quote(meta.db_table)}"  # noqa: S608 (names from the model)
            f" ({', '.join(quote(str(field.column)) for field in fields)}) VALUES "
        ),
        row=f"({', '.join(['%s'] * len(fields))})",
        returning=f" RETURNING {quote(str(meta.pk.column))}",  # type: ignore[union-attr]
        fields=fields,
        plain=tuple(_plain_types(field) for field in fields),
    )


def insert_rows(objs: Sequence[Model]) -> None:
    """INSERT new rows of one model (auto primary key) and set each one's pk: ``bulk_create``
    without its per-statement compiling.

    Values go through each field's ``pre_save`` (``auto_now``) and ``get_db_prep_save`` as
    the ORM's insert does (an exact str, int or bool of a plain field is bound as it is). Like
    ``bulk_create`` it sends no signals and runs no validation. Rows are inserted in
    batches the backend accepts, in order; each gets its pk back (RETURNING, which
    PostgreSQL and SQLite >= 3.35 both have).
    """
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    inserter = _inserter(model, connection.alias)
    fields = inserter.fields
    batch = max(1, connection.ops.bulk_batch_size(list(fields), list(objs)))
    for start in range(0, len(objs), batch):
        chunk = objs[start : start + batch]
        params: list[Any] = []
        for obj in chunk:
            for field, plain in zip(fields, inserter.plain, strict=True):
                value = field.pre_save(obj, True)
                if type(value) not in plain:
                    value = field.get_db_prep_save(value, connection)
                params.append(value)
        sql = inserter.start + ", ".join([inserter.row] * len(chunk)) + inserter.returning
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            keys = cursor.fetchall()
        for obj, (pk,) in zip(chunk, keys, strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias


def insert_row(obj: Model, *, skip_conflict: bool = False) -> bool:
    """INSERT one new row (``obj.save()`` of a new instance), as ``insert_rows``; a model
    with save signal receivers is saved by the ORM, which sends them.

    ``skip_conflict``: when a unique constraint already holds a row like it, write nothing
    and return False (``ON CONFLICT DO NOTHING``: the check for an existing row costs no
    statement of its own).
    """
    model = type(obj)
    if not skip_conflict:
        if pre_save.has_listeners(model) or post_save.has_listeners(model):
            obj.save(force_insert=True)
        else:
            insert_rows([obj])
        return True
    connection = connections[router.db_for_write(model)]
    inserter = _inserter(model, connection.alias)
    params = []
    for field, plain in zip(inserter.fields, inserter.plain, strict=True):
        value = field.pre_save(obj, True)
        if type(value) not in plain:
            value = field.get_db_prep_save(value, connection)
        params.append(value)
    sql = inserter.start + inserter.row + " ON CONFLICT DO NOTHING" + inserter.returning
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return True

"""Hand-written SQL on the store's hot paths: the invoice and form issue.

Building and compiling an ORM statement cost those requests more than running all their
statements (issue 12), so their few reads and inserts are written here once per model:
table and column names come from the model, values are always bound, and rows read are
converted exactly as the ORM converts them (SQLite gives decimals as floats, dates as
text), values written are prepared as the ORM prepares them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

# Inserts moved to core.sql (the ledger writes through them too); still importable here.
from core.sql import insert_row, insert_rows

__all__ = [
    "insert_row",
    "insert_rows",
    "new_instance",
    "quoted",
    "row_reader",
    "table",
    "value_converted",
]


def quoted(connection: BaseDatabaseWrapper, model: type[Model], name: str) -> str:
    """The quoted column of ``model``'s field ``name``."""
    return connection.ops.quote_name(str(model._meta.get_field(name).column))  # type: ignore[union-attr]


def table(connection: BaseDatabaseWrapper, model: type[Model]) -> str:
    """The quoted table of ``model``."""
    return connection.ops.quote_name(model._meta.db_table)


# --- Reads --------------------------------------------------------------------------


@dataclass(frozen=True)
class RowReader:
    """A model's concrete columns in raw SQL (``columns``), and rows of them as instances."""

    model: type[Model]
    columns: str
    names: tuple[str, ...]
    converters: tuple[tuple[int, Any, tuple[Any, ...]], ...]

    @property
    def width(self) -> int:
        return len(self.names)

    def instance(self, values: Sequence[Any], connection: BaseDatabaseWrapper) -> Any:
        row = list(values)
        for index, column, functions in self.converters:
            for function in functions:
                row[index] = function(row[index], column, connection)
        if not _plain_init(self.model):
            return self.model.from_db(connection.alias, self.names, row)
        # What from_db does with every column, without Model.__init__'s generic walk.
        instance = Model.__new__(self.model)
        instance._state = state = ModelState()
        state.adding, state.db = False, connection.alias
        instance.__dict__.update(zip(self.names, row, strict=True))
        return instance


@functools.cache
def _plain_init(model: type[Model]) -> bool:
    """Whether a new instance is only its attributes: no init signal listens to the model
    and it keeps Model.from_db (decided once per process, at first use: init receivers,
    e.g. a GenericForeignKey's, are connected while the apps load)."""
    return (
        getattr(model.from_db, "__func__", None) is _FROM_DB
        and not pre_init.has_listeners(model)
        and not post_init.has_listeners(model)
    )


_FROM_DB = Model.from_db.__func__  # type: ignore[attr-defined]


@functools.cache
def _row_reader(model: type[Model], alias: str, connection_alias: str) -> RowReader:
    connection = connections[connection_alias]
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(alias)
        functions = (
            *connection.ops.get_db_converters(column),
            *column.get_db_converters(connection),
        )
        if functions:
            converters.append((index, column, tuple(functions)))
    return RowReader(
        model=model,
        columns=", ".join(f"{alias}.{quote(str(field.column))}" for field in fields),
        names=tuple(field.attname for field in fields),
        converters=tuple(converters),
    )


def row_reader(model: type[Model], alias: str, connection: BaseDatabaseWrapper) -> RowReader:
    """How to select ``model``'s rows as table ``alias`` and read them (cached per process)."""
    return _row_reader(model, alias, connection.alias)


def value_converted(
    value: Any, model: type[Model], name: str, connection: BaseDatabaseWrapper
) -> Any:
    """A value read for ``model``'s field ``name`` (or an aggregate of it), as the ORM reads it."""
    column = model._meta.get_field(name).get_col("t")  # type: ignore[union-attr]
    for function in (
        *connection.ops.get_db_converters(column),
        *column.get_db_converters(connection),
    ):
        value = function(value, column, connection)
    return value


# --- New instances --------------------------------------------------------------------


@functools.cache
def _init_fields(model: type[Model]) -> tuple[tuple[str, str, Any], ...]:
    return tuple(
        (field.name, field.attname, field if field.is_relation else None)
        for field in model._meta.concrete_fields
    )


@functools.cache
def _attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(attname for _, attname, _ in _init_fields(model))


def new_instance(model: type[Model], **values: Any) -> Any:
    """``model(**values)`` for a new row, built the way ``from_db`` builds one: its values
    in column order (missing ones: the field's default), related instances given by name
    cached as the descriptor would cache them. Model.__init__'s keyword path (a lookup per
    field, a descriptor per related one) cost the form issue more than its SQL (issue 12).
    """
    args: list[Any] = []
    related: list[tuple[Any, Any]] = []
    for name, attname, relation in _init_fields(model):
        if relation is not None and name in values:
            other = values.pop(name)
            if other is not None:
                related.append((relation, other))
                other = getattr(other, relation.target_field.attname)
            args.append(other)
        elif attname in values:
            args.append(values.pop(attname))
        elif name in values:
            args.append(values.pop(name))
        else:
            field = model._meta.get_field(name)
            args.append(field.get_default())  # type: ignore[union-attr]
    if values:
        raise TypeError(f"{model.__name__} has no field {sorted(values)[0]!r}")
    if not _plain_init(model):
        instance = model(*args)
    else:  # what Model.__init__ does with column-ordered values, without its signals
        instance = Model.__new__(model)
        instance._state = ModelState()
        instance.__dict__.update(zip(_attnames(model), args, strict=True))
    for relation, other in related:
        relation.set_cached_value(instance, other)
    return instance

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

# Inserts moved to core.sql (the ledger writes through them too); still importable here.
from core.sql import insert_row, insert_rows

__all__ = ["insert_row", "insert_rows", "quoted", "row_reader", "table", "value_converted"]


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
        return self.model.from_db(connection.alias, self.names, row)


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

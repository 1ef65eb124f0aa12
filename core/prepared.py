"""Read queries built and compiled once per process, run with new values each time.

Building and compiling a queryset costs far more Python than running it on a hot path
(issue 12: about 1-2 ms a statement). ``PreparedValues`` builds the queryset once with a
unique placeholder string for each value that changes, compiles it per database
connection, remembers where each placeholder sits among the statement's parameters and
the result converters, and from then on only executes the SQL with the new values. The
rows are what ``values_list()`` would give (the same converters are applied).

Only for ``values_list()`` queries whose changing values are strings compared as they are
(``=`` or ``IN``; no LIKE patterns or transforms of them): the compiled statement is
checked to hold each placeholder exactly where the value goes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet

_MARK = "\x00prepared:"


class PreparedValues:
    """A ``values_list()`` query compiled once per connection; ``rows(**values)`` runs it."""

    def __init__(self, build: Callable[..., QuerySet[Any]], *names: str) -> None:
        self.build = build
        self.names = names
        self._compiled: dict[tuple[str, str, tuple[int, ...]], tuple[Any, ...]] = {}
        self._lock = threading.Lock()

    def _compile(self, alias: str, shape: tuple[int, ...]) -> tuple[Any, ...]:
        marks: dict[str, tuple[str, int | None]] = {}
        values: dict[str, Any] = {}
        for name, size in zip(self.names, shape, strict=True):
            if size < 0:
                mark = f"{_MARK}{name}"
                marks[mark] = (name, None)
                values[name] = mark
            else:
                listed = [f"{_MARK}{name}:{i}" for i in range(size)]
                marks.update({m: (name, i) for i, m in enumerate(listed)})
                values[name] = listed
        compiler = self.build(**values).query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = [marks.get(p) if isinstance(p, str) else None for p in params]
        found = {slot for slot in slots if slot is not None}
        leaked = any(isinstance(p, str) and _MARK in p and p not in marks for p in params)
        if leaked or len(found) != len(marks) or _MARK in sql:
            raise ValueError("a prepared value is not a plain parameter of the statement")
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        converters = compiler.get_converters(fields)
        return sql, tuple(params), tuple(slots), list(converters.items())

    def rows(self, using: str = "default", **values: Any) -> list[tuple[Any, ...]]:
        """The rows of the query for these values (lists for ``IN``, strings otherwise)."""
        shape = tuple(
            len(values[name]) if isinstance(values[name], list | tuple) else -1
            for name in self.names
        )
        connection = connections[using]
        key = (using, connection.vendor, shape)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key) or self._compile(using, shape)
                self._compiled[key] = compiled
        sql, constants, slots, converters = compiled
        params = [
            constant if slot is None else _value(values[slot[0]], slot[1])
            for constant, slot in zip(constants, slots, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found: Sequence[Any] = cursor.fetchall()
        if not converters:
            return [tuple(row) for row in found]
        rows = []
        for row in found:
            converted = list(row)
            for index, (functions, expression) in converters:
                value = converted[index]
                for function in functions:
                    value = function(value, expression, connection)
                converted[index] = value
            rows.append(tuple(converted))
        return rows


def _value(value: Any, index: int | None) -> Any:
    return value if index is None else value[index]


class PreparedObjects(PreparedValues):
    """Model instances from a prepared query: the model's columns, those of ``related``
    foreign keys (set on the instance, as ``select_related`` would) and ``annotations``.

    ``build`` returns the filtered queryset (locks and annotations included); the columns
    are added here.
    """

    def __init__(
        self,
        model: type[Model],
        build: Callable[..., QuerySet[Any]],
        *names: str,
        related: Sequence[str] = (),
        annotations: Sequence[str] = (),
    ) -> None:
        self.model = model
        self.columns = [f.attname for f in model._meta.concrete_fields]
        # ``related``: paths as select_related takes them ("store", "verification__port"):
        # forward foreign keys and reverse one-to-ones, a path's parent listed before it.
        self.related: list[tuple[tuple[str, ...], Any, Any]] = []
        for path in related:
            parts = tuple(path.split("__"))
            owner: Any = model
            for part in parts:
                field = owner._meta.get_field(part)
                owner = field.related_model
            self.related.append((parts, field, owner))
        self.related_columns = [
            [f.attname for f in other._meta.concrete_fields] for _, _, other in self.related
        ]
        self.annotations = tuple(annotations)
        lookups = [
            *self.columns,
            *(
                f"{'__'.join(parts)}__{column}"
                for (parts, _, _), columns in zip(self.related, self.related_columns, strict=True)
                for column in columns
            ),
            *self.annotations,
        ]
        super().__init__(lambda **values: build(**values).values_list(*lookups), *names)

    def objects(self, using: str = "default", **values: Any) -> list[Any]:
        """The instances for these values, related rows and annotations set on them.

        A reverse one-to-one with no row is cached as missing (its access raises
        DoesNotExist without a query, as after ``select_related``)."""
        found = []
        width = len(self.columns)
        for row in self.rows(using, **values):
            instance = self.model.from_db(using, self.columns, row[:width])
            owners: dict[tuple[str, ...], Any] = {(): instance}
            offset = width
            for (parts, field, other), columns in zip(
                self.related, self.related_columns, strict=True
            ):
                part = row[offset : offset + len(columns)]
                offset += len(columns)
                owner = owners.get(parts[:-1])
                if owner is None:
                    continue
                if any(v is not None for v in part):
                    related = other.from_db(using, columns, part)
                    setattr(owner, parts[-1], related)
                    owners[parts] = related
                elif field.one_to_one and not field.concrete:
                    field.set_cached_value(owner, None)
            for name in self.annotations:
                setattr(instance, name, row[offset])
                offset += 1
            found.append(instance)
        return found

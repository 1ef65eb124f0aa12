"""Reads of the store registry and the read audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connections, router
from django.db.models import OuterRef, QuerySet, Subquery

from authority.models import AuthorityRead, FilingStatus, StoreFiling
from core.models import Store


def store_filing_on(*, store_id: int, day: date) -> StoreFiling | None:
    """The store's filing state in force on ``day`` (None: never filed by then)."""
    return (
        StoreFiling.objects.filter(store_id=store_id, effective_from__lte=day)
        .order_by("-effective_from", "-id")
        .first()
    )


def store_filing_status_read(*, store_id: int, day: date) -> tuple[str, list[Any]]:
    """The status of the store's filing in force on ``day`` (NULL: never filed by then), as
    a scalar SQL subquery and its parameters: the form issue selects it with its invoices."""
    connection = connections[router.db_for_read(StoreFiling)]
    quote = connection.ops.quote_name
    meta = StoreFiling._meta

    def column(name: str) -> str:
        return quote(str(meta.get_field(name).column))  # type: ignore[union-attr]

    sql = (
        f"(SELECT {column('status')} FROM {quote(meta.db_table)}"  # noqa: S608 (names from the model, values bound)
        f" WHERE {column('store')} = %s AND {column('effective_from')} <= %s"
        f" ORDER BY {column('effective_from')} DESC, {column('id')} DESC LIMIT 1)"
    )
    return sql, [store_id, connection.ops.adapt_datefield_value(day)]


def store_is_filed_on(*, store_id: int, day: date) -> bool:
    """May the store issue a form dated ``day``?"""
    filing = store_filing_on(store_id=store_id, day=day)
    return filing is not None and filing.status == FilingStatus.FILED


@dataclass(frozen=True)
class RegistryFilter:
    """What the registry page and its exports show: on a day, optionally narrowed."""

    day: date
    status: str = ""
    rating: str = ""
    region: str = ""
    query: str = ""


def registry_rows(*, filters: RegistryFilter) -> QuerySet[Store]:
    """Every store with its filing state on ``filters.day`` annotated (one query)."""
    in_force = StoreFiling.objects.filter(
        store=OuterRef("pk"), effective_from__lte=filters.day
    ).order_by("-effective_from", "-id")
    stores = Store.objects.annotate(
        filing_status=Subquery(in_force.values("status")[:1]),
        filing_rating=Subquery(in_force.values("rating")[:1]),
        filing_effective_from=Subquery(in_force.values("effective_from")[:1]),
        filing_filed_on=Subquery(in_force.values("filed_on")[:1]),
        filing_number=Subquery(in_force.values("filing_number")[:1]),
    ).order_by("code")
    if filters.status == "unfiled":
        stores = stores.filter(filing_status__isnull=True)
    elif filters.status:
        stores = stores.filter(filing_status=filters.status)
    if filters.rating:
        stores = stores.filter(filing_rating=filters.rating)
    if filters.region:
        stores = stores.filter(region_code=filters.region)
    if filters.query:
        stores = stores.filter(code__icontains=filters.query) | stores.filter(
            name__icontains=filters.query
        )
    return stores


def store_filing_history(*, store: Store) -> QuerySet[StoreFiling]:
    """Every filing state of a store, latest first."""
    return StoreFiling.objects.filter(store=store).select_related("created_by")


def recent_reads(*, limit: int = 50) -> QuerySet[AuthorityRead]:
    """The latest recorded reads (the audit trail of the authority's own reads)."""
    return AuthorityRead.objects.select_related("user")[:limit]

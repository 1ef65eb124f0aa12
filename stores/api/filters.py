"""Filters of a clerk's form list: dates, status, traveler document."""

from __future__ import annotations

import django_filters

from core.crypto import document_hash
from stores.models import FormStatus, RefundForm


class FormFilter(django_filters.FilterSet):
    """?status=&purchase_date=&purchase_date_from=&purchase_date_to=&issued_on=
    &issued_from=&issued_to=&document_number= (looked up by keyed hash)."""

    status = django_filters.ChoiceFilter(choices=FormStatus.choices)
    purchase_date = django_filters.DateFilter(field_name="purchase_date")
    purchase_date_from = django_filters.DateFilter(field_name="purchase_date", lookup_expr="gte")
    purchase_date_to = django_filters.DateFilter(field_name="purchase_date", lookup_expr="lte")
    issued_on = django_filters.DateFilter(field_name="issued_at", lookup_expr="date")
    issued_from = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__gte")
    issued_to = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__lte")
    document_number = django_filters.CharFilter(
        method="filter_document_number",
        max_length=40,
        label="Traveler document number (matched by keyed hash, never stored in clear)",
    )

    class Meta:
        model = RefundForm
        fields: list[str] = []

    def filter_document_number(self, queryset, name, value):  # type: ignore[no-untyped-def]
        return queryset.filter(document_hash=document_hash(value))

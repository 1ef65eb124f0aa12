"""Filters of a clerk's form list: dates, status (the traveler document is searched by POST)."""

from __future__ import annotations

import django_filters

from stores.models import FormStatus, RefundForm


class FormFilter(django_filters.FilterSet):
    """?status=&purchase_date=&purchase_date_from=&purchase_date_to=&issued_on=
    &issued_from=&issued_to=. No document number here: it would sit in access logs;
    POST /api/v1/forms/search/ takes it in the body."""

    status = django_filters.ChoiceFilter(choices=FormStatus.choices)
    purchase_date = django_filters.DateFilter(field_name="purchase_date")
    purchase_date_from = django_filters.DateFilter(field_name="purchase_date", lookup_expr="gte")
    purchase_date_to = django_filters.DateFilter(field_name="purchase_date", lookup_expr="lte")
    issued_on = django_filters.DateFilter(field_name="issued_at", lookup_expr="date")
    issued_from = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__gte")
    issued_to = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__lte")

    class Meta:
        model = RefundForm
        fields: list[str] = []

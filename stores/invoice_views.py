"""The store's invoices (/store/invoices/): search blue and red-ink invoices, print one.

A clerk sees the invoices of their own store only: any other number is the same 404
as a number that does not exist.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.forms import BilingualForm
from core.money import amount_in_words
from stores.models import InvoiceKind
from stores.selectors import invoice_in_scope, invoices_for_store
from stores.views import clerk_required, clerk_store

PAGE_SIZE = 50


class InvoiceSearchForm(BilingualForm):
    """Search the store's invoices: number or buyer, date, kind, unused only."""

    q = forms.CharField(
        required=False,
        max_length=60,
        label="Number or buyer · 发票号码或购买方",
        widget=forms.TextInput(attrs={"autocomplete": "off", "type": "search"}),
    )
    on = forms.DateField(
        required=False,
        label="Date · 开票日期",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    kind = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Blue and red · 全部"),
            (InvoiceKind.BLUE, "Blue · 蓝字发票"),
            (InvoiceKind.RED, "Red-ink · 红字发票"),
        ],
        label="Kind · 类型",
    )
    unused = forms.BooleanField(required=False, label="Not on a form yet · 未开单")


@require_GET
@clerk_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    """The store's invoices, newest first; a malformed search is a 400 that says why."""
    store = clerk_store(request)
    search = InvoiceSearchForm(request.GET or None)
    status = 200
    page: Any = None
    if search.is_bound and not search.is_valid():
        status = 400
    else:
        data = search.cleaned_data if search.is_bound else {}
        queryset = invoices_for_store(
            store_id=store.pk,
            text=data.get("q") or "",
            day=data.get("on"),
            kind=data.get("kind") or "",
            unused_only=bool(data.get("unused")),
        )
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "stores/invoices.html",
        {
            "store": store,
            "search": search,
            "page": page,
            "query": query.urlencode(),
            "nav": "invoices",
        },
        status=status,
    )


@require_GET
@clerk_required
def invoice_detail(request: HttpRequest, number: str) -> HttpResponse:
    """One invoice as printed (the page has a print stylesheet): lines, totals, words."""
    store = clerk_store(request)
    invoice = invoice_in_scope(number=number, store_id=store.pk)
    if invoice is None:
        raise Http404("No such invoice at this store.")
    red = getattr(invoice, "red_invoice", None)
    return render(
        request,
        "stores/invoice.html",
        {
            "store": store,
            "inv": invoice,
            "lines": list(invoice.lines.all()),
            "red": red,
            "total_in_words": amount_in_words(invoice.total),
            "nav": "invoices",
        },
    )

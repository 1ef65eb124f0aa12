"""Store API routes under /api/v1/."""

from django.urls import path

from stores.api.views import (
    FormDetailView,
    FormListCreateView,
    FormSearchView,
    FormVoidView,
    InvoiceCreateView,
    InvoiceDetailView,
)

urlpatterns = [
    path("invoices/", InvoiceCreateView.as_view(), name="api-invoices"),
    path("invoices/<str:number>/", InvoiceDetailView.as_view(), name="api-invoice-detail"),
    path("forms/", FormListCreateView.as_view(), name="api-forms"),
    path("forms/search/", FormSearchView.as_view(), name="api-form-search"),
    path("forms/<str:number>/", FormDetailView.as_view(), name="api-form-detail"),
    path("forms/<str:number>/void/", FormVoidView.as_view(), name="api-form-void"),
]

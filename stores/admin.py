"""Admin for store records: read-only, since every write goes through the services
(numbering, ledger entries and the signed QR would be bypassed otherwise)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from stores.models import (
    FormPresentation,
    PersonalDataRead,
    RefundForm,
    RefundFormLine,
    Traveler,
    VatInvoice,
    VatInvoiceLine,
)


class ReadOnlyMixin:
    """No add, change or delete from the admin: records change only through services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VatInvoiceLineInline(ReadOnlyMixin, admin.TabularInline):
    model = VatInvoiceLine
    extra = 0
    readonly_fields = [f.name for f in VatInvoiceLine._meta.fields]


@admin.register(VatInvoice)
class VatInvoiceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["number", "store", "kind", "status", "issued_on", "total", "form", "original"]
    list_filter = ["kind", "status", "store"]
    search_fields = ["number", "buyer_name"]
    date_hierarchy = "issued_on"
    list_select_related = ["store", "form", "original"]
    inlines = [VatInvoiceLineInline]
    readonly_fields = [f.name for f in VatInvoice._meta.fields]


class RefundFormLineInline(ReadOnlyMixin, admin.TabularInline):
    model = RefundFormLine
    extra = 0
    readonly_fields = [f.name for f in RefundFormLine._meta.fields]


@admin.register(RefundForm)
class RefundFormAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "store",
        "traveler_name",
        "document_masked",
        "status",
        "purchase_date",
        "total",
        "net_refund",
        "buy_and_refund",
    ]
    list_filter = ["status", "store", "buy_and_refund"]
    search_fields = ["number", "traveler_name"]
    date_hierarchy = "purchase_date"
    list_select_related = ["store"]
    inlines = [RefundFormLineInline]
    exclude = ["document_number_encrypted", "document_hash"]
    readonly_fields = [
        f.name
        for f in RefundForm._meta.fields
        if f.name not in ("document_number_encrypted", "document_hash")
    ]


@admin.register(Traveler)
class TravelerAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "document_type", "document_masked", "nationality", "last_entry_date"]
    search_fields = ["name"]
    exclude = ["document_number_encrypted", "document_hash"]
    readonly_fields = [
        "name",
        "document_type",
        "document_masked",
        "nationality",
        "last_entry_date",
        "created_at",
        "updated_at",
    ]


@admin.register(FormPresentation)
class FormPresentationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Where each form was presented (QR scanned or number and document typed): scopes."""

    list_display = ["presented_at", "form", "how", "port", "agency", "user"]
    list_filter = ["how", "port", "agency"]
    search_fields = ["form__number"]
    list_select_related = ["form", "port", "agency", "user"]


@admin.register(PersonalDataRead)
class PersonalDataReadAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The read audit: every staff read of a traveler's personal data."""

    list_display = ["read_at", "user", "role", "form", "reason", "unmasked"]
    list_filter = ["reason", "role", "unmasked"]
    search_fields = ["form__number", "user__username"]
    list_select_related = ["form", "user"]

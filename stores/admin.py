"""Admin for store records (read mostly: writes go through the services)."""

from django.contrib import admin

from stores.models import RefundForm, RefundFormLine, Traveler, VatInvoice, VatInvoiceLine


class VatInvoiceLineInline(admin.TabularInline):
    model = VatInvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in VatInvoiceLine._meta.fields]


@admin.register(VatInvoice)
class VatInvoiceAdmin(admin.ModelAdmin):
    list_display = ["number", "store", "kind", "status", "issued_on", "total", "form"]
    list_filter = ["kind", "status", "store"]
    search_fields = ["number"]
    inlines = [VatInvoiceLineInline]
    readonly_fields = [f.name for f in VatInvoice._meta.fields]


class RefundFormLineInline(admin.TabularInline):
    model = RefundFormLine
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in RefundFormLine._meta.fields]


@admin.register(RefundForm)
class RefundFormAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "store",
        "traveler_name",
        "document_masked",
        "status",
        "purchase_date",
        "total",
        "net_refund",
    ]
    list_filter = ["status", "store", "buy_and_refund"]
    search_fields = ["number"]
    inlines = [RefundFormLineInline]
    readonly_fields = [f.name for f in RefundForm._meta.fields]


@admin.register(Traveler)
class TravelerAdmin(admin.ModelAdmin):
    list_display = ["name", "document_type", "document_masked", "nationality", "last_entry_date"]
    exclude = ["document_number_encrypted", "document_hash"]
    readonly_fields = ["document_masked"]

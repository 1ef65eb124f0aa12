"""Admin for the directory, policies and the (read-only) ledger."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.models import (
    Agency,
    AgencyFeeRate,
    BuyAndRefundWindow,
    IdempotencyRecord,
    LedgerEntry,
    LedgerSeal,
    Port,
    RefundPolicy,
    RefundRate,
    StaffMembership,
    Store,
    WorkingDayOverride,
)


class _ServedInline(admin.TabularInline):
    """What an agency serves, shown on the agency; change it on the port or store (its
    "agency" / "serving agency" field): that decides which forms the agency's agents see
    and which they may pay (SPEC §3)."""

    extra = 0
    fields = ["code", "name", "city"]
    readonly_fields = ["code", "name", "city"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PortsServedInline(_ServedInline):
    model = Port
    verbose_name = "port served"
    verbose_name_plural = "ports served (their verified and presented forms; pays only these)"


class StoresServedInline(_ServedInline):
    model = Store
    verbose_name = "store served"
    verbose_name_plural = "stores served (their forms are in the agency's scope)"


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    inlines = [PortsServedInline, StoresServedInline]


@admin.register(Port)
class PortAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "city", "has_mailbox", "agency"]
    list_filter = ["agency"]


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "city", "region_code", "buy_and_refund", "serving_agency"]
    list_filter = ["buy_and_refund", "region_code", "serving_agency"]
    search_fields = ["code", "name", "taxpayer_id"]


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "store", "port", "agency"]
    list_filter = ["role"]


class RefundRateInline(admin.TabularInline):
    model = RefundRate
    extra = 0


@admin.register(RefundPolicy)
class RefundPolicyAdmin(admin.ModelAdmin):
    list_display = ["effective_from", "minimum_amount", "cash_cap", "source"]
    inlines = [RefundRateInline]


@admin.register(AgencyFeeRate)
class AgencyFeeRateAdmin(admin.ModelAdmin):
    list_display = ["agency", "effective_from", "rate"]


@admin.register(BuyAndRefundWindow)
class BuyAndRefundWindowAdmin(admin.ModelAdmin):
    list_display = ["where", "effective_from", "days", "source"]
    fieldsets = [
        (
            None,
            {
                "fields": ["region_code", "effective_from", "days", "source"],
                "description": (
                    "The purchase date picks the window: the latest row on or before it among"
                    " the store region's rows and the nationwide rows (region blank); on the"
                    " same date the regional row wins. Any Buy &amp; Refund port in any city"
                    " counts. The nationwide 28 days from 2026-07-01 (departure tax refund"
                    " 2.0) is a reported figure, not yet read in a primary text: check it"
                    " against the published announcement and correct the row if needed."
                ),
            },
        )
    ]

    @admin.display(description="Region", ordering="region_code")
    def where(self, obj: BuyAndRefundWindow) -> str:
        return obj.region_code or "Nationwide · 全国"


@admin.register(WorkingDayOverride)
class WorkingDayOverrideAdmin(admin.ModelAdmin):
    list_display = ["day", "is_working_day", "note"]
    list_filter = ["is_working_day"]
    date_hierarchy = "day"
    fieldsets = [
        (
            None,
            {
                "fields": ["day", "is_working_day", "note"],
                "description": (
                    "Working days (the Buy &amp; Refund grace of 3 working days) follow the"
                    " official Chinese calendar of the chinesecalendar package: public"
                    " holidays off, adjusted weekend working days (调休) on. Add a row for"
                    " each holiday and adjusted working day of a year the package does not"
                    " know yet (it assumes Monday to Friday there), or to correct a day."
                ),
            },
        )
    ]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "record_type",
        "record_id",
        "seq",
        "action",
        "to_status",
        "actor_label",
        "created_at",
    ]
    list_filter = ["record_type", "action"]
    search_fields = ["record_id"]


@admin.register(LedgerSeal)
class LedgerSealAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "tree_size", "batch_size", "head_hash"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["user", "key", "path", "status", "response_status", "created_at"]

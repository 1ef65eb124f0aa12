"""Admin for agency records: read-only, since money moves only through the services."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from agencies.models import (
    Refund,
    RefundAttempt,
    SandboxTransfer,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and detail pages only: no add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "form",
        "agency",
        "status",
        "payout_method",
        "payout_account_masked",
        "net_refund",
        "refund_date",
        "paid_at",
    ]
    list_filter = ["status", "payout_method", "agency"]
    search_fields = ["form__number", "payout_reference", "payout_key"]
    exclude = ["payout_account_encrypted"]


@admin.register(RefundAttempt)
class RefundAttemptAdmin(ReadOnlyAdmin):
    list_display = ["form_number", "agency", "agent", "code", "payout_method", "created_at"]
    list_filter = ["code", "agency"]
    search_fields = ["form_number"]


@admin.register(SandboxTransfer)
class SandboxTransferAdmin(ReadOnlyAdmin):
    list_display = ["key", "method", "account_masked", "amount", "status", "calls", "created_at"]
    list_filter = ["status", "method"]

"""Admin for agency records: read-only, since money moves only through the services."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from agencies.models import (
    Guarantee,
    GuaranteeOperation,
    Prepayment,
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


@admin.register(Prepayment)
class PrepaymentAdmin(ReadOnlyAdmin):
    list_display = ["form", "store", "status", "amount", "payout_method", "paid_at"]
    list_filter = ["status", "payout_method"]
    search_fields = ["form__number"]


@admin.register(Guarantee)
class GuaranteeAdmin(ReadOnlyAdmin):
    list_display = [
        "form",
        "agency",
        "status",
        "amount",
        "deadline",
        "hold_expires_at",
        "captured_amount",
    ]
    list_filter = ["status", "agency"]
    search_fields = ["form__number"]
    exclude = ["card_token"]


@admin.register(GuaranteeOperation)
class GuaranteeOperationAdmin(ReadOnlyAdmin):
    list_display = ["guarantee", "kind", "status", "amount", "business_date", "attempts"]
    list_filter = ["kind", "status"]

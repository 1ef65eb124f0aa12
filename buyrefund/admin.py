"""Admin for Buy & Refund records: read-only, since money moves only through the services."""

from django.contrib import admin

from agencies.admin import ReadOnlyAdmin
from agencies.models import Guarantee, GuaranteeOperation, Prepayment


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

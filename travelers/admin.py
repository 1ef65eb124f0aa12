from django.contrib import admin

from travelers.models import Notice, PayoutPreChoice, SandboxMessage, TravelerPage


@admin.register(TravelerPage)
class TravelerPageAdmin(admin.ModelAdmin):
    """Phone pages: the token and contact are never listed (personal data)."""

    list_display = ("form", "language", "unsubscribed_at", "created_at")
    readonly_fields = ("form", "token", "email", "phone", "language", "unsubscribed_at")


@admin.register(PayoutPreChoice)
class PayoutPreChoiceAdmin(admin.ModelAdmin):
    list_display = ("form", "payout_method", "payout_account_masked", "status", "updated_at")
    list_filter = ("status", "payout_method")
    exclude = ("payout_account_encrypted",)
    readonly_fields = (
        "form",
        "payout_method",
        "payout_account_masked",
        "status",
        "refund",
        "failure_code",
        "failure_message",
    )


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ("form", "kind", "state", "channel", "language", "attempts", "sent_at")
    list_filter = ("state", "kind")
    readonly_fields = ("form", "kind", "state", "channel", "language", "attempts", "sent_at")


@admin.register(SandboxMessage)
class SandboxMessageAdmin(admin.ModelAdmin):
    list_display = ("channel", "recipient_masked", "template", "language", "created_at")

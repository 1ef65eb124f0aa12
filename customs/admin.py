"""Admin: inspection policies and risk rules are editable; customs records are read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from customs.models import (
    InspectionDecision,
    InspectionPolicy,
    MailboxBatch,
    MailboxBatchItem,
    RiskRule,
    Verification,
    VerificationAttempt,
    VerificationLine,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the services (and the ledger): view, never edit."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(InspectionPolicy)
class InspectionPolicyAdmin(admin.ModelAdmin):
    list_display = ["port", "threshold", "sample_rate", "updated_at"]
    fields = ["port", "threshold", "sample_rate", "seed"]


@admin.register(RiskRule)
class RiskRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "port", "amount", "values", "active", "position"]
    list_editable = ["active", "position"]
    list_filter = ["kind", "active", "port"]
    search_fields = ["name", "values"]


@admin.register(InspectionDecision)
class InspectionDecisionAdmin(ReadOnlyAdmin):
    list_display = ["form", "port", "selected", "reason", "detail", "decided_at"]
    list_filter = ["selected", "reason", "port"]
    search_fields = ["form__number"]


class VerificationLineInline(ReadOnlyInline):
    model = VerificationLine


@admin.register(Verification)
class VerificationAdmin(ReadOnlyAdmin):
    list_display = ["form", "port", "officer_label", "channel", "result", "verified_total"]
    list_filter = ["result", "channel", "port"]
    search_fields = ["form__number", "flight"]
    inlines = [VerificationLineInline]


@admin.register(VerificationAttempt)
class VerificationAttemptAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "form_number", "port", "officer", "channel", "code"]
    list_filter = ["code", "channel", "port"]
    search_fields = ["form_number"]


class MailboxBatchItemInline(ReadOnlyInline):
    model = MailboxBatchItem
    fields = ["position", "form_number", "result", "code", "detail", "scanned_at"]


@admin.register(MailboxBatch)
class MailboxBatchAdmin(ReadOnlyAdmin):
    list_display = ["number", "port", "drop_date", "status", "opened_by", "opened_at"]
    list_filter = ["status", "port"]
    inlines = [MailboxBatchItemInline]

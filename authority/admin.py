"""Admin: the store registry (changes go through the service), risk rules, reads."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from authority.models import AuthorityRead, RiskSignalRule, StoreFiling
from authority.risk import SIGNAL_HELP
from authority.services import store_filing_change


class StoreFilingForm(forms.ModelForm):
    """A new filing state; the service's refusals show as form errors."""

    class Meta:
        model = StoreFiling
        fields = [
            "store",
            "effective_from",
            "status",
            "rating",
            "filed_on",
            "filing_number",
            "note",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        effective_from = data.get("effective_from")
        if effective_from is not None and effective_from < timezone.localdate():
            self.add_error("effective_from", "A registry change takes effect today or later.")
        return data


@admin.register(StoreFiling)
class StoreFilingAdmin(admin.ModelAdmin):
    """Each save is a new effective-dated state (never an edit), written by the service."""

    form = StoreFilingForm
    list_display = ["store", "effective_from", "status", "rating", "filed_on", "created_by"]
    list_filter = ["status", "rating"]
    search_fields = ["store__code", "store__name", "filing_number"]
    date_hierarchy = "effective_from"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: StoreFiling, form: Any, change: bool) -> None:
        saved = store_filing_change(
            store=obj.store,
            status=obj.status,
            rating=obj.rating,
            effective_from=obj.effective_from,
            filed_on=obj.filed_on,
            filing_number=obj.filing_number,
            note=obj.note,
            actor=request.user,
        )
        obj.pk = saved.pk


@admin.register(RiskSignalRule)
class RiskSignalRuleAdmin(admin.ModelAdmin):
    list_display = ["code", "enabled", "threshold", "parameter", "meaning", "updated_at"]
    list_editable = ["enabled", "threshold", "parameter"]
    readonly_fields = ["code", "meaning"]
    fields = ["code", "meaning", "enabled", "threshold", "parameter"]

    @admin.display(description="What the numbers mean")
    def meaning(self, obj: RiskSignalRule) -> str:
        return SIGNAL_HELP.get(obj.code, "")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuthorityRead)
class AuthorityReadAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "what", "detail", "channel"]
    list_filter = ["what", "channel"]
    search_fields = ["user__username", "detail"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

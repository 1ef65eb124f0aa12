"""The kiosk's records in the admin: form locks, read-only evidence."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from kiosk.models import KioskFormLock


@admin.register(KioskFormLock)
class KioskFormLockAdmin(admin.ModelAdmin):
    list_display = ["number", "form", "locked_at", "locked_until", "client"]
    list_filter = ["locked_at"]
    search_fields = ["number"]
    date_hierarchy = "locked_at"

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

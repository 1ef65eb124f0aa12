"""Admin: kiosk devices (register with the key shown once, rotate, revoke); form locks,
read-only evidence."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from core.exceptions import ApplicationError
from kiosk.models import Device, KioskFormLock
from kiosk.services import device_key_rotate, device_register, device_revoke


class DeviceAddForm(forms.ModelForm):
    class Meta:
        model = Device
        fields = ["name", "port"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    """Devices are added here; the key is generated, shown once on the next page, stored hashed."""

    list_display = [
        "name",
        "port",
        "key_prefix",
        "active",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["port", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke", "rotate_key"]

    @admin.display(boolean=True)
    def active(self, obj: Device) -> bool:
        return obj.active

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = DeviceAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "port"]
        return ["name", "port", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return ["name", "port", *self.readonly_fields]

    def save_model(self, request: HttpRequest, obj: Device, form: Any, change: bool) -> None:
        if change:
            return  # nothing is editable: revoke and register anew instead
        device, key = device_register(name=obj.name, port=obj.port)
        obj.pk = device.pk
        obj.refresh_from_db()
        request._device_key = key  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: Device, post_url_continue: Any = None
    ) -> HttpResponse:
        return self._show_key(request, obj, getattr(request, "_device_key", ""))

    def _show_key(self, request: HttpRequest, device: Device, key: str) -> HttpResponse:
        # Rendered straight into this response: the key never sits in a message cookie,
        # a session or a log, and is not shown again.
        response = TemplateResponse(
            request,
            "admin/kiosk/device_key.html",
            {
                **self.admin_site.each_context(request),
                "device": device,
                "key": key,
                "opts": self.model._meta,
                "title": f"Key of {device.name}",
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # stamps name the device: revoke instead

    @admin.action(description="Revoke the selected devices (their keys stop working)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        for device in queryset:
            device_revoke(device=device)
        self.message_user(request, f"Revoked {queryset.count()} device(s).", messages.SUCCESS)

    @admin.action(description="Give the selected device a new key (shown once)")
    def rotate_key(self, request: HttpRequest, queryset: QuerySet[Device]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one device.", messages.ERROR)
            return None
        device = queryset.get()
        try:
            key = device_key_rotate(device=device)
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        return self._show_key(request, device, key)


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

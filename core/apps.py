"""Core app: the shared directory (stores, ports, agencies, staff), policies and the ledger."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform core"
    default_auto_field = "django.db.models.BigAutoField"

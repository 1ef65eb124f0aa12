"""The tax authority's seat: statistics, the store registry, ledger proofs, risk signals."""

from __future__ import annotations

from datetime import date
from importlib import import_module
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


def _file_new_store(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any
) -> None:
    """A store added to the directory is filed (rated M, newly opened) from that day."""
    if created and not raw:
        from authority.services import store_file_new

        store_file_new(store=instance)


def _guard(store: Any, day: date) -> None:
    from authority.services import store_filing_guard

    store_filing_guard(store=store, day=day)


def restore_risk_rules(sender: AppConfig, *, using: str, apps: Any = None, **kwargs: Any) -> None:
    """Put the default risk signal rules back after a flush emptied their table."""
    if apps is None:
        from django.apps import apps as installed

        apps = installed
    try:
        apps.get_model("authority", "RiskSignalRule")
    except LookupError:
        return
    seed = import_module("authority.migrations.0002_seed_risk_rules")
    seed.forwards(apps, None)


class AuthorityConfig(AppConfig):
    name = "authority"
    verbose_name = "Tax authority"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from stores.services import register_issue_guard

        register_issue_guard(_guard)
        post_save.connect(_file_new_store, sender="core.Store", dispatch_uid="authority-file-store")
        post_migrate.connect(restore_risk_rules, sender=self)

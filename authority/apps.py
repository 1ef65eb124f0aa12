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


def _filing_read(store: Any, day: date) -> tuple[str, list[Any]]:
    from authority.selectors import store_filing_status_read

    return store_filing_status_read(store_id=store.pk, day=day)


def _filing_check(store: Any, day: date, status: Any) -> None:
    from authority.services import store_filing_status_check

    store_filing_status_check(store=store, day=day, status=status)


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
        from stores.services import IssueCheck, register_issue_check

        # The store's filing status is read with the issue's invoices: no statement of its own.
        register_issue_check(IssueCheck(read=_filing_read, check=_filing_check))
        post_save.connect(_file_new_store, sender="core.Store", dispatch_uid="authority-file-store")
        post_migrate.connect(restore_risk_rules, sender=self)

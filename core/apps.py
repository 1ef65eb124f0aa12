"""Core app: the shared directory (stores, ports, agencies, staff), policies and the ledger."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def restore_seeded_policies(
    sender: AppConfig, *, using: str, apps: Any = None, **kwargs: Any
) -> None:
    """Re-create the SPEC §2 policies and default fee rate when their table is empty.

    The data migration seeds them once; ``flush`` (which transactional tests run
    after each test) empties every table and then sends ``post_migrate``, like
    ``migrate`` does. Policies an administrator edited are left alone: this only
    acts on an empty policy table.
    """
    if apps is None:  # flush sends no migration state: the installed models are current
        from django.apps import apps as installed

        apps = installed
    try:
        policy_model = apps.get_model("core", "RefundPolicy")
    except LookupError:  # migrated back before the table existed
        return
    if policy_model.objects.using(using).exists():
        return
    seed = import_module("core.migrations.0002_seed_policies")
    seed.forwards(apps, None)


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(restore_seeded_policies, sender=self)
        from core import models
        from core.refcache import reference_changed, reference_models

        post_migrate.connect(reference_changed, dispatch_uid="refcache-migrate")
        reference_models(
            models.RefundPolicy,
            models.RefundRate,
            models.AgencyFeeRate,
            models.BuyAndRefundWindow,
            models.WorkingDayOverride,
        )

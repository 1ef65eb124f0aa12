"""Seed the Buy & Refund windows (SPEC §2 Buy & Refund 2), editable in the admin.

Shanghai (region 31): 17 days, as configured since the 2025-04-27 policy (the
2020 pilot's figure). Nationwide: 28 days from 2026-07-01, as *reported* for
"departure tax refund 2.0"; not yet read in a primary text, so the row says so.
"""

from datetime import date

from django.db import migrations

SHANGHAI = {"region_code": "31", "effective_from": date(2025, 4, 27), "days": 17}
SHANGHAI_SOURCE = "Shanghai Buy & Refund pilot (since 2020): 17 days."
NATIONWIDE = {"region_code": None, "effective_from": date(2026, 7, 1), "days": 28}
NATIONWIDE_SOURCE = (
    "Reported for 'departure tax refund 2.0' (nationwide from 2026-07-01);"
    " not yet read in a primary text."
)


def seed(apps, schema_editor):
    window = apps.get_model("core", "BuyAndRefundWindow")
    window.objects.get_or_create(
        region_code=SHANGHAI["region_code"],
        effective_from=SHANGHAI["effective_from"],
        defaults={"days": SHANGHAI["days"], "source": SHANGHAI_SOURCE},
    )
    window.objects.get_or_create(
        region_code__isnull=True,
        effective_from=NATIONWIDE["effective_from"],
        defaults={"region_code": None, "days": NATIONWIDE["days"], "source": NATIONWIDE_SOURCE},
    )


def unseed(apps, schema_editor):
    window = apps.get_model("core", "BuyAndRefundWindow")
    window.objects.filter(
        region_code__isnull=True, effective_from=NATIONWIDE["effective_from"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0004_windows_nationwide_working_day_overrides")]

    operations = [migrations.RunPython(seed, unseed)]

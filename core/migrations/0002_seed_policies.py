"""The three policy periods of SPEC §2 and the platform default fee rate (2%)."""

from datetime import date
from decimal import Decimal

from django.db import migrations

POLICIES = [
    (
        date(2015, 1, 1),
        Decimal("500.00"),
        Decimal("10000.00"),
        "MoF/SAT/GACC 2015 No.3",
        {"0.17": "0.11", "0.16": "0.11", "0.11": "0.11", "0.10": "0.11"},
    ),
    (
        date(2019, 4, 1),
        Decimal("500.00"),
        Decimal("10000.00"),
        "MoF/SAT/GACC 2019 No.39",
        {"0.13": "0.11", "0.09": "0.08"},
    ),
    (
        date(2025, 4, 27),
        Decimal("200.00"),
        Decimal("20000.00"),
        "SAT 2025 No.11, MOFCOM 2025-84",
        {"0.13": "0.11", "0.09": "0.08"},
    ),
]


def forwards(apps, schema_editor):
    RefundPolicy = apps.get_model("core", "RefundPolicy")
    RefundRate = apps.get_model("core", "RefundRate")
    AgencyFeeRate = apps.get_model("core", "AgencyFeeRate")
    for effective_from, minimum, cap, source, rates in POLICIES:
        policy, _ = RefundPolicy.objects.get_or_create(
            effective_from=effective_from,
            defaults={"minimum_amount": minimum, "cash_cap": cap, "source": source},
        )
        for vat_rate, refund_rate in rates.items():
            RefundRate.objects.get_or_create(
                policy=policy,
                vat_rate=Decimal(vat_rate),
                defaults={"refund_rate": Decimal(refund_rate)},
            )
    AgencyFeeRate.objects.get_or_create(
        agency=None, effective_from=date(2015, 1, 1), defaults={"rate": Decimal("0.02")}
    )


def backwards(apps, schema_editor):
    apps.get_model("core", "RefundPolicy").objects.filter(
        effective_from__in=[p[0] for p in POLICIES]
    ).delete()
    apps.get_model("core", "AgencyFeeRate").objects.filter(agency=None).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]

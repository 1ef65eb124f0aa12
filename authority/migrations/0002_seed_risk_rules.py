"""The default risk signal rules (thresholds are changed in the admin)."""

from decimal import Decimal

from django.db import migrations

DEFAULTS = {
    "many_stores_one_day": (Decimal("3"), Decimal("0")),
    "just_under_threshold": (Decimal("3"), Decimal("10")),
    "store_void_rate": (Decimal("20"), Decimal("10")),
    "far_port_fast": (Decimal("6"), Decimal("0")),
    "kiosk_form_locks": (Decimal("2"), Decimal("0")),
}


def forwards(apps, schema_editor):
    rule = apps.get_model("authority", "RiskSignalRule")
    for code, (threshold, parameter) in DEFAULTS.items():
        rule.objects.get_or_create(
            code=code, defaults={"threshold": threshold, "parameter": parameter}
        )


class Migration(migrations.Migration):
    dependencies = [("authority", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

"""File every store already in the directory, from 2015-01-01, so none is refused a form.

Stores added later are filed when they are created (``authority.apps``); the
tax authority changes ratings and statuses through the registry from then on.
"""

from datetime import date

from django.db import migrations

EPOCH = date(2015, 1, 1)


def forwards(apps, schema_editor):
    store_model = apps.get_model("core", "Store")
    filing = apps.get_model("authority", "StoreFiling")
    for store in store_model.objects.filter(filings__isnull=True):
        filing.objects.create(
            store=store,
            effective_from=EPOCH,
            status="filed",
            rating="B",
            filing_number=f"BA-{store.code}",
            filed_on=EPOCH,
            note="Filed when the registry was introduced.",
        )


class Migration(migrations.Migration):
    dependencies = [("authority", "0002_seed_risk_rules"), ("core", "0004_ledger_head_global_root")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

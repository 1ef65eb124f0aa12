# ruff: noqa: S608  (only integers and this file's constants are put into the SQL text)
"""Fill the form tables with many rows by set-based SQL (seconds, not minutes).

One INSERT ... SELECT per table over a recursive counting CTE, which SQLite and
PostgreSQL both run. Rows get explicit ids after the largest in the table (a
PostgreSQL sequence may be ahead of it after rolled-back tests), so lines can
point at their forms; the sequences are then moved past them.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from core.models import RefundPolicy
from stores.models import RefundForm, RefundFormLine, Traveler, VatInvoice, VatInvoiceLine

NATIONALITIES = ["FR", "JP", "US", "KR", "DE"]
CATEGORIES = [
    "clothing",
    "bags_shoes",
    "jewelry_watches",
    "cosmetics",
    "electronics",
    "tea_food",
    "arts_crafts",
    "other",
]
PER_INVOICE = 10_000


def _case(expr: str, values: list[Any]) -> str:
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"(CASE {expr} % {len(values)} {whens} END)"


def _days_before(param: str, expr: str) -> str:
    if connection.vendor == "postgresql":
        return f"(CAST({param} AS date) - CAST({expr} AS integer))"
    return f"date({param}, '-' || ({expr}) || ' days')"


def bulk_forms(demo: Any, *, count: int) -> None:
    """``count`` issued forms of one line each over the last 365 days, 10 travelers, 2 stores."""
    today = timezone.localdate()
    now = timezone.now()
    policy = RefundPolicy.objects.order_by("-effective_from").first()
    assert policy is not None
    travelers = Traveler.objects.bulk_create(
        Traveler(
            name=f"Bulk Traveler {k}",
            document_type="passport",
            document_number_encrypted="x",
            document_hash=f"bulk-hash-{k}",
            document_masked="BU****{k}",
            nationality=NATIONALITIES[k % len(NATIONALITIES)],
            last_entry_date=today - timedelta(days=400),
        )
        for k in range(10)
    )
    invoices = VatInvoice.objects.bulk_create(
        VatInvoice(
            number=f"{today:%y}31{k:016d}",
            store=demo.store_sh,
            buyer_name="Bulk",
            issued_on=today,
            total_excl_vat=Decimal("1"),
            total_vat=Decimal("1"),
            total=Decimal("2"),
        )
        for k in range((count + PER_INVOICE - 1) // PER_INVOICE)
    )
    invoice_of = "(CASE n / {per} {whens} END)".format(
        per=PER_INVOICE,
        whens=" ".join(f"WHEN {k} THEN {invoice.pk}" for k, invoice in enumerate(invoices)),
    )
    traveler_base = min(t.pk for t in travelers)
    seq = (
        f"WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < {count - 1})"
    )
    amount = "((2 + n % 10) * 100)"
    line_table, form_table = VatInvoiceLine._meta.db_table, RefundForm._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {line_table}")
        line_base = cursor.fetchone()[0] + 1
        cursor.execute(
            f"INSERT INTO {line_table} (id, invoice_id, position, item, spec, unit, quantity,"
            " unit_price, amount, vat_rate, vat_amount, total, category) "
            f"{seq} SELECT {line_base} + n, {invoice_of}, n % {PER_INVOICE} + 1,"
            f" 'bulk', '', '', 1, {amount}, {amount}, 0.13, 0, {amount},"
            f" {_case('n', CATEGORIES)} FROM seq ORDER BY n"
        )
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {form_table}")
        form_base = cursor.fetchone()[0] + 1
        form_sql = (
            f"INSERT INTO {form_table} (id, number, store_id, traveler_id, status, traveler_name,"
            " document_type, document_number_encrypted, document_hash, document_masked,"
            " nationality, last_entry_date, purchase_date, buy_and_refund, policy_id, fee_rate,"
            " total, refundable_vat, fee, net_refund, content_digest, qr_payload, issued_by_id,"
            " issued_at, void_reason) "
            f"{seq} SELECT {form_base} + n, CAST(1000000000000000 + n AS TEXT),"
            f" (CASE n % 2 WHEN 0 THEN {demo.store_sh.pk} ELSE {demo.store_bj.pk} END),"
            f" {traveler_base} + n % 10, 'issued', 'Bulk Traveler', 'passport', 'x',"
            " 'bulk-hash-' || CAST(n % 10 AS TEXT), 'BU****',"
            f" {_case('n', NATIONALITIES)}, %s, {_days_before('%s', 'n % 365')}, %s, %s, 0.02,"
            f" {amount}, (2 + n % 10) * 11, (2 + n % 10) * 2, (2 + n % 10) * 9, 'd', 'q',"
            " %s, %s, ''"
            " FROM seq ORDER BY n"
        )
        # With parameters, a literal % is written %% (psycopg; Django's SQLite wrapper too).
        cursor.execute(
            form_sql.replace("%", "%%").replace("%%s", "%s"),
            [today - timedelta(days=400), today.isoformat(), False, policy.pk, demo.clerk.pk, now],
        )
        cursor.execute(
            f"INSERT INTO {RefundFormLine._meta.db_table} (form_id, invoice_line_id, position,"
            " item, spec, unit, quantity, unit_price, vat_rate, refund_rate, total, category) "
            f"{seq} SELECT {form_base} + n, {line_base} + n, 1, 'bulk', '', '', 1, {amount},"
            f" 0.13, 0.11, {amount}, {_case('n', CATEGORIES)} FROM seq ORDER BY n"
        )
        if connection.vendor == "postgresql":
            for table in (VatInvoiceLine._meta.db_table, RefundForm._meta.db_table):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}"
                )
            for table in (line_table, form_table, RefundFormLine._meta.db_table):
                # as autovacuum would: the planner needs the row counts
                cursor.execute(f"ANALYZE {table}")
    assert RefundForm.objects.filter(pk__gte=form_base).count() == count
    assert (
        RefundFormLine.objects.filter(
            form_id__gte=form_base, invoice_line_id__gte=line_base
        ).count()
        == count
    )

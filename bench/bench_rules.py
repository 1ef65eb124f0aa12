"""Benchmark: the pure rules engine (tests never time things).

Run: .venv/bin/python bench/bench_rules.py [forms]      # default 20000
Times compute_refund + form_violations + agency_checks for forms of 1..12 lines,
and amount_in_words; no database.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.money import amount_in_words
from core.rules import (
    AgencyFacts,
    InvoiceFacts,
    LineFacts,
    Policy,
    TravelerFacts,
    agency_checks,
    compute_refund,
    form_violations,
)

POLICY = Policy(
    effective_from=date(2025, 4, 27),
    minimum_amount=Decimal("200.00"),
    cash_cap=Decimal("20000.00"),
    refund_rates={Decimal("0.13"): Decimal("0.11"), Decimal("0.09"): Decimal("0.08")},
)
ENTRY = date(2026, 3, 1)
TRAVELER = TravelerFacts(document_type="passport", nationality="FR", last_entry_date=ENTRY)
CHECKS = AgencyFacts(
    missing_fields=(),
    document_type_matches=True,
    document_number_matches=True,
    customs_verified=True,
    customs_signature_valid=True,
    departure_date=ENTRY + timedelta(days=20),
    last_entry_date=ENTRY,
    purchase_dates=(ENTRY + timedelta(days=5),),
    qr_signature_valid=True,
    qr_digest_matches=True,
    voided=False,
    already_refunded=False,
)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rnd = random.Random(6962)
    forms = []
    for i in range(count):
        lines = [
            LineFacts(
                vat_rate=rnd.choice([Decimal("0.13"), Decimal("0.09")]),
                total=Decimal(rnd.randint(100, 500_000)) / 100,
            )
            for _ in range(rnd.randint(1, 12))
        ]
        forms.append(
            InvoiceFacts(
                number=f"{i:020d}", issued_on=ENTRY + timedelta(days=5), lines=lines, store_id=1
            )
        )

    started = time.perf_counter()
    for invoice in forms:
        form_violations(traveler=TRAVELER, invoices=[invoice], policy=POLICY)
        compute_refund(invoice.lines, policy=POLICY, fee_rate=Decimal("0.02"))
        agency_checks(replace(CHECKS, purchase_dates=(invoice.issued_on,)))
    elapsed = time.perf_counter() - started
    line_count = sum(len(f.lines) for f in forms)
    print(
        f"rules: {count} forms ({line_count} lines) in {elapsed:.2f}s"
        f" = {count / elapsed:,.0f} forms/s, {elapsed / count * 1e6:.0f} µs per form"
    )

    amounts = [Decimal(rnd.randint(0, 10**13)) / 100 for _ in range(count)]
    started = time.perf_counter()
    for amount in amounts:
        amount_in_words(amount)
    elapsed = time.perf_counter() - started
    print(f"amount_in_words: {count} amounts in {elapsed:.2f}s = {count / elapsed:,.0f}/s")


if __name__ == "__main__":
    main()

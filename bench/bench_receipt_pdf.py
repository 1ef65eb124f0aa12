"""Benchmark: time to render one refund receipt PDF (tests never time things).

Run: .venv/bin/python bench/bench_receipt_pdf.py [repeats]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refund_site.settings.test")

import django

django.setup()

from agencies.pdf import ReceiptData, receipt_pdf  # noqa: E402
from core.pdf import cjk_font  # noqa: E402

SAMPLE = ReceiptData(
    reference="RF-2026-000123",
    agency_name="东方退税服务有限公司",
    agency_code="DEMO-AGENCY",
    port_code="PVG",
    port_name="上海浦东国际机场",
    form_number="3126031700000127",
    traveler_name="Marie Dupont",
    document_type="passport",
    document_masked="1*****345",
    nationality="FR",
    store_name="上海示范商店",
    store_code="DEMO-SH-001",
    purchase_date=date(2026, 3, 10),
    verified_total=Decimal("3600.00"),
    refundable_vat=Decimal("396.00"),
    fee=Decimal("72.00"),
    fee_rate=Decimal("0.0200"),
    net_refund=Decimal("324.00"),
    payout_method="bank_card",
    payout_account_masked="**** **** **** 0366",
    paid_at=datetime(2026, 3, 17, 6, 5, tzinfo=UTC),
    agent="agent",
    departure_date=date(2026, 3, 17),
)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    started = time.perf_counter()
    cjk_font()  # the one-off font load (a ~10 MB TTC), paid once per process
    font_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    size = len(receipt_pdf(SAMPLE))
    first_ms = (time.perf_counter() - started) * 1000
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        receipt_pdf(SAMPLE)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    print(f"font registration: {font_ms:.1f} ms (once per process)")
    print(f"first receipt:     {first_ms:.1f} ms, {size / 1024:.1f} KiB")
    print(
        f"receipt x{repeats}:     median {statistics.median(samples):.1f} ms,"
        f" p95 {samples[int(len(samples) * 0.95) - 1]:.1f} ms, max {samples[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()

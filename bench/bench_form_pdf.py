"""Benchmark: time to render the printed refund form PDF (tests never time things).

Builds a throw-away in-memory database with the demo data, issues real forms
through the services (2 lines, and 50 lines over three pages), then times
``stores.pdf.form_pdf`` end to end: the line query, layout, QR, font subsetting.

Run: .venv/bin/python bench/bench_form_pdf.py [repeats]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refund_site.settings.test")
os.environ.pop("DATABASE_URL", None)  # always a private in-memory SQLite database

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

BUDGET_SECONDS = 1.0


def main(repeats: int) -> int:
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)

    from django.contrib.auth import get_user_model

    from core.demo import demo_seed
    from core.models import Store
    from stores.pdf import form_pdf
    from tests.factories import line, make_form

    demo_seed()
    store = Store.objects.get(code="DEMO-SH-001")
    clerk = get_user_model().objects.get(username="clerk")
    small = make_form(
        store,
        clerk,
        line("丝巾 Silk scarf", "2", "1500.00", spec="90x90cm", unit="条"),
        line("龙井茶 Longjing tea", "3", "200.00", vat_rate="0.09", unit="盒"),
        buy_and_refund=True,
    )
    big = make_form(
        store,
        clerk,
        *[line(f"商品 Item {i}", "1", "100.00", spec=f"SKU-{i:04d}") for i in range(50)],
    )

    start = time.perf_counter()
    form_pdf(small)
    cold = time.perf_counter() - start
    print(f"cold (registers the CJK font, first layout): {cold * 1000:7.1f} ms")

    worst = 0.0
    for label, form in (("2 lines, 1 page ", small), ("50 lines, 3 pages", big)):
        times = []
        cpu_start = time.process_time()
        size = 0
        for _ in range(repeats):
            start = time.perf_counter()
            size = len(form_pdf(form))
            times.append(time.perf_counter() - start)
        cpu = (time.process_time() - cpu_start) / repeats
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        worst = max(worst, p95)
        print(
            f"{label}: wall median {statistics.median(times) * 1000:6.1f} ms,"
            f" p95 {p95 * 1000:6.1f} ms, max {times[-1] * 1000:6.1f} ms;"
            f" CPU {cpu * 1000:6.1f} ms/PDF; {size / 1024:.0f} KiB, n={repeats}"
        )
    # The font registers once per process; the budget is for each PDF after that.
    verdict = "OK" if worst < BUDGET_SECONDS else "OVER BUDGET"
    print(f"budget {BUDGET_SECONDS:.1f} s per PDF (warm p95): {verdict}")
    return 0 if worst < BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))

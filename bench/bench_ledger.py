"""Benchmark: ledger append, seal and verify throughput (tests never time things).

Runs on a scratch database it migrates itself, never on your data:
  .venv/bin/python bench/bench_ledger.py                       # SQLite file in a temp dir
  BENCH_DATABASE_URL=postgres://refund@127.0.0.1:5432/refund_bench \\
      .venv/bin/python bench/bench_ledger.py --threads 8      # PostgreSQL, 8 writers
Options: --records 500 --entries 10 (entries per record) --threads 1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
parser.add_argument("--records", type=int, default=500)
parser.add_argument("--entries", type=int, default=10, help="entries per record")
parser.add_argument("--threads", type=int, default=1, help="concurrent writers (own records each)")
args = parser.parse_args()

scratch = tempfile.mkdtemp(prefix="refund-bench-")
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3"
)
os.environ["REFUND_VAR_DIR"] = scratch
os.environ["DJANGO_SETTINGS_MODULE"] = "refund_site.settings.test"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from core.ledger import ledger_append, ledger_seal, ledger_verify  # noqa: E402
from core.models import Agency, LedgerEntry  # noqa: E402


def main() -> None:
    call_command("migrate", verbosity=0)
    if LedgerEntry.objects.exists():
        sys.exit("The bench database is not empty: point BENCH_DATABASE_URL at a scratch DB.")
    records = [Agency(code=f"BENCH-{i:06d}", name=f"Bench {i}") for i in range(args.records)]
    Agency.objects.bulk_create(records)
    records = list(Agency.objects.filter(code__startswith="BENCH-").order_by("pk"))
    total = args.records * args.entries
    print(f"database: {connection.vendor}; {args.records} records x {args.entries} entries")

    def writer(mine: list[Agency]) -> None:
        try:
            for step in range(args.entries):
                for record in mine:
                    # one transaction per entry, locking the record, as a service does
                    with transaction.atomic():
                        Agency.objects.select_for_update().get(pk=record.pk)
                        ledger_append(
                            record=record,
                            action=f"step-{step}",
                            to_status="issued",
                            payload={"step": step, "total": "200.00"},
                        )
        finally:
            connection.close()

    shards = [records[i :: args.threads] for i in range(args.threads)]
    started = time.perf_counter()
    workers = [threading.Thread(target=writer, args=(shard,)) for shard in shards]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    append_s = time.perf_counter() - started
    assert LedgerEntry.objects.count() == total

    started = time.perf_counter()
    seal = ledger_seal()
    seal_s = time.perf_counter() - started
    assert seal is not None and seal.batch_size == total

    started = time.perf_counter()
    report = ledger_verify()
    verify_s = time.perf_counter() - started
    assert report.intact and report.entries == total

    print(
        f"append: {total} entries in {append_s:.2f}s = {total / append_s:,.0f}/s"
        f" ({args.threads} writer{'s' if args.threads > 1 else ''})"
    )
    print(f"seal:   {total} entries in {seal_s:.2f}s = {total / seal_s:,.0f}/s")
    print(f"verify: {total} entries in {verify_s:.2f}s = {total / verify_s:,.0f}/s")


if __name__ == "__main__":
    main()

"""Benchmark: the authority's statistics over many forms, and Merkle proofs over a big tree.

Runs on a scratch database it migrates itself, never on your data:
  .venv/bin/python bench/bench_statistics.py                 # SQLite file in a temp dir
  BENCH_DATABASE_URL=postgres://refund@127.0.0.1:5432/refund_bench \\
      .venv/bin/python bench/bench_statistics.py --forms 1000000
Options: --forms 100000 (filled by set-based SQL) --leaves 1000000 (pure Merkle part)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
parser.add_argument("--forms", type=int, default=100_000)
parser.add_argument("--leaves", type=int, default=1_000_000)
args = parser.parse_args()

scratch = tempfile.mkdtemp(prefix="refund-bench-")
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3"
)
os.environ["REFUND_VAR_DIR"] = scratch
os.environ["DJANGO_SETTINGS_MODULE"] = "refund_site.settings.test"

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from authority.statistics import GROUPINGS, statistics_for  # noqa: E402
from core import merkle  # noqa: E402
from core.demo import demo_seed  # noqa: E402
from core.models import Store  # noqa: E402
from tests.authority.bulk import bulk_forms  # noqa: E402

call_command("migrate", verbosity=0)
demo_seed()
demo = SimpleNamespace(
    store_sh=Store.objects.get(code="DEMO-SH-001"),
    store_bj=Store.objects.get(code="DEMO-BJ-001"),
    clerk=get_user_model().objects.get(username="clerk"),
)
started = time.perf_counter()
bulk_forms(demo, count=args.forms)
print(f"filled {args.forms:,} forms in {time.perf_counter() - started:.1f} s")
today = timezone.localdate()
for by in GROUPINGS:
    started = time.perf_counter()
    stats = statistics_for(start=today - timedelta(days=400), end=today, by=by)
    elapsed = time.perf_counter() - started
    print(f"statistics by {by:<11} {elapsed * 1000:8.0f} ms  ({len(stats.rows)} rows)")

leaves = [merkle.leaf_hash(hashlib.sha256(str(i).encode()).hexdigest()) for i in range(args.leaves)]
started = time.perf_counter()
path = merkle.audit_path(args.leaves // 3, leaves)
print(f"audit path in a tree of {args.leaves:,} leaves: {time.perf_counter() - started:.2f} s")
started = time.perf_counter()
proof = merkle.consistency_proof(args.leaves // 2 + 1, leaves)
print(f"consistency proof ({len(proof)} hashes): {time.perf_counter() - started:.2f} s")

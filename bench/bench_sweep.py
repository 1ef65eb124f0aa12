"""Benchmark: the guarantee sweep at 1 M rows, the ledger seal and verify at 1 M entries.

One command (not part of the tests or CI):

    .venv/bin/python bench/bench_sweep.py [--guarantees 1000000 --due 1000 --entries 1000000]

It starts a throwaway PostgreSQL (initdb in a temp dir, fsync off, as scripts/test does)
and runs every phase in its own process (so each one's peak resident size is its own):

- **sweep**: two databases, built with set-based SQL (INSERT ... SELECT over
  generate_series, cloning one Buy & Refund form, prepayment and guarantee made
  through the services): ``small`` holds just the guarantees due (``--due``);
  ``big`` holds the same due ones among ``--guarantees`` in all (70 % settled, 30 %
  active with nothing due for weeks). Each is swept once (``manage.py guarantees
  sweep``'s code: select, then every chunk in process), timed; the figure is the
  ratio big / small;
- **ledger**: ``--entries`` new entries (chains of 4 per record, hashed as
  ``ledger_append`` does, bulk-inserted), then ``ledger_seal()`` until nothing is
  left (entries/s), then ``ledger_verify()`` (entries/s and peak RSS); the verify
  is also run over a tenth of the entries, to show its memory does not grow with
  the ledger.

Prints the figures and, with ``--write``, puts them into bench/RESULTS.md in the
section "Guarantee sweep and ledger at 1 M rows" (the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import BULK, PYTHON, Postgres, machine  # noqa: E402

SECTION = "## Guarantee sweep and ledger at 1 M rows — `bench/bench_sweep.py`"


# --- The orchestrating process: PostgreSQL, one subprocess per phase ---------------------


def phase(url: str, scratch: Path, name: str, **options: Any) -> dict[str, Any]:
    """Run one phase in a fresh process on the database at ``url``; its JSON answer."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REFUND_VAR_DIR": str(scratch),
        "DJANGO_SETTINGS_MODULE": "refund_site.settings.test",
    }
    args = [PYTHON, __file__, "--phase", name]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    started = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=ROOT, check=False, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-6000:])
        raise SystemExit(f"phase {name} failed")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {name}: {time.perf_counter() - started:.1f} s  {json.dumps(answer)}", flush=True)
    return answer


def main(args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix="refund-bench-sweep-"))
    base.chmod(0o755)  # the postgres user (when run as root) must reach its data dir
    pg = Postgres(base, options=BULK)
    pg.start()
    figures: dict[str, Any] = {"started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        print(f"PostgreSQL on port {pg.port}; {args.guarantees:,} guarantees, {args.due:,} due")
        if "sweep" in args.parts:
            small_url = pg.create("sweep_small")
            phase(small_url, base, "build", total=args.due, due=args.due)
            figures["small"] = phase(small_url, base, "sweep", due=args.due)
            big_url = pg.create("sweep_big")
            figures["big_build"] = phase(
                big_url, base, "build", total=args.guarantees, due=args.due
            )
            figures["big"] = phase(big_url, base, "sweep", due=args.due)
        if "ledger" in args.parts:
            tenth_url = pg.create("ledger_tenth")
            phase(tenth_url, base, "ledger-build", entries=args.entries // 10)
            phase(tenth_url, base, "ledger-seal")
            figures["verify_tenth"] = phase(tenth_url, base, "ledger-verify")
            ledger_url = pg.create("ledger")
            figures["ledger_build"] = phase(ledger_url, base, "ledger-build", entries=args.entries)
            figures["seal"] = phase(ledger_url, base, "ledger-seal")
            figures["verify"] = phase(ledger_url, base, "ledger-verify")
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
    figures["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    figures["machine"] = machine()
    figures["args"] = {"due": args.due, "guarantees": args.guarantees, "entries": args.entries}
    if args.figures:
        Path(args.figures).write_text(json.dumps(figures))
    if {"small", "seal"} <= figures.keys():
        finish(figures, args.write)


def finish(figures: dict[str, Any], write: bool) -> None:
    text = report(figures)
    print(text)
    if write:
        write_section(text)


def report(f: dict[str, Any]) -> str:
    args = argparse.Namespace(**f["args"])
    small, big = f["small"], f["big"]
    ratio = big["sweep_s"] / small["sweep_s"]
    seal, verify, tenth = f["seal"], f["verify"], f["verify_tenth"]
    return "\n".join(
        [
            SECTION,
            "",
            f"Run {f['started']}; machine: {f['machine']}. Load average at the end: {f['load']}.",
            "PostgreSQL 15 on the same machine (fsync off); each phase in its own process.",
            "",
            "**The sweep's cost follows the guarantees due, not the table.** Both databases hold "
            f"the same {args.due:,} guarantees due (grace period over: a capture each, through "
            "the sandbox card gateway); `big` holds them among "
            f"{big['guarantees']:,} guarantees ({f['big_build']['settled']:,} settled, "
            f"{f['big_build']['active_not_due']:,} active with nothing due for weeks), built "
            f"with set-based SQL in {f['big_build']['build_s']:.0f} s. One sweep each (select, "
            "then every chunk of 200 in the process, as `manage.py guarantees sweep` does):",
            "",
            "| table | guarantees | due | selection | selection statements | whole sweep "
            "| statements | captured |",
            "|---|---|---|---|---|---|---|---|",
            *(
                f"| {name} | {r['guarantees']:,} | {r['due_selected']:,} | "
                f"{r['select_ms']:.1f} ms | {r['select_statements']} | {r['sweep_s']:.2f} s | "
                f"{r['statements']:,} | {r['captured']:,} |"
                for name, r in (("just the due ones", small), ("1 M", big))
            ),
            "",
            f"Ratio of the sweep times, 1 M / just the due ones: **{ratio:.2f}** "
            "(target ≤ 2). The selection reads two partial indexes (active guarantees by "
            "`sweep_on`, pending operations), so the settled and not-yet-due rows are never "
            f"read; its plan on the 1 M table: `{big['plan']}`. A second sweep of the same day "
            f"finds nothing to do: {big['second_sweep_ms']:.1f} ms.",
            "",
            "**Ledger at 1 M entries** (chains of 4 entries per record, hashed as `ledger_append` "
            f"does; inserting them took {f['ledger_build']['build_s']:.0f} s):",
            "",
            "| what | entries | time | entries/s | peak RSS of the process |",
            "|---|---|---|---|---|",
            f"| `ledger_seal()` until nothing is left ({seal['seals']} heads of ≤ 50,000) | "
            f"{seal['entries']:,} | {seal['seconds']:.1f} s | {seal['rate']:,.0f} | "
            f"{seal['peak_rss_mib']:.0f} MiB |",
            f"| `ledger verify` (every chain and head) | {verify['entries']:,} | "
            f"{verify['seconds']:.1f} s | {verify['rate']:,.0f} | "
            f"{verify['peak_rss_mib']:.0f} MiB |",
            f"| `ledger verify` over a tenth | {tenth['entries']:,} | {tenth['seconds']:.1f} s | "
            f"{tenth['rate']:,.0f} | {tenth['peak_rss_mib']:.0f} MiB |",
            "",
            "`ledger verify` streams the entries (a server-side cursor, 2,000 rows at a time) and "
            "reads one seal's leaves at a time, so its memory stays flat whatever the ledger's "
            f"size: {tenth['peak_rss_mib']:.0f} MiB over {tenth['entries']:,} entries, "
            f"{verify['peak_rss_mib']:.0f} MiB over {verify['entries']:,}. Intact: "
            f"{verify['intact']}.",
            "",
            "The resident size of a gunicorn worker after the money flows is measured by "
            "`bench_flows.py` at the end of its run (its own section of this file).",
            "",
        ]
    )


def write_section(text: str) -> None:
    """Replace (or append) this bench's own section of RESULTS.md; the rest stays."""
    path = ROOT / "bench" / "RESULTS.md"
    current = path.read_text() if path.exists() else ""
    if SECTION in current:
        start = current.index(SECTION)
        rest = current[start + len(SECTION) :]
        end = rest.find("\n## ")
        tail = rest[end + 1 :] if end >= 0 else ""
        current = current[:start].rstrip() + "\n\n" + text + ("\n" + tail if tail else "")
    else:
        current = current.rstrip() + "\n\n" + text
    path.write_text(current)


# --- The phases, each in its own process on DATABASE_URL ---------------------------------


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(total: int, due: int) -> dict[str, Any]:
    """Migrate, make one paid Buy & Refund form through the services, clone it by SQL."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    from agencies.models import Guarantee
    from buyrefund.services import prepayment_handover, prepayment_pay
    from core.demo import demo_seed
    from core.models import Store
    from tests.factories import line, make_form, traveler

    demo_seed()
    store = Store.objects.get(code="DEMO-SH-001")
    clerk = User.objects.get(username="clerk")
    form = make_form(store, clerk, line(unit_price="3600.00"), who=traveler(), buy_and_refund=True)
    prepayment_pay(
        form_number=form.number,
        clerk=clerk,
        store=store,
        card_token="tok_visa",
        card_holder_name="Marie Dupont",
        payout_method="cash",
    )
    prepayment_handover(form_number=form.number, clerk=clerk, store=store)
    template = Guarantee.objects.get(form=form)
    day = timezone.localdate()
    active_not_due = (total - due) * 3 // 10
    settled = total - due - active_not_due
    with connection.cursor() as cur:
        # Rows 1..due: due (grace over); then active with nothing due; then settled.
        clone(
            cur,
            "stores_refundform",
            form.pk,
            total - 1,
            {
                "number": "'9' || lpad(g::text, 15, '0')",
            },
        )
        form_base = _max_id(cur, "stores_refundform") - (total - 1)
        clone(
            cur,
            "agencies_prepayment",
            template.prepayment_id,
            total - 1,
            {
                "form_id": f"{form_base} + g",
                "uid": "gen_random_uuid()",
            },
        )
        pre_base = _max_id(cur, "agencies_prepayment") - (total - 1)
        clone(
            cur,
            "agencies_guarantee",
            template.pk,
            total - 1,
            {
                "form_id": f"{form_base} + g",
                "prepayment_id": f"{pre_base} + g",
            },
        )
        gbase = _max_id(cur, "agencies_guarantee") - (total - 1)
        d = day.isoformat()
        # The template is due too: guarantee ids [template, gbase+1 .. gbase+due-1].
        cur.execute(
            "UPDATE agencies_guarantee SET deadline = %s::date - 8, grace_until = %s::date - 5,"
            " sweep_on = %s::date - 1 WHERE id = %s OR id BETWEEN %s AND %s",
            [d, d, d, template.pk, gbase + 1, gbase + due - 1],
        )
        cur.execute(
            "UPDATE agencies_guarantee SET deadline = %s::date + 25, grace_until = %s::date + 30,"
            " sweep_on = %s::date + 10, hold_expires_at = %s::timestamptz + interval '12 days'"
            " WHERE id BETWEEN %s AND %s",
            [d, d, d, d, gbase + due, gbase + due + active_not_due - 1],
        )
        cur.execute(
            "UPDATE agencies_guarantee SET status = 'released', settled_at = now(),"
            " sweep_on = NULL WHERE id >= %s",
            [gbase + due + active_not_due],
        )
        for table in ("stores_refundform", "agencies_prepayment", "agencies_guarantee"):
            cur.execute(f"VACUUM ANALYZE {table}")
    return {
        "guarantees": Guarantee.objects.count(),
        "settled": settled,
        "active_not_due": active_not_due,
        "due": due,
        "build_s": time.perf_counter() - started,
    }


def _max_id(cur: Any, table: str) -> int:
    cur.execute(f"SELECT max(id) FROM {table}")
    value: int = cur.fetchone()[0]
    return value


def clone(cur: Any, table: str, template_id: int, count: int, overrides: dict[str, str]) -> None:
    """INSERT ``count`` copies of one row (new ids), some columns computed from ``g``."""
    if count <= 0:
        return
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
        " ORDER BY ordinal_position",
        [table],
    )
    columns = [c for (c,) in cur.fetchall() if c != "id"]
    select = ", ".join(overrides.get(c, f"t.{c}") for c in columns)
    cur.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select}"
        f" FROM {table} t, generate_series(1, %s) g WHERE t.id = %s ORDER BY g",
        [count, template_id],
    )


def sweep(due: int) -> dict[str, Any]:
    from django.db import connection
    from django.db.models import Q
    from django.utils import timezone

    from agencies.models import ACTIVE_GUARANTEE_STATUSES, Guarantee
    from buyrefund.services import guarantees_due_ids
    from buyrefund.tasks import guarantees_sweep_run

    day = timezone.localdate()
    statements = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[0] += 1
        return execute(sql, params, many, context)

    with connection.cursor() as cur:
        query = (
            Guarantee.objects.filter(status__in=ACTIVE_GUARANTEE_STATUSES)
            .filter(Q(sweep_on__lte=day) | Q(sweep_on__isnull=True))
            .order_by()
            .values_list("pk", flat=True)
        )
        sql, params = query.query.sql_with_params()
        cur.execute("EXPLAIN " + sql, params)
        plan = " / ".join(row[0].strip() for row in cur.fetchall()[:3])
    guarantees = Guarantee.objects.count()
    with connection.execute_wrapper(count):
        started = time.perf_counter()
        ids = guarantees_due_ids(day=day)
        select_ms = (time.perf_counter() - started) * 1000
        select_statements = statements[0]
        statements[0] = 0
        started = time.perf_counter()
        result = guarantees_sweep_run(day=day, fan_out=False)
        sweep_s = time.perf_counter() - started
        swept_statements = statements[0]
        started = time.perf_counter()
        again = guarantees_sweep_run(day=day, fan_out=False)
        second_ms = (time.perf_counter() - started) * 1000
    assert again["due"] == 0, again
    return {
        "guarantees": guarantees,
        "due_selected": len(ids),
        "select_ms": select_ms,
        "select_statements": select_statements,
        "sweep_s": sweep_s,
        "statements": swept_statements,
        "captured": len(result.get("captured", [])),  # type: ignore[arg-type]
        "declined": len(result.get("declined", [])),  # type: ignore[arg-type]
        "second_sweep_ms": second_ms,
        "plan": plan,
    }


def ledger_build(entries: int) -> dict[str, Any]:
    """``entries`` new entries, chains of 4 per record, hashed in SQL as ``ledger_append`` does.

    Set-based: one INSERT ... SELECT per position in the chain, each reading the hashes of
    the previous position; a sample is re-hashed in Python (``entry_hash_of``) to prove the
    SQL computes the very same hashes.
    """
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from core.ledger import entry_hash_of
    from core.models import LedgerEntry
    from core.signing import canonical_json, sha256_hex

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    per_record = 4
    records = entries // per_record
    at = timezone.now().astimezone(UTC).replace(microsecond=0)
    created = at.isoformat()
    sha = "encode(sha256(convert_to({}, 'UTF8')), 'hex')"
    payload = """'{"amount":"100.00","n":' || (g * 4 + %(seq)s - 1) || '}'"""
    digest = sha.format(payload)
    body = (
        """'{"action":"bench","actor_id":null,"actor_label":"bench","created_at":"'"""
        """ || %(created)s || '","from_status":"","payload_digest":"' || @DIGEST@"""
        """ || '","prev_hash":"' || @PREV@ || '","record_id":"' || g"""
        """ || '","record_type":"bench.record","seq":' || %(seq)s"""
        """ || ',"to_status":"done"}'"""
    )
    columns = (
        "record_type, record_id, seq, action, from_status, to_status, actor_id, actor_label,"
        " payload, payload_digest, prev_hash, entry_hash, created_at"
    )
    values = (
        "'bench.record', g::text, %(seq)s, 'bench', '', 'done', NULL, 'bench',"
        " ({payload})::jsonb, {digest}, {prev}, {hash}, %(at)s"
    )
    with transaction.atomic(), connection.cursor() as cur:
        for seq in range(1, per_record + 1):
            if seq == 1:
                prev, source = "''", "generate_series(0, %(last)s) g"
            else:
                prev = "p.entry_hash"
                source = (
                    "(SELECT record_id::bigint AS g, entry_hash FROM core_ledgerentry"
                    " WHERE record_type = 'bench.record' AND seq = %(prev_seq)s) p"
                )
            entry_hash = sha.format(
                "E'ledger-entry-v1\\n' || "
                + body.replace("@DIGEST@", digest).replace("@PREV@", prev)
            )
            select = values.format(payload=payload, digest=digest, prev=prev, hash=entry_hash)
            cur.execute(
                f"INSERT INTO core_ledgerentry ({columns}) SELECT {select} FROM {source}",
                {
                    "seq": seq,
                    "prev_seq": seq - 1,
                    "last": records - 1,
                    "created": created,
                    "at": at,
                },
            )
        cur.execute("ANALYZE core_ledgerentry")
    build_s = time.perf_counter() - started
    for sample in LedgerEntry.objects.order_by("?")[:50]:
        payload_value = {"amount": "100.00", "n": int(sample.record_id) * 4 + sample.seq - 1}
        assert sample.payload == payload_value, sample.payload
        assert sample.payload_digest == sha256_hex(canonical_json(payload_value))
        assert sample.entry_hash == entry_hash_of(sample), sample
    return {"entries": LedgerEntry.objects.count(), "build_s": build_s}


def ledger_seal_all() -> dict[str, Any]:
    from core.ledger import ledger_seal
    from core.models import LedgerSeal, LedgerSealItem

    started = time.perf_counter()
    while ledger_seal() is not None:
        pass
    seconds = time.perf_counter() - started
    entries = LedgerSealItem.objects.count()
    return {
        "entries": entries,
        "seals": LedgerSeal.objects.count(),
        "seconds": seconds,
        "rate": entries / seconds,
        "peak_rss_mib": peak_rss_mib(),
    }


def ledger_verify_all() -> dict[str, Any]:
    from core.ledger import ledger_verify

    started = time.perf_counter()
    result = ledger_verify()
    seconds = time.perf_counter() - started
    return {
        "entries": result.entries,
        "seals": result.seals,
        "intact": result.intact,
        "seconds": seconds,
        "rate": result.entries / seconds,
        "peak_rss_mib": peak_rss_mib(),
    }


def run_phase(args: argparse.Namespace) -> None:
    django_setup()
    if args.phase == "build":
        answer = build(args.total, args.due)
    elif args.phase == "sweep":
        answer = sweep(args.due)
    elif args.phase == "ledger-build":
        answer = ledger_build(args.entries)
    elif args.phase == "ledger-seal":
        answer = ledger_seal_all()
    else:
        answer = ledger_verify_all()
    print(json.dumps(answer))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--guarantees", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument(
        "--parts", default="sweep,ledger", help="sweep, ledger or both (comma-separated)"
    )
    parser.add_argument("--figures", help="also save the figures (JSON) to this file")
    parser.add_argument(
        "--report",
        nargs="+",
        metavar="FIGURES",
        help="no run: merge saved figure files (one per part run apart) into the report",
    )
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--total", type=int, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.phase:
        run_phase(parsed)
    elif parsed.report:
        merged: dict[str, Any] = {}
        for name in parsed.report:
            part = json.loads(Path(name).read_text())
            merged = {**part, **merged} if merged else part
        finish(merged, parsed.write)
    else:
        main(parsed)

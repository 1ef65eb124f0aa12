"""Celery workers under faults: kill -9 mid-task, Redis down for a minute under load.

Money is counted at the gateway: every key's executions (a sandbox row goes
from not executed to succeeded once) and every call (``calls``), never rows
alone. Each test prints its figures (kills, outage, double movements, stuck
records, seconds to recover).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Sum

from agencies.models import (
    Guarantee,
    GuaranteeOperation,
    OperationStatus,
    Prepayment,
    SandboxCardOperation,
)
from buyrefund.services import _sweep_open, prepayment_pay
from core.ledger import ledger_verify
from core.models import Heartbeat
from tests.factories import line, make_form, traveler
from tests.faults.conftest import (
    OUTAGE_SECONDS,
    ROOT,
    celery_worker,
    client,
    process_env,
    wait_for,
)

pytestmark = [pytest.mark.faults, pytest.mark.postgres]


def prepaid_guarantees(demo: Any, count: int, token: str = "tok_visa") -> list[Guarantee]:
    """``count`` Buy & Refund forms prepaid by Alipay (paid at once) with live guarantees."""
    guarantees = []
    for i in range(count):
        form = make_form(
            demo.store_sh,
            demo.clerk,
            line(unit_price="3600.00"),
            who=traveler(name=f"Marie Dupont{i}" if i else "Marie Dupont"),
            buy_and_refund=True,
        )
        prepayment = prepayment_pay(
            form_number=form.number,
            clerk=demo.clerk,
            store=demo.store_sh,
            card_token=token,
            card_holder_name=form.traveler_name,
            payout_method="alipay",
        )
        guarantees.append(Guarantee.objects.get(prepayment=prepayment))
    return guarantees


def money_movements(kinds: tuple[str, ...] = ("capture", "charge")) -> Counter[str]:
    """Executed gateway operations of these kinds, per card token holder's guarantee key."""
    executed = SandboxCardOperation.objects.filter(
        kind__in=kinds, status=SandboxCardOperation.Status.SUCCEEDED
    )
    # key = guarantee-<prepayment uid>-<kind>[-n]: the prepayment uid names the guarantee
    return Counter(row.key.split("-capture")[0].split("-charge")[0] for row in executed)


def assert_settled_once(guarantees: list[Guarantee]) -> dict[str, int]:
    """Every guarantee captured exactly once; nothing pending; the ledger intact."""
    movements = money_movements()
    doubles = sum(count - 1 for count in movements.values() if count > 1)
    stuck = GuaranteeOperation.objects.filter(status=OperationStatus.PENDING).count()
    for guarantee in guarantees:
        guarantee.refresh_from_db()
        assert guarantee.status == "captured", guarantee
        assert str(guarantee.captured_amount) == str(guarantee.amount)
    assert doubles == 0, movements
    assert len(movements) == len(guarantees)
    assert stuck == 0
    assert ledger_verify().intact
    calls = SandboxCardOperation.objects.filter(kind__in=["capture", "charge"]).aggregate(
        n=Sum("calls")
    )["n"]
    return {"double_movements": doubles, "stuck": stuck, "gateway_calls": calls or 0}


def test_worker_killed_mid_sweep_its_task_returns_and_captures_once(
    postgres_only: None, demo: Any, redis: Any, processes: Any
) -> None:
    # given three guarantees past their grace, and a worker whose gateway answers slowly
    guarantees = prepaid_guarantees(demo, 3)
    day = max(g.grace_until for g in guarantees) + timedelta(days=1)
    broker = f"{redis.url}/0"
    doomed = celery_worker(processes, "doomed", broker, SANDBOX_GATEWAY_DELAY_SECONDS="3")
    # when the sweep task is running (the first capture executed, its answer not back)
    client(broker).send_task("agencies.tasks.guarantees_sweep_task", kwargs={"today": str(day)})
    wait_for(
        lambda: SandboxCardOperation.objects.filter(
            kind__in=["capture", "charge"], status="succeeded"
        ).exists(),
        timeout=60,
        what="the first capture to execute",
    )
    doomed.kill9()
    killed_at = time.monotonic()
    # then another worker gets the task back (visibility timeout) and finishes it once
    celery_worker(processes, "survivor", broker)
    wait_for(
        lambda: Guarantee.objects.filter(status="captured").count() == len(guarantees),
        timeout=120,
        what="every guarantee captured after the kill",
    )
    recovered = time.monotonic() - killed_at
    figures = assert_settled_once(guarantees)
    print(f"FAULTS worker kill -9 mid-task: kills=1 recovered_in={recovered:.1f}s {figures}")


def test_redis_down_a_minute_under_load_workers_resume_alone(
    postgres_only: None, demo: Any, redis: Any, processes: Any
) -> None:
    # given eight captures due, queued as tasks, and two busy workers (slow gateway)
    guarantees = prepaid_guarantees(demo, 8)
    flaky = prepaid_guarantees(demo, 1, token="tok_flaky")[0]  # the gateway times out on it
    day = max(g.grace_until for g in [*guarantees, flaky]) + timedelta(days=1)
    operations = [_sweep_open(g.pk, day=day) for g in guarantees]
    GuaranteeOperation.objects.update(lease_expires_at=None)  # opened here, sent by workers
    broker = f"{redis.url}/0"
    workers = [
        celery_worker(processes, f"w{n}", broker, SANDBOX_GATEWAY_DELAY_SECONDS="2") for n in (1, 2)
    ]
    sender = client(broker)
    for operation in operations:
        assert operation is not None
        sender.send_task("agencies.tasks.guarantee_operation_task", args=(operation.pk,))
    wait_for(
        lambda: SandboxCardOperation.objects.filter(kind__in=["capture", "charge"]).count() >= 2,
        timeout=60,
        what="the workers to have tasks in hand",
    )
    # when Redis is killed for a minute, tasks in hand
    redis.kill()
    down_at = time.monotonic()
    # ... the sweep command, which enqueues retries, degrades instead of failing
    sweep = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "guarantees", "sweep", "--today", str(day)],
        cwd=ROOT,
        env=process_env(f"{redis.url}/0", CELERY_BROKER_CONNECTION_TIMEOUT="2"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert sweep.returncode == 0, sweep.stderr
    assert "will be retried by the next sweep" in sweep.stderr
    remaining = OUTAGE_SECONDS - (time.monotonic() - down_at)
    if remaining > 0:
        time.sleep(remaining)
    outage = time.monotonic() - down_at
    redis.start()
    up_at = time.monotonic()
    # then both workers resume consuming by themselves: a new task is run
    Heartbeat.objects.all().delete()
    sender.send_task("core.tasks.heartbeat_task")
    wait_for(Heartbeat.objects.exists, timeout=90, what="a new task consumed after the outage")
    recovered = time.monotonic() - up_at
    # ... and every capture is settled, each once
    wait_for(
        lambda: all(
            Guarantee.objects.filter(pk__in=[g.pk for g in guarantees], status="captured")
            .values_list("pk", flat=True)
            .count()
            == len(guarantees)
            for _ in [0]
        ),
        timeout=150,
        what="every capture settled after the outage",
    )
    for worker in workers:
        assert worker.alive, worker.log()[-4000:]
        assert "Unrecoverable error" not in worker.log()
    # the flaky guarantee's unanswered capture stays pending under its key, for the next sweep
    flaky_pending = GuaranteeOperation.objects.filter(guarantee=flaky, status="pending")
    assert flaky_pending.count() <= 1
    GuaranteeOperation.objects.filter(guarantee=flaky).update(lease_expires_at=None)
    figures = assert_settled_once_except(guarantees, flaky)
    print(
        f"FAULTS redis kill -9 under load: outage={outage:.0f}s workers_alive=2/2"
        f" recovered_in={recovered:.1f}s {figures}"
    )


def assert_settled_once_except(guarantees: list[Guarantee], pending: Guarantee) -> dict[str, int]:
    """As assert_settled_once, the ``pending`` guarantee's own operation set aside."""
    from buyrefund.services import guarantees_sweep

    day = pending.grace_until + timedelta(days=1)
    guarantees_sweep(today=day)  # the next sweep: sends the flaky capture (third call succeeds)
    guarantees_sweep(today=day)
    pending.refresh_from_db()
    return assert_settled_once([*guarantees, pending])


def test_prepayments_are_counted_by_gateway_calls(postgres_only: None, demo: Any) -> None:
    """The counting helpers see calls, not rows (a replay is one row, two calls)."""
    guarantee = prepaid_guarantees(demo, 1)[0]
    row = SandboxCardOperation.objects.get(kind="authorize")
    assert row.calls == 1
    assert Prepayment.objects.get(pk=guarantee.prepayment_id).status == "paid"

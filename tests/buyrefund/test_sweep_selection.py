"""The sweep reads only the guarantees due (``sweep_on``), and hands chunks to the workers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError

from agencies.models import Guarantee, GuaranteeStatus, PrepaymentStatus
from buyrefund import tasks
from buyrefund.services import (
    REAUTHORIZE_WITHIN_DAYS,
    guarantees_due_ids,
    guarantees_sweep,
    prepayment_handover,
)
from tests.agencies.conftest import verify
from tests.buyrefund.test_guarantees import br_form, executed, guarantee_of, pay


def paid_guarantees(demo: Any, count: int) -> list[Guarantee]:
    guarantees = []
    for _ in range(count):
        form = br_form(demo)
        pay(demo, form)
        guarantees.append(guarantee_of(form))
    return guarantees


def test_a_new_guarantee_is_looked_at_once_then_on_the_day_time_makes_it_due(demo: Any) -> None:
    (guarantee,) = paid_guarantees(demo, 1)
    today = timezone.localdate()
    assert guarantee.sweep_on is None
    assert guarantees_due_ids(day=today) == [guarantee.pk]
    guarantees_sweep(today=today)  # nothing due: the next day to look is stored
    guarantee.refresh_from_db()
    assert guarantee.hold_expires_at is not None
    expiring = timezone.localdate(guarantee.hold_expires_at)
    sweep_on = guarantee.sweep_on
    assert sweep_on is not None
    assert sweep_on == min(
        expiring - timedelta(days=REAUTHORIZE_WITHIN_DAYS),
        guarantee.grace_until + timedelta(days=1),
    )
    day_before = sweep_on - timedelta(days=1)
    assert guarantees_due_ids(day=day_before) == []
    assert guarantees_sweep(today=day_before).reauthorized == []
    # On the day, the hold about to expire is re-authorized (and the old one released).
    report = guarantees_sweep(today=sweep_on)
    assert report.reauthorized == [guarantee.pk]
    guarantee.refresh_from_db()
    assert guarantee.status == GuaranteeStatus.REAUTHORIZED
    assert guarantee.sweep_on is not None and guarantee.sweep_on > report.day


def test_the_sweeps_statements_do_not_grow_with_guarantees_not_due(demo: Any) -> None:
    today = timezone.localdate()
    paid_guarantees(demo, 2)
    guarantees_sweep(today=today)
    with CaptureQueriesContext(connection) as few:
        assert guarantees_sweep(today=today).as_dict()["released"] == []
    paid_guarantees(demo, 4)
    released = paid_guarantees(demo, 1)[0]
    released.status = GuaranteeStatus.RELEASED  # settled rows are not read either
    released.save(update_fields=["status"])
    guarantees_sweep(today=today)
    with CaptureQueriesContext(connection) as more:
        guarantees_sweep(today=today)
    assert len(few) == len(more) == 2  # the two indexed selections, nothing per row


def test_customs_verification_makes_the_guarantee_due_at_once(demo: Any) -> None:
    (guarantee,) = paid_guarantees(demo, 1)
    today = timezone.localdate()
    guarantees_sweep(today=today)
    guarantee.refresh_from_db()
    assert guarantee.sweep_on is not None and guarantee.sweep_on > today
    verify(guarantee.form, demo)
    guarantee.refresh_from_db()
    assert guarantee.sweep_on is None
    assert guarantees_sweep(today=today).released == [guarantee.pk]
    assert guarantees_due_ids(day=today) == []


def test_cash_handover_makes_the_guarantee_due_again(demo: Any) -> None:
    form = br_form(demo)
    pay(demo, form, handover=False)
    guarantee = guarantee_of(form)
    assert guarantee.prepayment.status == PrepaymentStatus.AWAITING_HANDOVER
    after_grace = guarantee.grace_until + timedelta(days=1)
    # Awaiting handover: never captured; the sweep looks again only when time says so.
    assert guarantees_sweep(today=guarantee.grace_until).captured == []
    guarantee.refresh_from_db()
    assert guarantee.sweep_on is not None
    prepayment_handover(form_number=form.number, clerk=demo.clerk, store=demo.store_sh)
    guarantee.refresh_from_db()
    assert guarantee.sweep_on is None
    assert guarantees_sweep(today=after_grace).captured == [guarantee.pk]


def due_day(guarantees: list[Guarantee]) -> str:
    return (max(g.grace_until for g in guarantees) + timedelta(days=1)).isoformat()


def test_the_task_hands_each_chunk_to_its_own_task_and_a_redelivery_charges_nothing_twice(
    demo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    guarantees = paid_guarantees(demo, 5)
    monkeypatch.setattr(tasks, "SWEEP_CHUNK", 2)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(
        tasks.guarantees_sweep_chunk_task,
        "apply_async",
        lambda kwargs, **_: sent.append(kwargs),
    )
    day = due_day(guarantees)
    result = tasks.guarantees_sweep_task(today=day)
    assert (result["due"], result["chunks"], result["enqueued"]) == (5, 3, 3)
    assert sorted(i for chunk in sent for i in chunk["ids"]) == sorted(g.pk for g in guarantees)
    assert not executed("capture") and not executed("charge")
    captured: list[int] = []
    for kwargs in sent:
        part = tasks.guarantees_sweep_chunk_task(**kwargs)["captured"]
        assert isinstance(part, list)
        captured += part
    assert sorted(captured) == sorted(g.pk for g in guarantees)
    # A chunk delivered again (a worker died before acking it) sends nothing twice.
    assert tasks.guarantees_sweep_chunk_task(**sent[0])["captured"] == []
    assert len(executed("capture")) + len(executed("charge")) == 5
    assert tasks.guarantees_sweep_task(today=day)["due"] == 0


def test_a_chunk_the_broker_does_not_take_is_swept_in_place(
    demo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    guarantees = paid_guarantees(demo, 3)
    monkeypatch.setattr(tasks, "SWEEP_CHUNK", 2)

    def broker_down(**_: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.guarantees_sweep_chunk_task, "apply_async", broker_down)
    result = tasks.guarantees_sweep_task(today=due_day(guarantees))
    assert (result["chunks"], result["enqueued"]) == (2, 0)
    captured = result["captured"]
    assert isinstance(captured, list)
    assert sorted(captured) == sorted(g.pk for g in guarantees)
    assert len(executed("capture")) + len(executed("charge")) == 3

"""Buy & Refund under concurrency (PostgreSQL): one prepayment per form, one capture each."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Sum

from agencies.models import Guarantee, Prepayment, SandboxCardOperation
from buyrefund.services import PrepaymentExists, guarantees_sweep, prepayment_pay
from core.ledger import ledger_verify
from tests.agencies.test_concurrency import fire, in_thread
from tests.factories import line, make_form, traveler

N = 12


@pytest.mark.postgres
def test_postgres_racing_prepayments_pay_once(postgres_only: None, demo: Any) -> None:
    form = make_form(
        demo.store_sh, demo.clerk, line(unit_price="3600.00"), who=traveler(), buy_and_refund=True
    )
    results = fire(
        N,
        lambda i: prepayment_pay(
            form_number=form.number,
            clerk=demo.clerk,
            store=demo.store_sh,
            card_token="tok_visa",
            card_holder_name="Marie Dupont",
            payout_method="cash",
        ),
    )
    kinds = Counter(type(r).__name__ for r in results)
    # The request that creates it is answered with it (hand over the cash); every other
    # one is told the true state (409 with the prepayment's status), never "hand over".
    assert not [
        r for r in results if isinstance(r, Exception) and not isinstance(r, PrepaymentExists)
    ]
    assert kinds["Prepayment"] == 1
    assert {r.extra["prepayment"] for r in results if isinstance(r, PrepaymentExists)} <= {
        "pending",
        "awaiting_handover",
    }

    def state() -> tuple[Any, ...]:
        return (
            Prepayment.objects.count(),
            Prepayment.objects.get().status,
            SandboxCardOperation.objects.filter(status="succeeded").count(),
            SandboxCardOperation.objects.aggregate(calls=Sum("calls"))["calls"],
            ledger_verify().intact,
        )

    # one gateway CALL (not merely one row: the sandbox folds repeated keys into one)
    assert in_thread(state) == (1, "awaiting_handover", 1, 1, True)


@pytest.mark.postgres
def test_postgres_racing_sweeps_capture_once(postgres_only: None, demo: Any) -> None:
    form = make_form(
        demo.store_sh, demo.clerk, line(unit_price="3600.00"), who=traveler(), buy_and_refund=True
    )
    prepayment_pay(
        form_number=form.number,
        clerk=demo.clerk,
        store=demo.store_sh,
        card_token="tok_visa",
        card_holder_name="Marie Dupont",
        payout_method="alipay",
    )
    day = Guarantee.objects.get().grace_until + timedelta(days=1)
    results = fire(N, lambda i: guarantees_sweep(today=day))
    assert not [r for r in results if isinstance(r, Exception)], results

    def state() -> tuple[Any, ...]:
        guarantee = Guarantee.objects.get()
        captures = SandboxCardOperation.objects.filter(kind__in=["capture", "charge"])
        return (
            guarantee.status,
            str(guarantee.captured_amount),
            captures.count(),
            captures.aggregate(calls=Sum("calls"))["calls"],
            ledger_verify().intact,
        )

    # the gateway was CALLED once for the guarantee, whatever twelve sweeps did at once
    assert in_thread(state) == ("captured", "324.00", 1, 1, True)

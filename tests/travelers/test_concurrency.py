"""The automatic payment of a pre-chosen transfer racing the counter: one payout, on PostgreSQL.

Both go through agencies' ``refund_pay``: the form row lock and the one-live-refund
constraint decide who pays; the loser is told the form is paid (or being paid) and the
pre-choice records the outcome (``paid`` when the automatic payment won, ``lapsed`` when
the counter did).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from agencies.models import Refund, SandboxTransfer
from core.ledger import ledger_verify
from tests.agencies.conftest import GOOD_CARD, verify
from tests.agencies.test_concurrency import fire
from tests.travelers.conftest import ALIPAY, DOCUMENT
from travelers.models import PayoutPreChoice
from travelers.services import payout_choice_set, pre_choice_pay

ROUNDS = 3
THREADS = 8  # half automatic (a redelivered task, the safety net), half agents


@pytest.mark.postgres
def test_counter_and_automatic_payment_racing_pay_once(
    postgres_only: None, demo: Any, issued: Any
) -> None:
    from agencies.services import refund_pay

    outcomes: Counter[str] = Counter()
    for _ in range(ROUNDS):
        form = issued()
        payout_choice_set(
            form_number=form.number,
            document_number=DOCUMENT,
            payout_method="alipay",
            payout_account=ALIPAY,
        )
        verify(form, demo)

        def attempt(i: int, form: Any = form) -> str:
            if i % 2 == 0:
                choice = pre_choice_pay(form_id=form.pk)
                return f"auto:{choice.status if choice else None}"
            try:
                refund = refund_pay(
                    form_number=form.number,
                    qr=form.qr_payload,
                    document_number=DOCUMENT,
                    payout_method="bank_card",
                    payout_account=GOOD_CARD,
                    agent=demo.agent,
                    agency=demo.agency,
                )
            except Exception as exc:
                return f"counter:{getattr(exc, 'code', type(exc).__name__)}"
            return f"counter:{refund.status}"

        results = fire(THREADS, attempt)
        assert not [r for r in results if isinstance(r, BaseException)], results
        refunds = list(Refund.objects.filter(form=form))
        assert len(refunds) == 1, results
        [refund] = refunds
        transfers = SandboxTransfer.objects.filter(key__startswith=f"refund-{refund.uid}-")
        assert [t.status for t in transfers] == ["succeeded"], results
        choice = PayoutPreChoice.objects.get(form=form)
        winner = "auto" if refund.agent.username == "auto-payout" else "counter"
        assert choice.status == ("paid" if winner == "auto" else "lapsed"), (results, winner)
        assert choice.refund_id == refund.pk
        outcomes[winner] += 1
        counter_paid = [r for r in results if r == "counter:paid"]
        assert len(counter_paid) == (1 if winner == "counter" else 0), results
    assert sum(outcomes.values()) == ROUNDS
    assert SandboxTransfer.objects.filter(status="succeeded").count() == ROUNDS
    assert ledger_verify().intact

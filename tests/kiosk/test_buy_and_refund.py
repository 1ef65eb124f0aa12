"""Buy & Refund forms at the kiosk: paid at the store, so no payout choice; settled amounts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from buyrefund.services import guarantees_sweep, prepayment_pay
from tests.factories import line
from tests.kiosk.test_api import verify

pytestmark = pytest.mark.django_db


def prepaid(issued: Any, demo: Any, *lines: Any) -> Any:
    form = issued(*(lines or [line(unit_price="3600.00")]), buy_and_refund=True)
    prepayment_pay(
        form_number=form.number,
        clerk=demo.clerk,
        store=demo.store_sh,
        card_token="tok_visa",
        card_holder_name="Marie Dupont",
        payout_method="alipay",  # paid at once (cash waits for the clerk's handover)
    )
    return form


def test_prepaid_form_shows_the_deadline_and_no_payout_choice(
    issued: Any, lookup: Any, demo: Any
) -> None:
    form = prepaid(issued, demo)
    body = lookup(form.number).json()
    assert body["status"] == "issued"
    assert body["net_refund"] == "324.00"
    assert body["next_step"]["code"] == "prepaid"
    deadline = form.guarantees.get().deadline.isoformat()
    assert f"leave China by {deadline}" in body["next_step"]["text"]
    assert body["payout_options"] == []


def test_cash_prepayment_awaiting_handover_is_prepaid_at_the_kiosk(
    issued: Any, lookup: Any, demo: Any
) -> None:
    # given cash given out at the store that the clerk has not confirmed yet
    form = issued(line(unit_price="3600.00"), buy_and_refund=True)
    prepayment = prepayment_pay(
        form_number=form.number,
        clerk=demo.clerk,
        store=demo.store_sh,
        card_token="tok_visa",
        card_holder_name="Marie Dupont",
        payout_method="cash",
    )
    assert prepayment.status == "awaiting_handover"
    # then the kiosk shows a prepaid form: the deadline, no counter payout
    body = lookup(form.number).json()
    assert body["next_step"]["code"] == "prepaid"
    assert body["net_refund"] == "324.00"
    assert body["payout_options"] == []


def test_prepaid_verified_then_released_is_refunded(issued: Any, lookup: Any, demo: Any) -> None:
    form = prepaid(issued, demo)
    verify(form, demo)
    body = lookup(form.number, lang="zh-hans").json()
    assert body["next_step"]["code"] == "prepaid_verified"
    assert body["payout_options"] == []
    guarantees_sweep(today=timezone.localdate())
    body = lookup(form.number).json()
    assert body["status"] == "refunded"
    assert body["net_refund"] == "324.00"
    assert body["next_step"]["text"].startswith("Your refund of RMB 324.00 has been paid")


def test_prepaid_partial_shows_the_refund_on_verified_goods(
    issued: Any, lookup: Any, demo: Any
) -> None:
    # Two at 1,800: prepaid 324.00; one verified → 162.00, the rest charged back to the card.
    form = prepaid(issued, demo, line(quantity="2", unit_price="1800.00"))
    verify(form, demo, quantities={form.lines.get().pk: Decimal("1")})
    body = lookup(form.number).json()
    assert body["next_step"]["code"] == "prepaid_partial"
    assert body["net_refund"] == "162.00"
    guarantees_sweep(today=timezone.localdate())
    body = lookup(form.number).json()
    assert body["status"] == "refunded"
    assert body["net_refund"] == "162.00"

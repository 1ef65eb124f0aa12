"""The payout adapter: sandbox idempotency, failed transfers stay retryable, never paid twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.exceptions import PayoutDeclined, PayoutUnavailable, RefundRetryRequired
from agencies.models import Refund, SandboxTransfer
from agencies.payouts import (
    PayoutError,
    PayoutRequest,
    PayoutResult,
    SandboxPayoutGateway,
    payout_gateway,
)
from agencies.services import (
    _Outcome,
    _refund_settle_locked,
    refund_pay,
    refund_retry,
    refunds_resend_stale,
)
from agencies.tasks import refunds_resend_stale_task
from core.ledger import ledger_append, ledger_verify, record_history
from stores.models import RefundForm
from tests.agencies.conftest import (
    DECLINED_CARD,
    DOCUMENT,
    GOOD_CARD,
    LOST_ANSWER_CARD,
    UNAVAILABLE_ONCE_CARD,
)


def pay(form: Any, demo: Any, account: str, method: str = "bank_card") -> Refund:
    return refund_pay(
        form_number=form.number,
        qr=form.qr_payload,
        document_number=DOCUMENT,
        payout_method=method,
        payout_account=account,
        agent=demo.agent,
        agency=demo.agency,
    )


def order(key: str, account: str = GOOD_CARD, amount: str = "18.00") -> PayoutRequest:
    return PayoutRequest(
        key=key, method="bank_card", account=account, account_masked="x", amount=Decimal(amount)
    )


def test_sandbox_pays_once_per_key(db):
    gateway = SandboxPayoutGateway()
    first = gateway.transfer(order("k-1"))
    again = gateway.transfer(order("k-1"))
    assert first.succeeded and again == first
    row = SandboxTransfer.objects.get()
    assert (row.status, row.calls) == ("succeeded", 2)


def test_sandbox_refuses_a_key_reused_for_another_transfer(db):
    gateway = SandboxPayoutGateway()
    assert gateway.transfer(order("k-1")).succeeded
    other = gateway.transfer(order("k-1", amount="99.00"))
    assert (other.succeeded, other.code) == (False, "idempotency_key_mismatch")
    assert SandboxTransfer.objects.get().amount == Decimal("18.00")


def test_sandbox_test_accounts(db):
    gateway = SandboxPayoutGateway()
    assert gateway.transfer(order("d", DECLINED_CARD)).code == "declined"
    with pytest.raises(PayoutError):
        gateway.transfer(order("lost", LOST_ANSWER_CARD))
    # the lost answer was a payment: the retry learns it, and nothing more is paid
    assert SandboxTransfer.objects.get(key="lost").status == "succeeded"
    assert gateway.transfer(order("lost", LOST_ANSWER_CARD)).succeeded
    with pytest.raises(PayoutError):
        gateway.transfer(order("down", UNAVAILABLE_ONCE_CARD))
    assert SandboxTransfer.objects.get(key="down").status == "not_executed"
    assert gateway.transfer(order("down", UNAVAILABLE_ONCE_CARD)).succeeded


def test_gateway_is_chosen_by_settings(settings):
    assert isinstance(payout_gateway(), SandboxPayoutGateway)
    settings.PAYOUT_GATEWAY = "tests.agencies.test_payouts.RecordingGateway"
    assert isinstance(payout_gateway(), RecordingGateway)


def test_unavailable_transfer_leaves_the_refund_failed_and_a_retry_pays_once(demo, verified_form):
    form = verified_form()
    # when the provider is down on the first call
    with pytest.raises(PayoutUnavailable) as error:
        pay(form, demo, UNAVAILABLE_ONCE_CARD)
    assert error.value.status_code == 503
    refund = Refund.objects.get()
    assert (refund.status, refund.failure_code, refund.failure_definite) == (
        "failed",
        "payout_unavailable",
        False,
    )
    assert error.value.extra == {"refund": refund.pk, "status": "failed", "retryable": True}
    form.refresh_from_db()
    assert form.status == "verified"
    # then the agent presses pay again: same refund, same payout key, paid once
    again = pay(form, demo, UNAVAILABLE_ONCE_CARD)
    assert (again.pk, again.status, again.payout_key) == (refund.pk, "paid", refund.payout_key)
    transfer = SandboxTransfer.objects.get()
    assert (transfer.status, transfer.calls) == ("succeeded", 2)
    form.refresh_from_db()
    assert form.status == "refunded"
    assert [e.action for e in record_history(refund)] == [
        "refund_created",
        "refund_failed",
        "refund_resent",
        "refund_paid",
    ]
    assert ledger_verify().intact


def test_lost_answer_is_resolved_by_the_retry_without_paying_twice(demo, verified_form):
    form = verified_form()
    with pytest.raises(PayoutUnavailable):
        pay(form, demo, LOST_ANSWER_CARD)
    refund = Refund.objects.get()
    assert refund.status == "failed"
    # the money did move at the provider; only a re-send with the same key may follow
    with pytest.raises(RefundRetryRequired):
        pay(form, demo, GOOD_CARD)
    retried = refund_retry(refund_id=refund.pk, actor=demo.agent, agency=demo.agency)
    transfer = SandboxTransfer.objects.get()
    assert (retried.status, retried.payout_reference) == ("paid", transfer.reference)
    assert transfer.calls == 2


def test_declined_transfer_can_be_paid_to_another_account(demo, verified_form):
    form = verified_form()
    with pytest.raises(PayoutDeclined) as error:
        pay(form, demo, DECLINED_CARD)
    assert error.value.status_code == 422
    refund = Refund.objects.get()
    assert (refund.status, refund.failure_definite) == ("failed", True)
    # re-sending to the same account is declined again (same key, same answer)
    with pytest.raises(PayoutDeclined):
        pay(form, demo, DECLINED_CARD)
    # another account gets a new payout key and pays once
    paid = pay(form, demo, "marie@example.com", method="alipay")
    assert (paid.pk, paid.status, paid.payout_attempt) == (refund.pk, "paid", 2)
    assert paid.payout_key.endswith("-2")
    assert list(SandboxTransfer.objects.order_by("id").values_list("status", flat=True)) == [
        "declined",
        "succeeded",
    ]


def test_retry_through_the_api(demo, verified_form, api):
    form = verified_form()
    client = api(demo.agent)
    response = client.post(
        "/api/v1/refunds/",
        {
            "form": form.number,
            "qr": form.qr_payload,
            "document_number": DOCUMENT,
            "payout_method": "bank_card",
            "payout_account": UNAVAILABLE_ONCE_CARD,
        },
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (503, "payout_unavailable")
    refund_id = response.json()["extra"]["refund"]
    assert client.get(f"/api/v1/refunds/{refund_id}/").json()["retryable"] is True
    retried = client.post(f"/api/v1/refunds/{refund_id}/retry/")
    assert (retried.status_code, retried.json()["status"]) == (200, "paid")
    again = client.post(f"/api/v1/refunds/{refund_id}/retry/")
    assert (again.status_code, again.json()["code"]) == (409, "refund_not_retryable")
    assert SandboxTransfer.objects.get().calls == 2


def test_sweep_resends_a_transfer_left_pending_by_a_crash(demo, verified_form, monkeypatch):
    # given the process died after the provider paid but before the refund was marked paid
    form = verified_form()
    monkeypatch.setattr(
        "agencies.services._refund_settle", lambda *a, **k: (_ for _ in ()).throw(SystemExit)
    )
    with pytest.raises(SystemExit):
        pay(form, demo, GOOD_CARD)
    monkeypatch.undo()
    refund = Refund.objects.get()
    assert refund.status == "pending"
    assert SandboxTransfer.objects.get().status == "succeeded"
    # a fresh pending refund is left alone (its request may still be running)
    assert refunds_resend_stale() == 0
    Refund.objects.filter(pk=refund.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    # when the periodic sweep runs
    assert refunds_resend_stale_task() == 1
    refund.refresh_from_db()
    assert refund.status == "paid"
    assert SandboxTransfer.objects.get().calls == 2


class RecordingGateway:
    """Pays, remembering whether a database transaction was open during the call."""

    calls: ClassVar[list[bool]] = []

    def transfer(self, request: PayoutRequest) -> PayoutResult:
        RecordingGateway.calls.append(connection.in_atomic_block)
        return PayoutResult(succeeded=True, reference="REC-1")


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_during_the_payout_call(demo, verified_form, settings):
    settings.PAYOUT_GATEWAY = "tests.agencies.test_payouts.RecordingGateway"
    RecordingGateway.calls.clear()
    form = verified_form()
    refund = pay(form, demo, GOOD_CARD)
    assert (refund.status, refund.payout_reference) == ("paid", "REC-1")
    assert RecordingGateway.calls == [False]


def test_sweep_reconciles_a_transfer_whose_answer_was_lost(demo, verified_form):
    # given the provider paid but its answer was lost: the refund is failed, outcome unknown
    form = verified_form()
    with pytest.raises(PayoutUnavailable):
        pay(form, demo, LOST_ANSWER_CARD)
    refund = Refund.objects.get()
    assert (refund.status, refund.failure_definite) == ("failed", False)
    assert SandboxTransfer.objects.get().status == "succeeded"
    Refund.objects.filter(pk=refund.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    # when the periodic sweep runs, nobody having pressed anything
    assert refunds_resend_stale_task() == 1
    # then the books match the provider: paid once, form refunded
    refund.refresh_from_db()
    form.refresh_from_db()
    assert (refund.status, form.status) == ("paid", "refunded")
    transfer = SandboxTransfer.objects.get()
    assert (transfer.status, transfer.calls) == ("succeeded", 2)


def test_sweep_leaves_a_declined_transfer_alone(demo, verified_form):
    form = verified_form()
    with pytest.raises(PayoutDeclined):
        pay(form, demo, DECLINED_CARD)
    Refund.objects.update(updated_at=timezone.now() - timedelta(minutes=10))
    assert refunds_resend_stale() == 0
    assert SandboxTransfer.objects.get().calls == 1


# --- Transaction 2 writes the rows transaction 1 left, unless they moved meanwhile -------


class FormMovedGateway:
    """Pays; meanwhile another writer appends to the form's ledger (its row head moves)."""

    def transfer(self, request: PayoutRequest) -> PayoutResult:
        with transaction.atomic():
            form = RefundForm.objects.select_for_update().get(refunds__payout_key=request.key)
            ledger_append(record=form, action="form_noted", actor="system", payload={})
        return PayoutResult(succeeded=True, reference="MOVED-1")


class SettledMeanwhileGateway:
    """Pays; before its answer is recorded the system settled the transfer itself (as the
    stale-transfer sweep does, on the locking path)."""

    def transfer(self, request: PayoutRequest) -> PayoutResult:
        refund = Refund.objects.get(payout_key=request.key)
        outcome = _Outcome(actor="system", paid=True, reference="SWEPT-1")
        _refund_settle_locked(refund.pk, form_id=refund.form_id, outcome=outcome)
        return PayoutResult(succeeded=True, reference="SWEPT-1")


def test_settle_rereads_the_rows_when_the_form_moved_after_transaction_one(
    demo, verified_form, settings
):
    settings.PAYOUT_GATEWAY = "tests.agencies.test_payouts.FormMovedGateway"
    form = verified_form()
    refund = pay(form, demo, GOOD_CARD)
    assert (refund.status, refund.payout_reference) == ("paid", "MOVED-1")
    assert Refund.objects.get().status == "paid"
    form.refresh_from_db()
    assert form.status == "refunded"
    # the refund's entry chains on the form's new head, not on the one read before
    assert [e.action for e in record_history(form)][-2:] == ["form_noted", "form_refunded"]
    assert [e.action for e in record_history(refund)] == ["refund_created", "refund_paid"]
    assert ledger_verify().intact


def test_settle_leaves_a_transfer_the_system_settled_meanwhile(demo, verified_form, settings):
    settings.PAYOUT_GATEWAY = "tests.agencies.test_payouts.SettledMeanwhileGateway"
    form = verified_form()
    refund = pay(form, demo, GOOD_CARD)
    # paid once, recorded once: the request's own answer changes nothing more
    assert (refund.status, refund.payout_reference) == ("paid", "SWEPT-1")
    assert [e.action for e in record_history(refund)] == ["refund_created", "refund_paid"]
    form.refresh_from_db()
    assert [e.action for e in record_history(form)].count("form_refunded") == 1
    assert ledger_verify().intact


def test_sandbox_replays_a_repeated_key_in_one_statement(db):
    gateway = SandboxPayoutGateway()
    gateway.transfer(order("k-1"))
    with CaptureQueriesContext(connection) as captured:
        again = gateway.transfer(order("k-1"))
    assert again.succeeded
    assert len(captured.captured_queries) == 1

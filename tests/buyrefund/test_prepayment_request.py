"""The prepayment request (issue 12): the same request again gets the same answer, whatever
became of its first attempt; the clerk's own settle writes the rows in hand and gives way to
another process that settled first; the sandbox gateway is one statement per call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.cards import CardRequest, CardResult, SandboxCardGateway
from agencies.models import (
    REQUEST_ATTEMPT_PREFIX,
    Guarantee,
    GuaranteeOperation,
    Prepayment,
    PrepaymentStatus,
    SandboxCardOperation,
)
from buyrefund.services import guarantees_sweep, prepayment_pay
from core.api.idempotency import current_attempt
from core.ledger import ledger_verify
from core.models import IdempotencyRecord, LedgerEntry
from tests.buyrefund.test_guarantees_api import body, br_form, url

SETTLED_FIRST_GATEWAY = "tests.buyrefund.test_prepayment_request.SettledFirstGateway"


@contextmanager
def answer_lost(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if the process died once its outcome committed, before it stored its answer."""
    with monkeypatch.context() as patch:
        patch.setattr("core.api.idempotency._complete", lambda *args, **kwargs: False)
        yield


def lease_run_out(key: str) -> None:
    """The dead attempt's lease is over: the next request with its key resolves it."""
    IdempotencyRecord.objects.filter(key=key).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_the_same_request_whose_answer_was_lost_gets_it_again(
    demo: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a prepayment whose request died after paying, before storing its answer
    form = br_form(demo)
    clerk = api(demo.clerk)
    with answer_lost(monkeypatch):
        first = clerk.post(url(form), body(), format="json", HTTP_IDEMPOTENCY_KEY="lost-1")
    assert first.status_code == 201, first.json()
    assert IdempotencyRecord.objects.get(key="lost-1").status == "pending"
    lease_run_out("lost-1")
    # when the client sends the same request again
    again = clerk.post(url(form), body(), format="json", HTTP_IDEMPOTENCY_KEY="lost-1")
    # then it gets the same answer, nothing is authorized or paid twice
    assert again.status_code == 201, again.json()
    assert again.json() == first.json()
    assert (
        clerk.post(url(form), body(), format="json", HTTP_IDEMPOTENCY_KEY="lost-1").json()
        == first.json()
    )  # now stored and replayed
    assert IdempotencyRecord.objects.get(key="lost-1").status == "complete"
    assert (Prepayment.objects.count(), SandboxCardOperation.objects.get().calls) == (1, 1)
    # and another request is told the prepayment's state
    other = clerk.post(url(form), body(), format="json", HTTP_IDEMPOTENCY_KEY="lost-2")
    assert (other.status_code, other.json()["code"]) == (409, "prepayment_exists")


def test_the_same_declined_request_is_declined_again_without_a_card_call(
    demo: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = br_form(demo)
    clerk = api(demo.clerk)
    declined = body(card_token="tok_declined")
    with answer_lost(monkeypatch):
        first = clerk.post(url(form), declined, format="json", HTTP_IDEMPOTENCY_KEY="no-1")
    assert (first.status_code, first.json()["code"]) == (422, "card_declined")
    lease_run_out("no-1")
    again = clerk.post(url(form), declined, format="json", HTTP_IDEMPOTENCY_KEY="no-1")
    assert (again.status_code, again.json()["code"]) == (422, "card_declined")
    assert (Prepayment.objects.count(), SandboxCardOperation.objects.get().calls) == (1, 1)
    # another card, in another request, may be tried
    paid = clerk.post(url(form), body(), format="json", HTTP_IDEMPOTENCY_KEY="no-2")
    assert paid.status_code == 201, paid.json()


def test_a_request_whose_authorization_was_undone_is_told_so_and_pays_nothing(
    demo: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a request that got no answer (503) and never came back that day
    monkeypatch.setattr("buyrefund.services.INLINE_ATTEMPTS", 1)
    form = br_form(demo)
    clerk = api(demo.clerk)
    flaky = body(card_token="tok_flaky")
    assert clerk.post(url(form), flaky, format="json", HTTP_IDEMPOTENCY_KEY="late").status_code == (
        503
    )
    # when later sweeps learn the hold was placed and undo it
    today = timezone.localdate()
    guarantees_sweep(today=today + timedelta(days=1))
    guarantees_sweep(today=today + timedelta(days=2))
    assert Prepayment.objects.get().status == PrepaymentStatus.FAILED
    # then the same request, sent again, is told so: nothing authorized again, nothing paid
    again = clerk.post(url(form), flaky, format="json", HTTP_IDEMPOTENCY_KEY="late")
    assert (again.status_code, again.json()["code"]) == (409, "prepayment_abandoned"), again.json()
    assert Prepayment.objects.count() == 1
    assert SandboxCardOperation.objects.filter(kind="authorize").count() == 1


def test_one_prepayment_per_client_request(demo: Any) -> None:
    first = prepayment_pay(
        form_number=br_form(demo).number,
        clerk=demo.clerk,
        store=demo.store_sh,
        card_token="tok_visa",
        card_holder_name="Marie Dupont",
        payout_method="alipay",
        attempt=REQUEST_ATTEMPT_PREFIX + "one",
    )
    other_form = br_form(demo)
    copy = Prepayment(
        form=other_form,
        store=demo.store_sh,
        clerk=demo.clerk,
        amount=Decimal("1.00"),
        payout_method="alipay",
        attempt=first.attempt,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()


def test_the_attempt_of_an_idempotent_request_names_the_request(
    demo: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prefix the constraint keys on is the one ``current_attempt`` gives."""
    import buyrefund.api.views as views

    seen: list[str] = []
    real = views.prepayment_pay

    def spy(**kwargs: Any) -> Any:
        seen.append(kwargs["attempt"])
        return real(**kwargs)

    monkeypatch.setattr(views, "prepayment_pay", spy)
    api(demo.clerk).post(url(br_form(demo)), body(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert seen and seen[0].startswith(REQUEST_ATTEMPT_PREFIX)
    assert current_attempt() == ""  # outside a request


class SettledFirstGateway(SandboxCardGateway):
    """Answers the authorization, but another process settles it first (its lease outlived)."""

    def execute(self, request: CardRequest) -> CardResult:
        from buyrefund.services import _settle_locked

        result = super().execute(request)
        if request.kind == "authorize":
            operation = GuaranteeOperation.objects.select_related("guarantee").get(key=request.key)
            _settle_locked(operation, result=result, actor="system", abandon=False)
        return result


def test_the_clerks_settle_gives_way_to_another_process_that_settled_first(
    demo: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CARD_GATEWAY = SETTLED_FIRST_GATEWAY
    form = br_form(demo)
    prepayment = prepayment_pay(
        form_number=form.number,
        clerk=demo.clerk,
        store=demo.store_sh,
        card_token="tok_visa",
        card_holder_name="Marie Dupont",
        payout_method="alipay",
    )
    # the answer is the state the other process recorded, written once
    assert "settled by another process" in caplog.text
    assert prepayment.status == PrepaymentStatus.PAID
    assert prepayment.guarantee.status == "authorized"
    guarantee = Guarantee.objects.get()
    assert guarantee.status == "authorized" and guarantee.ledger_seq == 2
    assert list(
        LedgerEntry.objects.filter(record_type="agencies.guarantee").values_list(
            "action", flat=True
        )
    ) == ["guarantee_created", "guarantee_authorized"]
    assert LedgerEntry.objects.filter(action="prepayment_paid").count() == 1
    assert GuaranteeOperation.objects.get().status == "succeeded"
    assert ledger_verify().intact


def test_the_clerks_own_settle_reads_nothing_and_carries_the_ledger_heads(demo: Any) -> None:
    form = br_form(demo)
    prepayment = prepayment_pay(
        form_number=form.number,
        clerk=demo.clerk,
        store=demo.store_sh,
        card_token="tok_visa",
        card_holder_name="Marie Dupont",
        payout_method="cash",
    )
    assert prepayment.status == PrepaymentStatus.AWAITING_HANDOVER
    stored = Prepayment.objects.get()
    guarantee = Guarantee.objects.get()
    # the rows carry their chain heads (the next change appends without a read)
    for record in (stored, guarantee):
        last = LedgerEntry.objects.filter(
            record_type=record._meta.label_lower, record_id=str(record.pk)
        ).order_by("-seq")[0]
        assert (
            (record.ledger_seq, record.ledger_hash)
            == (last.seq, last.entry_hash)
            == (
                2,
                last.entry_hash,
            )
        )
    assert (guarantee.updated_at, stored.updated_at) != (guarantee.created_at, stored.created_at)
    assert GuaranteeOperation.objects.get().attempts == 1
    assert ledger_verify().intact


def _authorize(key: str, token: str = "tok_visa", amount: str = "10.00") -> CardRequest:
    return CardRequest(
        key=key,
        kind="authorize",
        token=token,
        amount=Decimal(amount),
        requested_at=timezone.now(),
    )


def statements(call: Any) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        result = call()
    sql = [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))
    ]
    return len(sql), result


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_authorizes_in_one_statement_and_replays_by_key(db: Any) -> None:
    gateway = SandboxCardGateway()
    count, first = statements(lambda: gateway.execute(_authorize("k-1")))
    assert count == 1 and first.succeeded and first.hold_expires_at is not None
    count, again = statements(lambda: gateway.execute(_authorize("k-1")))
    assert count == 1 and again == first
    row = SandboxCardOperation.objects.get(key="k-1")
    assert (row.calls, row.status, row.reference) == (2, "succeeded", first.reference)
    # the same key for another operation changes nothing
    other = gateway.execute(_authorize("k-1", amount="11.00"))
    assert (other.succeeded, other.code) == (False, "idempotency_key_mismatch")
    assert SandboxCardOperation.objects.get(key="k-1").calls == 2
    # a decline is recorded and replayed too
    declined = gateway.execute(_authorize("k-2", token="tok_declined"))
    assert (declined.succeeded, declined.code) == (False, "card_declined")
    assert gateway.execute(_authorize("k-2", token="tok_declined")) == declined


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_captures_a_hold_once_and_never_after_its_release(db: Any) -> None:
    gateway = SandboxCardGateway()
    hold = gateway.execute(_authorize("h-1", amount="50.00"))

    def act(kind: str, key: str, amount: str = "0.00") -> CardResult:
        return gateway.execute(
            CardRequest(
                key=key,
                kind=kind,
                token="tok_visa",
                amount=Decimal(amount),
                requested_at=timezone.now(),
                hold_reference=hold.reference,
            )
        )

    assert act("capture", "c-over", "60.00").code == "amount_over_hold"
    released = act("release", "r-1")
    assert released.succeeded
    assert SandboxCardOperation.objects.get(key="h-1").released_at is not None
    assert act("capture", "c-1", "50.00").code == "hold_released"
    assert act("release", "r-1") == released  # replayed, not executed again


def test_the_success_answer_is_rebuilt_from_the_prepayment_not_stored(demo: Any, api: Any) -> None:
    """Issue 12: the 201 is not written to the key's record (a statement less); the same
    request again, while the first attempt's lease still runs, gets that first answer
    exactly, rebuilt from its own prepayment, even after the cash was handed over and
    the hold re-authorized; then it is stored and replayed."""
    form = br_form(demo)
    clerk = api(demo.clerk)
    created = clerk.post(
        url(form), body(payout_method="cash"), format="json", HTTP_IDEMPOTENCY_KEY="cash-1"
    )
    assert created.status_code == 201, created.json()
    record = IdempotencyRecord.objects.get(key="cash-1")
    assert (record.status, record.resource, record.resource_id, record.response_body) == (
        "pending",
        "agencies.prepayment",
        "",
        None,
    )
    assert (
        record.lease_expires_at and record.lease_expires_at > timezone.now()
    )  # the first attempt's lease still runs
    # what became of it since: handed over, the hold moved on
    handover = clerk.post(f"/api/v1/forms/{form.number}/prepayment/handover/")
    assert handover.json()["prepayment"]["status"] == "paid"
    Guarantee.objects.update(hold_expires_at=timezone.now() + timedelta(days=30))
    again = clerk.post(
        url(form), body(payout_method="cash"), format="json", HTTP_IDEMPOTENCY_KEY="cash-1"
    )
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == created.json()
    assert again.json()["prepayment"]["status"] == "awaiting_handover"
    record.refresh_from_db()
    assert (record.status, record.response_body) == ("complete", created.json())
    # another body with the key is still refused, nothing authorized twice
    other = clerk.post(
        url(form), body(payout_method="alipay"), format="json", HTTP_IDEMPOTENCY_KEY="cash-1"
    )
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert (Prepayment.objects.count(), SandboxCardOperation.objects.get().calls) == (1, 1)
    assert ledger_verify().intact


def test_the_reconciling_sweep_settles_or_frees_records_bound_by_attempt(
    demo: Any, api: Any
) -> None:
    from core.api.idempotency import idempotency_settle_stale

    form = br_form(demo)
    clerk = api(demo.clerk)
    paid = clerk.post(url(form), body(), format="json", HTTP_IDEMPOTENCY_KEY="swept-1")
    assert paid.status_code == 201, paid.json()
    # a request that died before it made anything (its record bound by attempt only)
    IdempotencyRecord.objects.create(
        user=demo.clerk,
        key="died-1",
        request_hash="x",
        method="POST",
        path=url(form),
        attempt="dead",
        resource="agencies.prepayment",
    )
    lease_run_out("swept-1")
    lease_run_out("died-1")
    assert idempotency_settle_stale() == {"settled": 1, "freed": 1, "unsettled": 0}
    stored = IdempotencyRecord.objects.get(key="swept-1")
    assert (stored.status, stored.response_status, stored.response_body) == (
        "complete",
        201,
        paid.json(),
    )
    assert not IdempotencyRecord.objects.filter(key="died-1").exists()

"""Buy & Refund services: prepayment against a card guarantee, the daily sweep, the tasks."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from agencies.cards import CardGatewayError, CardRequest, CardResult, SandboxCardGateway
from agencies.models import (
    Guarantee,
    GuaranteeOperation,
    GuaranteeStatus,
    Prepayment,
    PrepaymentStatus,
    SandboxCardOperation,
)
from buyrefund.services import (
    CardDeclined,
    CardGatewayUnavailable,
    CardHolderMismatch,
    InvalidCardToken,
    PrepaymentExists,
    add_working_days,
    guarantee_due,
    guarantees_sweep,
    names_match,
    prepayment_handover,
    prepayment_pay,
    prepayment_return,
)
from buyrefund.tasks import guarantee_operation_task, guarantees_sweep_task
from core.models import LedgerEntry
from stores.exceptions import FormNotFound, FormNotVoidable, NotBuyAndRefundStore
from stores.models import RefundForm
from stores.services import refund_form_void
from tests.agencies.conftest import verify
from tests.factories import line, make_form, traveler

FLAKY_GATEWAY = "tests.buyrefund.test_guarantees.AlwaysTimeoutGateway"
LOST_ANSWER_GATEWAY = "tests.buyrefund.test_guarantees.LostFirstAnswerGateway"


class AlwaysTimeoutGateway:
    """A gateway that never answers (nothing executed)."""

    calls = 0

    def execute(self, request: CardRequest) -> CardResult:
        type(self).calls += 1
        raise CardGatewayError("down", "card_gateway_timeout")


class LostFirstAnswerGateway(SandboxCardGateway):
    """Executes every operation, but the first answer per capture/charge key is lost."""

    seen: set[str] = set()

    def execute(self, request: CardRequest) -> CardResult:
        result = super().execute(request)
        if request.kind in ("capture", "charge") and request.key not in self.seen:
            self.seen.add(request.key)
            raise CardGatewayError("lost", "card_gateway_timeout")
        return result


def br_form(demo: Any, *lines: Any) -> RefundForm:
    """A Buy & Refund form at DEMO-SH-001 (RMB 3,600 at 13% → net 324.00 by default)."""
    return make_form(
        demo.store_sh,
        demo.clerk,
        *(lines or [line(unit_price="3600.00")]),
        who=traveler(),
        buy_and_refund=True,
    )


def pay(
    demo: Any, form: RefundForm, token: str = "tok_visa", handover: bool = True, **kwargs: Any
) -> Prepayment:
    """Pay the prepayment (cash by default) and, unless told, confirm the cash handover."""
    prepayment = prepayment_pay(
        form_number=form.number,
        clerk=kwargs.pop("clerk", demo.clerk),
        store=kwargs.pop("store", demo.store_sh),
        card_token=token,
        card_holder_name=kwargs.pop("card_holder_name", "Marie Dupont"),
        payout_method=kwargs.pop("payout_method", "cash"),
        **kwargs,
    )
    if handover and prepayment.status == PrepaymentStatus.AWAITING_HANDOVER:
        prepayment = prepayment_handover(
            form_number=form.number, clerk=demo.clerk, store=demo.store_sh
        )
    return prepayment


def guarantee_of(form: RefundForm) -> Guarantee:
    return Guarantee.objects.exclude(status=GuaranteeStatus.FAILED).get(form=form)


def executed(kind: str | None = None) -> list[SandboxCardOperation]:
    rows = SandboxCardOperation.objects.exclude(status="not_executed")
    if kind:
        rows = rows.filter(kind=kind)
    return list(rows)


# --- Pure helpers -------------------------------------------------------------------


def test_working_days_skip_weekends(db: Any) -> None:
    # Thursday + 3 working days = Tuesday; Friday + 3 = Wednesday.
    assert add_working_days(date(2026, 12, 10), 3) == date(2026, 12, 15)
    assert add_working_days(date(2026, 12, 11), 3) == date(2026, 12, 16)
    assert add_working_days(date(2026, 12, 14), 3) == date(2026, 12, 17)


def test_card_holder_name_match_ignores_case_and_spacing() -> None:
    assert names_match("  marie   DUPONT ", "Marie Dupont")
    assert names_match("MARIEDUPONT", "Marie Dupont")
    assert not names_match("Marie Durand", "Marie Dupont")


# --- Paying the prepayment ------------------------------------------------------------------


def test_prepayment_places_a_guarantee_for_the_net_refund(demo: Any) -> None:
    form = br_form(demo)
    prepayment = pay(demo, form, card_holder_name="  marie  dupont ")

    guarantee = prepayment.guarantee
    assert prepayment.status == PrepaymentStatus.PAID
    assert prepayment.amount == form.net_refund == Decimal("324.00")
    assert guarantee.status == GuaranteeStatus.AUTHORIZED
    assert guarantee.amount == Decimal("324.00")
    # Bought today (after 2026-07-01): nationwide 28 days, then 3 working days of grace.
    assert guarantee.deadline == form.purchase_date + timedelta(days=28)
    assert guarantee.grace_until == add_working_days(guarantee.deadline, 3)
    assert guarantee.hold_expires_at is not None
    hold_days = (guarantee.hold_expires_at - timezone.now()).total_seconds() / 86400
    assert 6.9 < hold_days <= 7
    assert guarantee.card_token == "tok_visa"
    actions = set(LedgerEntry.objects.values_list("action", flat=True))
    assert {
        "prepayment_awaiting_handover",
        "prepayment_handed_over",
        "guarantee_authorized",
        "guarantee_created",
    } <= actions


def test_declined_card_pays_nothing_and_another_card_may_be_tried(demo: Any) -> None:
    form = br_form(demo)
    with pytest.raises(CardDeclined) as caught:
        pay(demo, form, "tok_declined")
    assert caught.value.code == "card_declined"
    failed = Prepayment.objects.get(form=form)
    assert failed.status == PrepaymentStatus.FAILED
    assert failed.paid_at is None
    assert failed.guarantee.status == GuaranteeStatus.FAILED

    second = pay(demo, form, "tok_visa")
    assert second.status == PrepaymentStatus.PAID
    assert Prepayment.objects.filter(form=form).count() == 2


def test_flaky_gateway_is_retried_with_the_same_key_and_authorizes_once(demo: Any) -> None:
    form = br_form(demo)
    prepayment = pay(demo, form, "tok_flaky")
    assert prepayment.status == PrepaymentStatus.PAID
    (row,) = SandboxCardOperation.objects.all()
    assert row.calls == 3 and row.status == "succeeded"
    assert GuaranteeOperation.objects.get().attempts == 3


def test_unanswered_authorization_is_503_and_the_same_request_resumes(
    demo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = br_form(demo)
    monkeypatch.setattr("buyrefund.services.INLINE_ATTEMPTS", 1)
    with pytest.raises(CardGatewayUnavailable):
        pay(demo, form, "tok_flaky", attempt="idem:1")
    assert Prepayment.objects.get(form=form).status == PrepaymentStatus.PENDING
    # Another request (another key, or none) is told the truth and resumes nothing.
    for other in ("", "idem:2"):
        with pytest.raises(PrepaymentExists) as refused:
            pay(demo, form, "tok_flaky", attempt=other)
        assert refused.value.extra["prepayment"] == "pending"
    assert SandboxCardOperation.objects.get().calls == 1
    with pytest.raises(CardGatewayUnavailable):
        pay(demo, form, "tok_flaky", attempt="idem:1")
    # the same request again: the third call of the same key approves
    prepayment = pay(demo, form, "tok_flaky", attempt="idem:1", handover=False)
    assert prepayment.status == PrepaymentStatus.AWAITING_HANDOVER
    assert SandboxCardOperation.objects.get().calls == 3
    assert Prepayment.objects.filter(form=form).count() == 1


def test_not_buy_and_refund_is_refused_and_writes_nothing(demo: Any) -> None:
    plain = make_form(demo.store_sh, demo.clerk, line(), who=traveler(), buy_and_refund=False)
    with pytest.raises(NotBuyAndRefundStore):
        pay(demo, plain)
    beijing = make_form(demo.store_bj, demo.clerk2, line(), who=traveler())
    with pytest.raises(NotBuyAndRefundStore):
        pay(demo, beijing, clerk=demo.clerk2, store=demo.store_bj)
    assert not Prepayment.objects.exists()
    assert not SandboxCardOperation.objects.exists()


def test_refusals_before_any_card_call(demo: Any) -> None:
    form = br_form(demo)
    with pytest.raises(CardHolderMismatch):
        pay(demo, form, card_holder_name="John Smith")
    with pytest.raises(InvalidCardToken):
        pay(demo, form, "4111 1111 1111 1111")
    with pytest.raises(FormNotFound):
        pay(demo, form, clerk=demo.clerk2, store=demo.store_bj)
    assert not Prepayment.objects.exists()
    assert not SandboxCardOperation.objects.exists()


def test_one_prepayment_per_form(demo: Any) -> None:
    form = br_form(demo)
    pay(demo, form)
    with pytest.raises(PrepaymentExists):
        pay(demo, form)
    with pytest.raises(PrepaymentExists):
        pay(demo, form, "tok_short_hold")
    assert len(executed("authorize")) == 1


# --- Voids ----------------------------------------------------------------------------------


def test_prepaid_form_is_voided_only_after_the_prepayment_is_returned(demo: Any) -> None:
    form = br_form(demo)
    pay(demo, form)
    with pytest.raises(FormNotVoidable) as caught:
        refund_form_void(form=form, clerk=demo.clerk, reason="Sales return")
    assert caught.value.extra["prepayment"] == "paid"

    returned = prepayment_return(form_number=form.number, clerk=demo.clerk, store=demo.store_sh)
    assert returned.status == PrepaymentStatus.RETURNED
    assert guarantee_of(form).status == GuaranteeStatus.RELEASED
    refund_form_void(form=form, clerk=demo.clerk, reason="Sales return")
    form.refresh_from_db()
    assert form.status == "voided"


def test_declined_prepayment_does_not_block_a_void(demo: Any) -> None:
    form = br_form(demo)
    with pytest.raises(CardDeclined):
        pay(demo, form, "tok_declined")
    refund_form_void(form=form, clerk=demo.clerk, reason="Sales return")


# --- The sweep ------------------------------------------------------------------------------


def test_sweep_releases_after_customs_verification(demo: Any) -> None:
    form = br_form(demo)
    pay(demo, form)
    verify(form, demo)
    report = guarantees_sweep(today=timezone.localdate())
    guarantee = guarantee_of(form)
    assert report.released == [guarantee.pk]
    assert guarantee.status == GuaranteeStatus.RELEASED
    assert guarantee.captured_amount == 0
    assert not executed("capture") and not executed("charge")
    # Again: nothing more to do.
    assert guarantees_sweep(today=timezone.localdate()).released == []


def test_sweep_partial_verification_captures_only_the_difference(demo: Any) -> None:
    # Two scarves at 1,800: prepayment 324.00; customs sees one → net 198.00 - 36.00 = 162.00.
    form = br_form(demo, line(quantity="2", unit_price="1800.00"))
    pay(demo, form)
    form_line = form.lines.get()
    verify(form, demo, quantities={form_line.pk: Decimal("1")})
    report = guarantees_sweep(today=timezone.localdate())

    guarantee = guarantee_of(form)
    assert report.partially_captured == [guarantee.pk]
    assert guarantee.status == GuaranteeStatus.PARTIALLY_CAPTURED
    assert guarantee.captured_amount == Decimal("162.00")
    (capture,) = executed("capture")
    assert capture.amount == Decimal("162.00")
    assert len(executed("release")) == 1
    guarantees_sweep(today=timezone.localdate())
    assert len(executed("capture")) == 1


def test_short_hold_is_reauthorized_before_it_expires(demo: Any) -> None:
    form = br_form(demo)
    pay(demo, form, "tok_short_hold")
    guarantee = guarantee_of(form)
    assert guarantee.hold_expires_at is not None
    expiry = timezone.localdate(guarantee.hold_expires_at)
    assert expiry == timezone.localdate() + timedelta(days=5)

    # Two days before expiry: nothing due yet.
    assert guarantees_sweep(today=expiry - timedelta(days=2)).reauthorized == []
    # The day before: a new hold for the same amount.
    report = guarantees_sweep(today=expiry - timedelta(days=1))
    assert report.reauthorized == [guarantee.pk]
    guarantee.refresh_from_db()
    assert guarantee.status == GuaranteeStatus.REAUTHORIZED
    assert guarantee.hold_expires_at is not None
    assert timezone.localdate(guarantee.hold_expires_at) == expiry - timedelta(days=1) + timedelta(
        days=5
    )
    holds = executed("authorize")
    assert len(holds) == 2 and {h.amount for h in holds} == {Decimal("324.00")}
    # Same day again: the new hold is not due.
    assert guarantees_sweep(today=expiry - timedelta(days=1)).reauthorized == []


def test_kept_alive_hold_is_captured_after_deadline_and_grace(demo: Any) -> None:
    form = br_form(demo)
    pay(demo, form)
    guarantee = guarantee_of(form)
    day = timezone.localdate()
    while day <= guarantee.grace_until:  # the daily sweep keeps the hold alive
        assert guarantees_sweep(today=day).captured == []
        day += timedelta(days=1)
    report = guarantees_sweep(today=day)
    guarantee.refresh_from_db()
    assert report.captured == [guarantee.pk]
    assert guarantee.status == GuaranteeStatus.CAPTURED
    assert guarantee.captured_amount == Decimal("324.00")
    (capture,) = executed("capture")
    assert capture.amount == Decimal("324.00")
    assert not executed("charge")


def test_capture_happens_exactly_once_even_when_the_sweep_runs_twice(
    demo: Any, settings: Any
) -> None:
    form = br_form(demo)
    pay(demo, form)
    guarantee = guarantee_of(form)
    after_grace = guarantee.grace_until + timedelta(days=1)
    assert guarantees_sweep(today=guarantee.grace_until).captured == []

    # The gateway charges but its answer is lost: the operation stays pending.
    settings.CARD_GATEWAY = LOST_ANSWER_GATEWAY
    LostFirstAnswerGateway.seen = set()
    first = guarantees_sweep(today=after_grace)
    assert first.unanswered == [guarantee.pk]
    guarantee.refresh_from_db()
    assert guarantee.status == GuaranteeStatus.AUTHORIZED
    # The second run re-sends the same key: the gateway replays, money moves once.
    second = guarantees_sweep(today=after_grace)
    assert second.captured == [guarantee.pk]
    third = guarantees_sweep(today=after_grace)
    assert third.captured == []
    guarantee.refresh_from_db()
    assert guarantee.status == GuaranteeStatus.CAPTURED
    assert guarantee.captured_amount == Decimal("324.00")
    # The 7-day hold lapsed long before: the consented token charge is used.
    (charge,) = executed("charge")
    assert charge.amount == Decimal("324.00") and charge.calls == 2
    assert LedgerEntry.objects.filter(action="guarantee_charged").count() == 1


def test_no_capture_before_grace_ends_nor_after_verification(demo: Any) -> None:
    form = br_form(demo)
    pay(demo, form)
    guarantee = guarantee_of(form)
    verify(form, demo)
    report = guarantees_sweep(today=guarantee.grace_until + timedelta(days=30))
    assert report.released == [guarantee.pk]
    assert not executed("capture") and not executed("charge")


# --- Tasks ----------------------------------------------------------------------------------


def test_operation_task_retries_transient_errors_until_the_gateway_answers(demo: Any) -> None:
    form = br_form(demo)
    pay(demo, form, "tok_flaky")  # the POST's own retries get the hold
    guarantee = guarantee_of(form)
    # The sweep's capture times out (tok_flaky: twice per key): left pending.
    report = guarantees_sweep(today=guarantee.grace_until + timedelta(days=1))
    assert report.unanswered == [guarantee.pk]
    operation = GuaranteeOperation.objects.get(status="pending")

    # Eager apply runs the task's retries at once (the countdowns are for the worker).
    result = guarantee_operation_task.apply(args=(operation.pk,))
    assert result.successful() and result.result == "succeeded"
    guarantee.refresh_from_db()
    assert guarantee.status == GuaranteeStatus.CAPTURED
    (charge,) = executed("charge")
    assert charge.calls == 3
    # A redelivered task finds the work done and calls nothing.
    assert guarantee_operation_task.apply(args=(operation.pk,)).result == "succeeded"
    assert SandboxCardOperation.objects.get(kind="charge").calls == 3


def test_operation_task_gives_up_after_its_retry_cap(demo: Any, settings: Any) -> None:
    form = br_form(demo)
    pay(demo, form)
    guarantee = guarantee_of(form)
    settings.CARD_GATEWAY = FLAKY_GATEWAY
    AlwaysTimeoutGateway.calls = 0
    guarantees_sweep(today=guarantee.grace_until + timedelta(days=1))
    operation = GuaranteeOperation.objects.get(status="pending")
    AlwaysTimeoutGateway.calls = 0
    result = guarantee_operation_task.apply(args=(operation.pk,))
    assert result.failed()
    assert AlwaysTimeoutGateway.calls == (guarantee_operation_task.max_retries or 0) + 1
    operation.refresh_from_db()
    assert operation.status == "pending"  # the next sweep re-sends it with the same key
    settings.CARD_GATEWAY = "agencies.cards.SandboxCardGateway"
    assert guarantees_sweep(today=guarantee.grace_until + timedelta(days=2)).captured == [
        guarantee.pk
    ]


def test_an_authorization_the_clerk_never_got_is_undone_not_charged(
    demo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = br_form(demo)
    monkeypatch.setattr("buyrefund.services.INLINE_ATTEMPTS", 1)
    with pytest.raises(CardGatewayUnavailable):
        pay(demo, form, "tok_flaky")
    today = timezone.localdate()
    # Same day: the clerk's retry owns it; the sweep does not touch it.
    guarantees_sweep(today=today)
    assert SandboxCardOperation.objects.get().calls == 1
    # The task never completes an authorization behind the clerk's back.
    operation = GuaranteeOperation.objects.get()
    assert guarantee_operation_task.apply(args=(operation.pk,)).result == "pending"
    # Later days: the sweep learns the outcome (approved on the 3rd call) and undoes it.
    assert guarantees_sweep(today=today + timedelta(days=1)).unanswered
    guarantees_sweep(today=today + timedelta(days=2))
    prepayment = Prepayment.objects.get(form=form)
    assert prepayment.status == PrepaymentStatus.FAILED and prepayment.paid_at is None
    # The release of that hold (tok_flaky again: two timeouts) follows on later sweeps.
    guarantees_sweep(today=today + timedelta(days=3))
    report = guarantees_sweep(today=today + timedelta(days=4))
    guarantee = Guarantee.objects.get(prepayment=prepayment)
    assert report.released == [guarantee.pk]
    assert guarantee.status == GuaranteeStatus.RELEASED
    assert guarantees_sweep(today=guarantee.grace_until + timedelta(days=1)).captured == []
    assert not executed("capture") and not executed("charge")
    # The form can be prepaid afresh.
    assert pay(demo, form).status == PrepaymentStatus.PAID


def test_sweep_task_called_directly(demo: Any) -> None:
    form = br_form(demo)
    pay(demo, form)
    guarantee = guarantee_of(form)
    day = (guarantee.grace_until + timedelta(days=1)).isoformat()
    report = guarantees_sweep_task(today=day)
    assert report["captured"] == [guarantee.pk]
    assert guarantees_sweep_task(today=day)["captured"] == []
    assert len(executed("charge")) == 1


def test_released_form_is_refunded_and_the_counter_does_not_pay_it_again(demo: Any) -> None:
    from agencies.exceptions import AlreadyRefunded
    from agencies.services import refund_pay

    form = br_form(demo)
    pay(demo, form)
    verify(form, demo)
    guarantees_sweep(today=timezone.localdate())
    form.refresh_from_db()
    assert form.status == "refunded"
    with pytest.raises(AlreadyRefunded):  # 409 already_refunded: paid in advance
        refund_pay(
            form_number=form.number,
            qr=form.qr_payload,
            document_number="18AB12345",
            payout_method="cash",
            agent=demo.agent,
            agency=demo.agency,
        )


def test_returned_prepayment_leaves_the_form_issued(demo: Any) -> None:
    form = br_form(demo)
    pay(demo, form)
    prepayment_return(form_number=form.number, clerk=demo.clerk, store=demo.store_sh)
    form.refresh_from_db()
    assert form.status == "issued"
    assert guarantees_sweep(today=timezone.localdate() + timedelta(days=60)).captured == []


def test_customs_refusal_captures_the_full_prepayment(demo: Any) -> None:
    from customs.services import verification_create

    form = br_form(demo)
    pay(demo, form)
    verification_create(
        port=demo.port,
        officer=demo.officer,
        form_number=form.number,
        qr=form.qr_payload,
        departure_date=timezone.localdate(),
        traveler_matches=False,
    )
    form.refresh_from_db()
    assert form.status == "rejected"
    report = guarantees_sweep(today=timezone.localdate())
    guarantee = guarantee_of(form)
    assert report.captured == [guarantee.pk]
    assert guarantee.captured_amount == Decimal("324.00")


def test_cash_prepayment_within_the_cash_cap_only(demo: Any) -> None:
    from agencies.exceptions import CashLimitExceeded

    # RMB 250,000 at 13%: net 22,500.00 is over the RMB 20,000 cash cap.
    form = br_form(demo, line(unit_price="250000.00"))
    with pytest.raises(CashLimitExceeded):
        pay(demo, form, payout_method="cash")
    assert not Prepayment.objects.exists()
    assert pay(demo, form, payout_method="alipay").amount == Decimal("22500.00")


def test_a_returned_prepayment_is_never_captured(demo: Any, settings: Any) -> None:
    form = br_form(demo)
    pay(demo, form)
    # The release gets no answer: the guarantee is still active after the return.
    settings.CARD_GATEWAY = FLAKY_GATEWAY
    prepayment_return(form_number=form.number, clerk=demo.clerk, store=demo.store_sh)
    guarantee = guarantee_of(form)
    assert guarantee.status == GuaranteeStatus.AUTHORIZED
    due = guarantee_due(guarantee, form=form, day=guarantee.grace_until + timedelta(days=1))
    assert due is not None and due.kind == "release"

    settings.CARD_GATEWAY = "agencies.cards.SandboxCardGateway"
    report = guarantees_sweep(today=guarantee.grace_until + timedelta(days=1))
    assert report.released == [guarantee.pk] and report.captured == []
    assert not executed("capture") and not executed("charge")


class NoReauthorizationGateway(SandboxCardGateway):
    """The issuer refuses new holds on the card after the first one."""

    def execute(self, request: CardRequest) -> CardResult:
        if "-reauthorize" in request.key:
            return CardResult(succeeded=False, code="card_declined", message="Declined.")
        return super().execute(request)


def test_declined_reauthorization_falls_back_to_charging_the_stored_token(
    demo: Any, settings: Any
) -> None:
    form = br_form(demo)
    pay(demo, form)
    guarantee = guarantee_of(form)
    assert guarantee.hold_expires_at is not None
    expiry = timezone.localdate(guarantee.hold_expires_at)
    settings.CARD_GATEWAY = "tests.buyrefund.test_guarantees.NoReauthorizationGateway"

    report = guarantees_sweep(today=expiry - timedelta(days=1))
    assert report.declined == [guarantee.pk]
    guarantee.refresh_from_db()
    assert guarantee.status == GuaranteeStatus.AUTHORIZED
    assert guarantee.failure_code == "card_declined"

    report = guarantees_sweep(today=guarantee.grace_until + timedelta(days=1))
    guarantee.refresh_from_db()
    assert report.captured == [guarantee.pk]
    assert guarantee.captured_amount == Decimal("324.00")
    (charge,) = executed("charge")
    assert charge.token == "tok_visa" and charge.amount == Decimal("324.00")


def test_reauthorization_releases_the_hold_it_replaces_once_in_place(demo: Any) -> None:
    # given a guarantee whose 7-day hold is about to expire
    form = br_form(demo)
    pay(demo, form)
    guarantee = guarantee_of(form)
    first_hold = guarantee.hold_reference
    day = timezone.localdate(guarantee.hold_expires_at) - timedelta(days=1)
    # when the sweep re-authorizes
    report = guarantees_sweep(today=day)
    # then the new hold is placed first, then the old one released, each under its own key
    guarantee.refresh_from_db()
    assert (report.reauthorized, report.previous_holds_released) == ([guarantee.pk], [guarantee.pk])
    assert guarantee.status == GuaranteeStatus.REAUTHORIZED
    assert guarantee.hold_reference != first_hold
    operations = list(guarantee.operations.order_by("pk").values_list("kind", "status", "key"))
    assert [(k, s) for k, s, _ in operations] == [
        ("authorize", "succeeded"),
        ("reauthorize", "succeeded"),
        ("release_previous", "succeeded"),
    ]
    assert operations[2][2].endswith("-release_previous-2")
    release = guarantee.operations.get(kind="release_previous")
    assert release.hold_reference == first_hold
    # the card gateway shows the old hold released and the new one live
    holds = {row.reference: row for row in SandboxCardOperation.objects.filter(kind="authorize")}
    assert holds[first_hold].released_at is not None
    assert holds[guarantee.hold_reference].released_at is None
    actions = list(
        LedgerEntry.objects.filter(record_type="agencies.guarantee").values_list(
            "action", flat=True
        )
    )
    assert actions[-2:] == ["guarantee_reauthorized", "guarantee_previous_hold_released"]
    # and a second sweep that day calls the gateway no more
    calls = sum(SandboxCardOperation.objects.values_list("calls", flat=True))
    assert guarantees_sweep(today=day).reauthorized == []
    assert sum(SandboxCardOperation.objects.values_list("calls", flat=True)) == calls
    assert guarantee.operations.filter(status="pending").count() == 0


def test_cash_prepayment_awaiting_handover_is_neither_captured_nor_released(demo: Any) -> None:
    # given a cash prepayment the clerk has not confirmed as handed over
    form = br_form(demo)
    prepayment = pay(demo, form, handover=False)
    assert (prepayment.status, prepayment.paid_at) == ("awaiting_handover", None)
    guarantee = guarantee_of(form)
    # then the sweep leaves the hold alone past the deadline (it keeps it alive only)
    report = guarantees_sweep(today=guarantee.grace_until + timedelta(days=1))
    assert (report.captured, report.released) == ([], [])
    # when the clerk confirms the handover, the next sweep captures as usual
    prepayment = prepayment_handover(form_number=form.number, clerk=demo.clerk, store=demo.store_sh)
    assert prepayment.status == "paid" and prepayment.handed_over_by == demo.clerk
    report = guarantees_sweep(today=guarantee.grace_until + timedelta(days=1))
    assert report.captured == [guarantee.pk]

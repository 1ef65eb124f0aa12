"""The traveler's journey through the services and tasks (tasks called directly)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from agencies.guarantee_models import GuaranteeStatus
from agencies.models import Refund, RefundStatus, SandboxTransfer
from agencies.services import refund_pay
from buyrefund.services import guarantees_sweep
from customs.models import Verification
from stores.models import FormStatus
from tests.agencies.conftest import DECLINED_CARD, GOOD_CARD, verify
from tests.buyrefund.test_guarantees import guarantee_of, pay
from tests.factories import line, traveler
from tests.travelers.conftest import ALIPAY, DOCUMENT, EMAIL, page_of
from travelers.models import Notice, NoticeKind, NoticeState, PayoutPreChoice, PreChoiceStatus
from travelers.notices import notice_send
from travelers.selectors import trip_forms
from travelers.services import (
    AUTO_PAYOUT_USERNAME,
    payout_choice_set,
    pre_choice_pay,
    traveler_unsubscribe,
)
from travelers.tasks import deadline_reminders_task, form_verified_task, travelers_safety_net_task

pytestmark = pytest.mark.django_db


def choose(form: Any, method: str = "alipay", account: str = ALIPAY, **kwargs: Any) -> Any:
    return payout_choice_set(
        form_number=form.number,
        document_number=kwargs.pop("document_number", DOCUMENT),
        payout_method=method,
        payout_account=account,
        **kwargs,
    )


def choice_status(form: Any) -> str | None:
    choice = pre_choice_pay(form_id=form.pk)
    return choice.status if choice is not None else None


def verified_event(form: Any) -> dict[str, object]:
    """What the worker does after customs commits: the event's task, called directly."""
    return form_verified_task(Verification.objects.get(form=form).pk)


def send_all() -> list[str]:
    return [
        notice_send(notice_id=pk)
        for pk in Notice.objects.filter(state=NoticeState.PENDING).values_list("pk", flat=True)
    ]


def test_issue_makes_an_unguessable_page_and_a_notice_in_the_language(issued: Any) -> None:
    form = issued(email=EMAIL, language="ja")
    page = page_of(form)
    assert len(page.token) >= 32 and form.number not in page.token
    assert (page.email, page.language) == (EMAIL, "ja")
    notice = Notice.objects.get(form=form)
    assert (notice.kind, notice.state, notice.language) == ("form_issued", "pending", "ja")
    assert send_all() == ["sent"]
    [message] = mail.outbox
    assert message.to == [EMAIL]
    assert form.number in message.subject
    assert page.path in message.body and "unsubscribe" in message.body
    assert DOCUMENT not in f"{message.body} {message.subject}"


def test_a_notice_is_sent_once_even_if_the_task_runs_twice(issued: Any) -> None:
    form = issued(email=EMAIL)
    notice = Notice.objects.get(form=form)
    assert notice_send(notice_id=notice.pk) == "sent"
    assert notice_send(notice_id=notice.pk) == "sent"
    assert len(mail.outbox) == 1


def test_no_email_no_notice_and_the_unsubscribe_stops_them(issued: Any, demo: Any) -> None:
    quiet = issued()
    assert not Notice.objects.filter(form=quiet).exists()
    form = issued(email=EMAIL)
    traveler_unsubscribe(page=page_of(form))
    assert send_all() == ["skipped"]
    assert mail.outbox == []


def test_trip_is_same_document_and_same_last_entry(issued: Any, demo: Any) -> None:
    from tests.factories import traveler

    first = issued(email=EMAIL, language="fr")
    second = issued()  # same passport, same entry: the address given before applies
    other_trip = issued(who=traveler(last_entry_date=timezone.localdate() - timedelta(days=40)))
    other_person = issued(who=traveler(document_number="X1234567"))
    assert set(trip_forms(first)) == {first, second}
    assert other_trip not in trip_forms(first) and other_person not in trip_forms(first)
    assert (page_of(second).email, page_of(second).language) == (EMAIL, "fr")


def test_pre_chosen_alipay_is_paid_once_after_customs(issued: Any, demo: Any) -> None:
    form = issued(email=EMAIL, language="de")
    choice = choose(form)
    assert (choice.status, choice.payout_account_masked) == ("chosen", "138****8000")
    assert choice_status(form) == "chosen"  # not verified yet: nothing
    verify(form, demo)
    result = verified_event(form)
    assert result["pre_choice"] == "paid"
    refund = Refund.objects.get(form=form)
    assert refund.status == RefundStatus.PAID
    assert refund.agent.username == AUTO_PAYOUT_USERNAME and refund.agency == demo.agency
    assert (refund.payout_method, refund.net_refund) == ("alipay", Decimal("18.00"))
    form.refresh_from_db()
    assert form.status == FormStatus.REFUNDED
    # A retried task, the safety net, a second event: still one transfer.
    verified_event(form)
    pre_choice_pay(form_id=form.pk)
    travelers_safety_net_task()
    assert SandboxTransfer.objects.filter(status="succeeded").count() == 1
    choice.refresh_from_db()
    assert (choice.status, choice.refund_id) == ("paid", refund.pk)
    kinds = set(Notice.objects.filter(form=form).values_list("kind", flat=True))
    assert kinds == {"form_issued", "form_verified", "refund_paid"}
    send_all()
    paid = [m for m in mail.outbox if "18.00" in m.subject]
    assert len(paid) == 1 and "Alipay" in paid[0].body


def test_partial_verification_says_why_less(issued: Any, demo: Any) -> None:
    form = issued(line(quantity="2", unit_price="100.00"), email=EMAIL)
    choose(form)
    [form_line] = form.lines.all()
    verify(form, demo, quantities={form_line.pk: Decimal("1")})
    verified_event(form)
    refund = Refund.objects.get(form=form)
    assert refund.net_refund == Decimal("9.00")
    send_all()
    [paid] = [m for m in mail.outbox if "9.00" in m.subject]
    assert "18.00" in paid.body and "part of the goods" in paid.body


def test_mailbox_form_is_paid_the_same_way(issued: Any, demo: Any) -> None:
    form = issued()
    choose(form, "bank_card", GOOD_CARD)
    verify(form, demo, channel="mailbox")
    assert verified_event(form)["pre_choice"] == "paid"
    assert Refund.objects.get(form=form).payout_method == "bank_card"


def test_declined_transfer_leaves_it_for_the_counter_and_tells_the_traveler(
    issued: Any, demo: Any
) -> None:
    form = issued(email=EMAIL)
    choose(form, "bank_card", DECLINED_CARD)
    verify(form, demo)
    assert verified_event(form)["pre_choice"] == "failed"
    assert Notice.objects.filter(form=form, kind=NoticeKind.PAYOUT_FAILED).exists()
    # The counter pays it (to another account after the definite decline).
    refund = refund_pay(
        form_number=form.number,
        qr=form.qr_payload,
        document_number=DOCUMENT,
        payout_method="alipay",
        payout_account=ALIPAY,
        agent=demo.agent,
        agency=demo.agency,
    )
    assert refund.status == RefundStatus.PAID
    assert PayoutPreChoice.objects.get(form=form).status == PreChoiceStatus.LAPSED


def test_counter_first_then_the_pre_choice_lapses(issued: Any, demo: Any) -> None:
    form = issued()
    choose(form)
    verify(form, demo)
    refund_pay(
        form_number=form.number,
        qr=form.qr_payload,
        document_number=DOCUMENT,
        payout_method="cash",
        agent=demo.agent,
        agency=demo.agency,
    )
    assert verified_event(form)["pre_choice"] == "chosen"  # cash awaiting handover: no payout
    assert SandboxTransfer.objects.count() == 0


def test_rejected_traveler_is_not_paid(issued: Any, demo: Any) -> None:
    form = issued()
    choose(form)
    from customs.services import verification_create

    verification_create(
        port=demo.port,
        officer=demo.officer,
        form_number=form.number,
        qr=form.qr_payload,
        departure_date=timezone.localdate(),
        traveler_matches=False,
    )
    assert verified_event(form)["pre_choice"] == "chosen"
    assert not Refund.objects.filter(form=form).exists()


def test_choice_after_verification_pays_on_commit(
    issued: Any, demo: Any, django_capture_on_commit_callbacks: Any
) -> None:
    form = issued()
    verify(form, demo)
    with django_capture_on_commit_callbacks() as callbacks:
        choose(form)
    assert callbacks  # the payment task is enqueued after commit
    assert choice_status(form) == "paid"


def test_buy_and_refund_hold_released_by_the_event(issued: Any, demo: Any) -> None:
    form = issued(line(unit_price="3600.00"), buy_and_refund=True, email=EMAIL)
    pay(demo, form)
    assert guarantee_of(form).status == GuaranteeStatus.AUTHORIZED
    assert Notice.objects.filter(form=form, kind=NoticeKind.HOLD_PLACED).exists()
    verify(form, demo)
    result = verified_event(form)
    assert result["guarantee_operations"] == ["release:succeeded"]
    assert guarantee_of(form).status == GuaranteeStatus.RELEASED
    assert Notice.objects.filter(form=form, kind=NoticeKind.HOLD_RELEASED).exists()
    # The hourly sweep afterwards has nothing left to do; the event again neither.
    assert guarantees_sweep().released == []
    assert verified_event(form)["guarantee_operations"] == []


def test_reminder_three_days_before_and_the_charge_notice(issued: Any, demo: Any) -> None:
    form = issued(line(unit_price="3600.00"), buy_and_refund=True, email=EMAIL)
    pay(demo, form)
    guarantee = guarantee_of(form)
    four_before = guarantee.deadline - timedelta(days=4)
    assert deadline_reminders_task(four_before.isoformat()) == 0
    three_before = guarantee.deadline - timedelta(days=3)
    assert deadline_reminders_task(three_before.isoformat()) == 1
    assert deadline_reminders_task((three_before + timedelta(days=1)).isoformat()) == 0
    send_all()
    [reminder] = [m for m in mail.outbox if guarantee.deadline.isoformat() in m.subject]
    assert "3600" not in reminder.body  # the hold is the prepayment, not the goods
    guarantees_sweep(today=guarantee.grace_until + timedelta(days=1))
    assert guarantee_of(form).status == GuaranteeStatus.CAPTURED
    assert Notice.objects.filter(form=form, kind=NoticeKind.CARD_CHARGED).exists()


def test_choice_refusals(issued: Any, demo: Any) -> None:
    from agencies.exceptions import AlreadyRefunded, InvalidCardNumber, InvalidPayoutMethod
    from travelers.exceptions import TravelerFormNotFound

    form = issued()
    with pytest.raises(TravelerFormNotFound):
        choose(form, document_number="18AB12346")
    with pytest.raises(InvalidPayoutMethod):
        choose(form, "cash", "")
    with pytest.raises(InvalidCardNumber):
        choose(form, "bank_card", "6222000000000001")
    assert not PayoutPreChoice.objects.exists()
    prepaid = issued(line(unit_price="3600.00"), buy_and_refund=True)
    pay(demo, prepaid)
    with pytest.raises(AlreadyRefunded):
        choose(prepaid)


def test_a_later_form_of_the_trip_takes_the_address_given_earlier(issued: Any, demo: Any) -> None:
    first = issued(email=EMAIL, language="ja")
    second = issued()  # no address, no language: the trip's (one statement, issue 12)
    assert (page_of(second).email, page_of(second).language) == (EMAIL, "ja")
    assert Notice.objects.filter(form=second, kind="form_issued").exists()
    other_trip = issued(who=traveler(last_entry_date=timezone.localdate() - timedelta(days=40)))
    assert page_of(other_trip).email == ""
    traveler_unsubscribe(page=page_of(first))
    after = issued(language="fr")
    assert (page_of(after).email, page_of(after).language) == ("", "fr")
    assert not Notice.objects.filter(form=after).exists()

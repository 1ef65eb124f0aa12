"""What the travelers app does when the earlier apps publish an event (core.events).

Each listener runs inside the publishing service's transaction: rows it writes
(the phone page, a notice record) commit or roll back with the change, and Celery
work is enqueued only after commit, with ids.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction

from agencies.guarantee_models import Guarantee, GuaranteeStatus
from agencies.models import Refund
from agencies.views import register_pre_choice_lookup
from core import events
from core.prepared import PreparedObjects
from customs.models import Verification, VerificationResult
from stores.models import RefundForm
from stores.selectors import register_traveler_page_path
from travelers.models import NoticeKind


def on_form_issued(*, form: RefundForm, email: str = "", language: str = "", **_: Any) -> None:
    from travelers.notices import notice_create
    from travelers.services import traveler_page_create

    page = traveler_page_create(form=form, email=email, language=language)
    notice_create(form=form, kind=NoticeKind.FORM_ISSUED, page=page, check=False)


def on_form_verified(*, verification: Verification, **_: Any) -> None:
    from travelers.notices import notice_create
    from travelers.tasks import enqueue_form_verified

    if verification.result in (VerificationResult.VERIFIED, VerificationResult.PARTIALLY_VERIFIED):
        notice_create(form=verification.form, kind=NoticeKind.FORM_VERIFIED)
    verification_id = verification.pk
    # Release the Buy & Refund hold and pay a pre-chosen transfer within seconds.
    transaction.on_commit(lambda: enqueue_form_verified(verification_id), robust=True)


@functools.cache
def _paid_form_page() -> PreparedObjects:
    """The phone page of a form by number, with whether an open pre-choice is to be
    settled; compiled once per process (core.prepared: the ORM's building of this
    statement cost more than the rest of the card refund's second transaction)."""
    from django.db.models import Exists, OuterRef

    from travelers.models import PayoutPreChoice, PreChoiceStatus, TravelerPage

    return PreparedObjects(
        TravelerPage,
        lambda number: (
            TravelerPage.objects.filter(form__number=number)
            .annotate(
                open_pre_choice=Exists(
                    PayoutPreChoice.objects.filter(form_id=OuterRef("form_id")).exclude(
                        status__in=[PreChoiceStatus.PAID, PreChoiceStatus.LAPSED]
                    )
                )
            )
            .order_by()
        ),
        "number",
        annotations=("open_pre_choice",),
    )


def on_refund_paid(*, refund: Refund, **_: Any) -> None:
    from travelers.notices import notice_create
    from travelers.services import pre_choice_refund_settled

    # One read in the refund's transaction (which holds the form's lock): the phone page
    # (the notice's address) and whether an open pre-choice is to be settled.
    pages = _paid_form_page().objects(number=refund.form.number)
    page = pages[0] if pages else None  # at most one: a page per form
    if page is None or page.open_pre_choice:
        pre_choice_refund_settled(refund=refund)  # (no page: a form from before pages)
    if page is not None:
        notice_create(form=refund.form, kind=NoticeKind.REFUND_PAID, page=page)
    else:
        notice_create(form=refund.form, kind=NoticeKind.REFUND_PAID)


_GUARANTEE_NOTICES = {
    GuaranteeStatus.AUTHORIZED: NoticeKind.HOLD_PLACED,
    GuaranteeStatus.RELEASED: NoticeKind.HOLD_RELEASED,
    GuaranteeStatus.CAPTURED: NoticeKind.CARD_CHARGED,
    GuaranteeStatus.PARTIALLY_CAPTURED: NoticeKind.CARD_CHARGED,
}


def on_guarantee_moved(*, guarantee: Guarantee, previous: str, **_: Any) -> None:
    from travelers.notices import notice_create

    kind = _GUARANTEE_NOTICES.get(GuaranteeStatus(guarantee.status))
    if kind == NoticeKind.HOLD_PLACED and previous != GuaranteeStatus.PENDING:
        return  # a re-authorization is not news to the traveler
    if kind is not None:
        notice_create(form=guarantee.form, kind=kind)


def _page_path(form: RefundForm) -> str:
    from travelers.models import TravelerPage
    from travelers.services import traveler_page_ensure

    try:
        return form.traveler_page.path  # no query when the form was just issued
    except TravelerPage.DoesNotExist:
        return traveler_page_ensure(form=form).path  # forms issued before pages existed


def connect() -> None:
    events.subscribe("form_issued", on_form_issued)
    events.subscribe("form_verified", on_form_verified)
    events.subscribe("refund_paid", on_refund_paid)
    events.subscribe("guarantee_moved", on_guarantee_moved)
    register_traveler_page_path(_page_path)
    register_pre_choice_lookup(_counter_pre_choice)


def _counter_pre_choice(form: RefundForm) -> tuple[dict[str, str], str] | None:
    """For the agency counter: the open pre-chosen transfer (shown masked) and its account."""
    from core.keys import fernet
    from travelers.models import PayoutPreChoice, PreChoiceStatus
    from travelers.selectors import method_label

    choice = PayoutPreChoice.objects.filter(
        form=form, status__in=[PreChoiceStatus.CHOSEN, PreChoiceStatus.FAILED]
    ).first()
    if choice is None:
        return None
    shown = {
        "payout_method": choice.payout_method,
        "label": method_label(choice.payout_method),
        "payout_account": choice.payout_account_masked,
        "status": choice.status,
    }
    return shown, fernet().decrypt(choice.payout_account_encrypted.encode()).decode()

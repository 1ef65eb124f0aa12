"""Traveler writes: the phone page, contact details, a transfer chosen ahead and paid once.

A pre-chosen transfer (SPEC §2) is paid through agencies' ``refund_pay``, the very
service the counter uses: the form row lock, the one-live-refund-per-form constraint and
the stored payout key make the automatic payment and a counter payment racing for one
form end in exactly one payout. Who pays first wins; the other is told
``already_refunded`` (or ``refund_in_progress``) and the pre-choice records the outcome.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections, router, transaction
from django.utils import timezone

from agencies.exceptions import (
    AlreadyRefunded,
    CashLimitExceeded,
    ChecksFailed,
    InvalidPayoutMethod,
    MailboxTransferOnly,
    NothingToRefund,
    PayoutDeclined,
    PayoutUnavailable,
    RefundAwaitingHandover,
    RefundInProgress,
    RefundRetryRequired,
)
from agencies.models import LIVE_REFUND_STATUSES, Refund, RefundStatus
from agencies.selectors import form_prepaid
from agencies.services import payout_choice_parse, refund_pay
from core.crypto import decrypt_document
from core.keys import fernet
from customs.models import VerificationResult
from customs.selectors import verification_for
from stores.models import FormStatus, RefundForm
from stores.scopes import form_matching_document
from stores.selectors import form_lock
from travelers.exceptions import FormNotPayable, TravelerFormNotFound
from travelers.models import (
    PRE_CHOICE_TRANSITIONS,
    NoticeKind,
    PayoutPreChoice,
    PreChoiceStatus,
    TravelerPage,
)
from travelers.selectors import trip_forms

logger = logging.getLogger(__name__)

# The user recorded as the agent of refunds paid without a counter (inactive: no login).
AUTO_PAYOUT_USERNAME = "auto-payout"
_VERIFIED = (VerificationResult.VERIFIED, VerificationResult.PARTIALLY_VERIFIED)
_LANGUAGE_CODES = {code for code, _ in settings.LANGUAGES}
TRANSFERS = ("bank_card", "alipay", "wechat")


def language_parse(value: str | None) -> str:
    """A supported language code (``zh-Hans`` as ``zh-hans``), else English."""
    code = (value or "").strip().lower().replace("_", "-")
    return code if code in _LANGUAGE_CODES else "en"


def traveler_page_ensure(*, form: RefundForm) -> TravelerPage:
    """The form's phone page, created on first need (forms issued before it existed)."""
    page = TravelerPage.objects.filter(form=form).first()
    if page is not None:
        return page
    TravelerPage.objects.bulk_create([TravelerPage(form=form)], ignore_conflicts=True)
    return TravelerPage.objects.get(form=form)


def traveler_page_create(*, form: RefundForm, email: str = "", language: str = "") -> TravelerPage:
    """The page of a form issued in the caller's transaction, with what the store captured.

    Without an address, one the traveler gave for another form of this trip is used (and
    its language, when none was given): looked up by the page's own INSERT ... SELECT,
    one statement on the issue's path.
    """
    page = TravelerPage(form=form, email=email, language=language_parse(language))
    if email:
        page.save(force_insert=True)
        return page
    connection = connections[router.db_for_write(TravelerPage)]
    ops = connection.ops
    quote = ops.quote_name
    pages = quote(TravelerPage._meta.db_table)
    forms = quote(RefundForm._meta.db_table)
    page.created_at = page.updated_at = timezone.now()
    now = ops.adapt_datetimefield_value(page.created_at)
    language_sql = "%s" if language else "COALESCE(other.language, %s)"
    # Names from the models, values bound.
    sql = (
        f"INSERT INTO {pages} (form_id, token, email, phone, language, created_at, updated_at) "  # noqa: S608
        f"SELECT %s, %s, COALESCE(other.email, ''), COALESCE(other.phone, ''), {language_sql},"
        f" %s, %s FROM (SELECT 1 AS one) AS base LEFT JOIN ("
        f"SELECT p.email, p.phone, p.language FROM {pages} p"
        f" INNER JOIN {forms} f ON p.form_id = f.id"
        f" WHERE f.document_hash = %s AND f.document_type = %s AND f.last_entry_date = %s"
        f" AND p.unsubscribed_at IS NULL AND p.email <> ''"
        f" ORDER BY p.updated_at DESC LIMIT 1) AS other ON TRUE "
        f"RETURNING id, email, phone, language"
    )
    params: list[Any] = [
        form.pk,
        page.token,
        page.language,
        now,
        now,
        form.document_hash,
        form.document_type,
        ops.adapt_datefield_value(form.last_entry_date),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        page.pk, page.email, page.phone, page.language = cursor.fetchone()
    page._state.adding = False
    page._state.db = connection.alias
    return page


@transaction.atomic
def traveler_contact_set(
    *, page: TravelerPage, email: str | None = None, phone: str | None = None, language: str = ""
) -> int:
    """Set where notices go (and their language) for every form of the page's trip.

    A new address undoes an earlier unsubscribe. Returns how many pages changed.
    """
    updates: dict[str, Any] = {"updated_at": timezone.now()}
    if email is not None:
        updates["email"] = email
        updates["unsubscribed_at"] = None
    if phone is not None:
        updates["phone"] = phone
    if language:
        updates["language"] = language_parse(language)
    forms = list(trip_forms(page.form))
    for form in forms:
        traveler_page_ensure(form=form)
    return TravelerPage.objects.filter(form__in=forms).update(**updates)


@transaction.atomic
def traveler_unsubscribe(*, page: TravelerPage) -> int:
    """No more notices for the trip's forms (the link in every email)."""
    return TravelerPage.objects.filter(
        form__in=trip_forms(page.form), unsubscribed_at__isnull=True
    ).update(unsubscribed_at=timezone.now())


def _pre_choice_move(choice: PayoutPreChoice, target: str, **fields: Any) -> None:
    if target not in PRE_CHOICE_TRANSITIONS[PreChoiceStatus(choice.status)]:
        raise ValueError(f"pre-choice {choice.pk}: {choice.status} -> {target} not allowed")
    choice.status = target
    for name, value in fields.items():
        setattr(choice, name, value)
    choice.save()


@transaction.atomic
def payout_choice_set(
    *,
    form_number: str,
    document_number: str,
    payout_method: str,
    payout_account: str,
    email: str = "",
    language: str = "",
) -> PayoutPreChoice:
    """Record the transfer the traveler chose for a form, proving possession (SPEC §2).

    Raises ``TravelerFormNotFound`` for any number/document mismatch (the caller answers
    the kiosk's uniform 404 and counts it toward the form's lock); 400 for a bad method or
    account; 409 ``already_refunded`` for a form paid (or prepaid, or being paid) and
    ``form_not_payable`` for a voided or refused one. A form customs has verified already
    is paid right after this commits.
    """
    number = (form_number or "").strip()[:32]
    if form_matching_document(number=number, document_number=document_number or "") is None:
        raise TravelerFormNotFound(number)
    if payout_method not in TRANSFERS:
        raise InvalidPayoutMethod(
            f"Choose a transfer: {', '.join(TRANSFERS)}.",
            extra={"fields": {"payout_method": [f"Choose one of: {', '.join(TRANSFERS)}."]}},
        )
    parsed = payout_choice_parse(method=payout_method, account=payout_account)
    form = form_lock(number=number)
    live = Refund.objects.filter(form=form, status__in=LIVE_REFUND_STATUSES).first()
    if (
        form.status == FormStatus.REFUNDED
        or form_prepaid(form)
        or (live is not None and live.status != RefundStatus.FAILED)
    ):
        raise AlreadyRefunded(f"Form {form.number} is already refunded.")
    if form.status in (FormStatus.VOIDED, FormStatus.REJECTED):
        raise FormNotPayable(
            f"Form {form.number} is {form.status}: nothing will be paid for it.",
            extra={"status": form.status},
        )
    fields = {
        "payout_method": parsed.method,
        "payout_account_encrypted": fernet().encrypt(parsed.account.encode()).decode(),
        "payout_account_masked": parsed.masked,
        "failure_code": "",
        "failure_message": "",
    }
    choice = PayoutPreChoice.objects.select_for_update().filter(form=form).first()
    if choice is None:
        choice = PayoutPreChoice.objects.create(form=form, **fields)
    elif choice.status in (PreChoiceStatus.PAID, PreChoiceStatus.LAPSED):
        raise AlreadyRefunded(f"Form {form.number} is already refunded.")
    else:
        for name, value in fields.items():
            setattr(choice, name, value)
        choice.status = PreChoiceStatus.CHOSEN
        choice.save()
    page = traveler_page_ensure(form=form)
    if email:
        traveler_contact_set(page=page, email=email, language=language)
    elif language:
        traveler_contact_set(page=page, language=language)
    if form.status in _VERIFIED:
        from travelers.tasks import enqueue_pre_choice_pay

        transaction.on_commit(lambda: enqueue_pre_choice_pay(form.pk))
    return choice


def auto_payout_agent() -> User:
    """The inactive user recorded as the agent of automatic payments."""
    user, created = User.objects.get_or_create(
        username=AUTO_PAYOUT_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


_REFUSED = (ChecksFailed, NothingToRefund, CashLimitExceeded, MailboxTransferOnly)
_TAKEN = (AlreadyRefunded, RefundInProgress, RefundAwaitingHandover, RefundRetryRequired)


def pre_choice_pay(*, form_id: int) -> PayoutPreChoice | None:
    """Pay a form's pre-chosen transfer once customs verified it with the traveler matching.

    Safe to call any number of times (the task's body): it re-reads everything and does
    nothing when there is no pre-choice, it is no longer ``chosen``, customs has not
    verified the form, or a refund exists. Checks A, C-F are those of the counter; customs'
    traveler match stands for check B. A refused check or a declined transfer marks it
    ``failed`` (the traveler is told to see the counter); an unanswered transfer stays with
    its stored key for the stale-transfer sweep, which settles it exactly once.
    """
    choice = PayoutPreChoice.objects.select_related("form").filter(form_id=form_id).first()
    if choice is None or choice.status != PreChoiceStatus.CHOSEN:
        return choice
    form = choice.form
    verification = verification_for(form)
    if (
        verification is None
        or verification.result not in _VERIFIED
        or not verification.traveler_matches
        or form.status not in _VERIFIED
    ):
        return choice
    agency = verification.port.agency
    if agency is None:
        return _pre_choice_fail(choice, code="no_agency", message="No agency serves the port.")
    account = fernet().decrypt(choice.payout_account_encrypted.encode()).decode()
    try:
        refund = refund_pay(
            form_number=form.number,
            qr="",
            # The record's own document: customs matched the traveler to it (check B).
            document_number=decrypt_document(form.document_number_encrypted),
            payout_method=choice.payout_method,
            payout_account=account,
            agent=auto_payout_agent(),
            agency=agency,
            port=verification.port,
            record_presentation=False,
        )
    except _TAKEN:
        # Paid (or being paid) at the counter meanwhile: the refund_paid event settles it.
        return PayoutPreChoice.objects.get(pk=choice.pk)
    except _REFUSED as error:
        return _pre_choice_fail(choice, code=error.code, message=error.message)
    except PayoutDeclined as error:
        return _pre_choice_fail(choice, code=error.code, message=error.message)
    except PayoutUnavailable:
        logger.warning("automatic transfer for form %s unanswered: left to the resend", form_id)
        return PayoutPreChoice.objects.get(pk=choice.pk)
    logger.info("automatic transfer for form %s: refund %s %s", form_id, refund.pk, refund.status)
    return PayoutPreChoice.objects.get(pk=choice.pk)


@transaction.atomic
def _pre_choice_fail(choice: PayoutPreChoice, *, code: str, message: str) -> PayoutPreChoice:
    from travelers.notices import notice_create

    locked = PayoutPreChoice.objects.select_for_update().get(pk=choice.pk)
    if locked.status != PreChoiceStatus.CHOSEN:
        return locked
    _pre_choice_move(
        locked, PreChoiceStatus.FAILED, failure_code=code[:64], failure_message=message[:300]
    )
    notice_create(form=locked.form, kind=NoticeKind.PAYOUT_FAILED)
    return locked


def pre_choice_refund_settled(*, refund: Refund) -> None:
    """A refund of the form was paid: the pre-choice is paid (automatically) or lapsed."""
    choice = PayoutPreChoice.objects.select_for_update().filter(form_id=refund.form_id).first()
    if choice is None or choice.status in (PreChoiceStatus.PAID, PreChoiceStatus.LAPSED):
        return
    automatic = refund.agent.get_username() == AUTO_PAYOUT_USERNAME or (
        refund.payout_method == choice.payout_method
        and refund.payout_account_masked == choice.payout_account_masked
    )
    _pre_choice_move(
        choice, PreChoiceStatus.PAID if automatic else PreChoiceStatus.LAPSED, refund=refund
    )


def pre_choice_pay_at_counter(
    *,
    form_number: str,
    qr: str,
    document_number: str,
    agent: User,
    agency: Any,
    document_type: str | None = None,
) -> Refund:
    """The counter pays the traveler's pre-chosen transfer at once (checks A-F as usual)."""
    choice = PayoutPreChoice.objects.filter(form__number=(form_number or "").strip()[:32]).first()
    if choice is None or choice.status not in (PreChoiceStatus.CHOSEN, PreChoiceStatus.FAILED):
        raise FormNotPayable("This form has no open pre-chosen transfer.")
    return refund_pay(
        form_number=form_number,
        qr=qr,
        document_number=document_number,
        payout_method=choice.payout_method,
        payout_account=fernet().decrypt(choice.payout_account_encrypted.encode()).decode(),
        agent=agent,
        agency=agency,
        document_type=document_type,
    )

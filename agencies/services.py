"""Agency writes: pay a refund exactly once, re-send a failed transfer, record refusals.

Paying a transfer takes two short transactions with the payout call between
them, never inside one (STYLE: no network call while holding a transaction):

1. lock the form row, run checks A-F, compute the amounts on the verified
   goods, create the refund ``pending`` with a stored payout key; a unique
   constraint (one live refund per form) backs the lock up;
2. call the payout gateway with that key (idempotent at the provider);
3. lock the form and the refund again, mark the refund ``paid`` (form
   ``refunded``) or ``failed`` (retryable with the same key).

Cash involves no gateway: the first transaction leaves it ``awaiting_handover``,
and only the agent's confirmation that the cash left the drawer
(``refund_handover``) makes it ``paid``. Only the request that created a refund
is answered with it; every other request for the form is told its true state
(``refund_in_progress``, ``refund_awaiting_handover``, ``already_refunded``).
Every refusal is recorded as a RefundAttempt with its ledger entry, in its own
transaction after the refused one rolled back.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from stdnum import luhn

from agencies.exceptions import (
    AlreadyRefunded,
    CashLimitExceeded,
    ChecksFailed,
    InvalidCardNumber,
    InvalidPayoutAccount,
    InvalidPayoutMethod,
    InvalidQr,
    MailboxTransferOnly,
    NothingToRefund,
    PayoutDeclined,
    PayoutUnavailable,
    RefundAwaitingHandover,
    RefundInProgress,
    RefundNotAwaitingHandover,
    RefundNotFound,
    RefundNotRetryable,
    RefundRetryRequired,
)
from agencies.models import (
    LIVE_REFUND_STATUSES,
    REFUND_TRANSITIONS,
    PayoutMethod,
    Refund,
    RefundAttempt,
    RefundStatus,
)
from agencies.payouts import PayoutError, PayoutRequest, payout_gateway
from agencies.rows import update_if
from agencies.selectors import (
    RefundAssessment,
    counter_form_lock,
    counter_invoice_numbers,
    counter_lines,
    counter_verification,
    groups_as_dicts,
    refund_assess,
)
from core import events
from core.api.idempotency import idempotency_bind
from core.crypto import document_hash, normalize_document_number
from core.exceptions import ApplicationError, BadRequest
from core.keys import fernet
from core.ledger import ledger_append, ledger_batch, ledger_entries_save, ledger_head_annotate
from core.models import LEDGER_HEAD_FIELDS, Agency, LedgerEntry, Port
from core.money import money_str
from core.signing import MalformedQr, ParsedQr, parse_form_qr
from core.sql import insert_row
from core.transitions import transition, transition_prepare
from customs.models import Verification
from customs.selectors import verification_for
from stores.exceptions import FormNotFound
from stores.models import FORM_TRANSITIONS, DocumentType, FormStatus, RefundForm
from stores.scopes import PresentationHow, form_matching_document, presentation_record

logger = logging.getLogger(__name__)

# A refund left pending this long (crash between the payout call and step 3)
# is re-sent by the sweep with the same key.
STALE_PENDING_AFTER = timedelta(minutes=5)

_SEPARATORS = re.compile(r"[\s\-]")
_MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_INTL_MOBILE = re.compile(r"^\+\d{7,15}$")
_ALIPAY_USER_ID = re.compile(r"^2088\d{12}$")
_WECHAT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{5,19}$")
_WECHAT_OPENID = re.compile(r"^o[A-Za-z0-9_-]{27}$")


def business_today() -> date:
    """Today in Asia/Shanghai, the date of every business rule."""
    return timezone.localdate()


# --- Parsing the request (400: malformed input, nothing written) ---------------


@dataclass(frozen=True)
class PayoutChoice:
    """A validated payout method and account (empty for cash)."""

    method: str
    account: str = ""
    masked: str = ""

    @property
    def account_hash(self) -> str:
        return document_hash(self.account) if self.account else ""


def _mask_middle(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def mask_account(method: str, account: str) -> str:
    """How an account is shown: 6222 **** **** 0002, 138****0002, m***@example.com."""
    if method == PayoutMethod.BANK_CARD:
        return f"{account[:4]} **** **** {account[-4:]}"
    if "@" in account:
        local, _, domain = account.partition("@")
        return local[:1] + "***@" + domain
    if _MAINLAND_MOBILE.match(account):
        return _mask_middle(account, 3, 4)
    return _mask_middle(account, 2, 4)


def payout_method_parse(method: str) -> str:
    """One of cash, bank_card, alipay, wechat; else 400 invalid_payout_method."""
    if method not in PayoutMethod.values:
        raise InvalidPayoutMethod(
            f"Unknown payout method '{method}'.",
            extra={
                "fields": {"payout_method": [f"Choose one of: {', '.join(PayoutMethod.values)}."]}
            },
        )
    return method


def payout_choice_parse(*, method: str, account: str | None) -> PayoutChoice:
    """Validate the payout method and account: Luhn for cards, ids for Alipay and WeChat."""
    payout_method_parse(method)
    raw = (account or "").strip()
    if method == PayoutMethod.CASH:
        if raw:
            raise InvalidPayoutAccount(
                "A cash payout takes no account.",
                extra={"fields": {"payout_account": ["Leave empty for cash."]}},
            )
        return PayoutChoice(method=method)
    if not raw:
        raise InvalidPayoutAccount(
            "A transfer needs the payee account.",
            extra={"fields": {"payout_account": ["This field is required for a transfer."]}},
        )
    if method == PayoutMethod.BANK_CARD:
        digits = _SEPARATORS.sub("", raw)
        if not (digits.isdigit() and 12 <= len(digits) <= 19 and luhn.is_valid(digits)):
            raise InvalidCardNumber(
                "The bank card number is not valid (check digit).",
                extra={"fields": {"payout_account": ["Enter a valid bank card number."]}},
            )
        return PayoutChoice(method=method, account=digits, masked=mask_account(method, digits))
    value = raw if "@" in raw else _SEPARATORS.sub("", raw)
    if method == PayoutMethod.ALIPAY:
        ok = bool(
            _MAINLAND_MOBILE.match(value)
            or _INTL_MOBILE.match(value)
            or _ALIPAY_USER_ID.match(value)
            or _is_email(value)
        )
        label = "an Alipay account (mobile number, email or 2088 user id)"
    else:
        ok = bool(
            _WECHAT_ID.match(value)
            or _WECHAT_OPENID.match(value)
            or _MAINLAND_MOBILE.match(value)
            or _INTL_MOBILE.match(value)
        )
        label = "a WeChat Pay account (WeChat ID, mobile number or openid)"
    if not ok:
        raise InvalidPayoutAccount(
            f"The account is not {label}.",
            extra={"fields": {"payout_account": [f"Enter {label}."]}},
        )
    return PayoutChoice(method=method, account=value, masked=mask_account(method, value))


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def qr_parse(qr: str) -> ParsedQr:
    """Parse a scanned QR; 400 ``invalid_qr`` when it is not a form QR at all."""
    try:
        return parse_form_qr(qr or "")
    except MalformedQr as exc:
        raise InvalidQr(
            "The scanned code is not a refund form QR.",
            extra={"fields": {"qr": ["Scan the QR code printed on the refund form."]}},
        ) from exc


def _document_type_parse(document_type: str | None) -> str | None:
    if document_type in (None, ""):
        return None
    if document_type not in DocumentType.values:
        raise BadRequest(
            f"Unknown document type '{document_type}'.",
            "invalid",
            {"fields": {"document_type": [f"Choose one of: {', '.join(DocumentType.values)}."]}},
        )
    return document_type


# --- Check only ----------------------------------------------------------------


@dataclass(frozen=True)
class CounterPresentation:
    """A form at the counter: its scanned QR, or (damaged QR) its typed number and the
    full document number, which must match the record (check F then compares the record
    alone)."""

    form: RefundForm
    qr: ParsedQr | None
    # The form's verification (None: not verified), with its lines: a verification is
    # written once and never changed, so the counter's transaction reads it from here.
    verification: Verification | None = None

    @property
    def how(self) -> str:
        return PresentationHow.SCAN if self.qr is not None else PresentationHow.TYPED


def counter_form_present(
    *,
    form_number: str,
    qr: str,
    document_number: str,
    agency: Agency,
    agent: User | None = None,
    record: bool = True,
) -> CounterPresentation:
    """The form presented at the agency counter, recorded as presented to the agency.

    400 ``invalid_qr`` for a code that is not a form QR; without a QR, the typed number
    and the full document number must match (else the 404 of a missing form, so typing
    numbers finds nothing); 404 too for a form customs verified at a port the agency
    does not serve (SPEC §4: that agency may not pay it).
    """
    number = (form_number or "").strip()[:32]
    parsed: ParsedQr | None = None
    if (qr or "").strip():
        parsed = qr_parse(qr)
        if not number:
            number = parsed.number
        form = RefundForm.objects.select_related("store").filter(number=number).first()
    else:
        if not (document_number or "").strip():
            raise BadRequest(
                "Without the QR, type the full document number with the form number.",
                "invalid",
                {"fields": {"document_number": ["Type the full document number."]}},
            )
        form = form_matching_document(number=number, document_number=document_number)
    if form is None:
        raise FormNotFound(f"No refund form {number}.")
    verification = verification_for(form)
    if verification is not None and verification.port.agency_id != agency.pk:
        raise FormNotFound(f"No refund form {number}.")
    presented = CounterPresentation(form=form, qr=parsed, verification=verification)
    if record:
        presentation_record(form=form, user=agent, how=presented.how, agency=agency)
    return presented


def refund_check(
    *,
    form_number: str,
    qr: str,
    document_number: str,
    agency: Agency,
    document_type: str | None = None,
    today: date | None = None,
    agent: User | None = None,
    record: bool = True,
) -> RefundAssessment:
    """Checks A-F, amounts and payout options for the counter; writes only the presentation.

    ``qr`` empty: the damaged-QR path (typed number and full document number).
    """
    doc_type = _document_type_parse(document_type)
    presented = counter_form_present(
        form_number=form_number,
        qr=qr,
        document_number=document_number,
        agency=agency,
        agent=agent,
        record=record,
    )
    form = presented.form
    existing = Refund.objects.filter(form=form, status__in=LIVE_REFUND_STATUSES).first()
    return refund_assess(
        form=form,
        verification=presented.verification,
        qr=presented.qr,
        document_number=document_number,
        document_type=doc_type,
        agency_id=agency.pk,
        refund_date=today or business_today(),
        existing=existing,
    )


# --- Paying ----------------------------------------------------------------------

_RECORDED_REFUSALS = (
    ChecksFailed,
    NothingToRefund,
    CashLimitExceeded,
    MailboxTransferOnly,
    AlreadyRefunded,
    RefundInProgress,
    RefundAwaitingHandover,
    RefundRetryRequired,
)


def refund_attempt_record(
    *,
    form_number: str,
    agency: Agency,
    agent: User,
    port: Port | None,
    payout_method: str,
    error: ApplicationError,
    presented: CounterVisit | None = None,
) -> RefundAttempt:
    """Record a refused refund request and its ledger entry, in their own transaction.

    ``presented``: the form's presentation at the counter, which the refused
    transaction recorded and rolled back: it is recorded here instead.
    """
    with transaction.atomic():
        form: RefundForm | None
        if presented is not None and presented.form is not None:
            form = presented.form
            if presented.how:
                presentation_record(form=form, user=agent, how=presented.how, agency=agency)
        else:
            form = RefundForm.objects.filter(number=form_number[:32]).only("pk").first()
        attempt = RefundAttempt.objects.create(
            form=form,
            form_number=form_number[:32],
            agency=agency,
            agent=agent,
            port=port,
            payout_method=payout_method[:16],
            code=error.code,
            detail=error.message[:300],
            checks=error.extra.get("checks", []),
        )
        ledger_append(
            record=attempt,
            created=True,
            action="refund_refused",
            actor=agent,
            payload={
                "form": form_number[:32],
                "agency": agency.code,
                "code": error.code,
                "payout_method": payout_method[:16],
                "failed_checks": [c["code"] for c in attempt.checks if not c.get("passed")],
            },
        )
    return attempt


def refund_pay(
    *,
    form_number: str,
    qr: str,
    document_number: str,
    payout_method: str,
    agent: User,
    agency: Agency,
    payout_account: str | None = None,
    document_type: str | None = None,
    port: Port | None = None,
    today: date | None = None,
    record_presentation: bool = True,
) -> Refund:
    """Pay a form's refund exactly once after checks A-F; returns the paid refund.

    ``qr`` empty is the damaged-QR path: the typed number with the full document number
    (check F compares the record alone; the ledger entry says ``entry: typed``). A form
    verified at a port the agency does not serve is the 404 of a missing form.

    Raises 400 on malformed input and 404 for an unknown form (nothing
    written); 422 ``checks_failed`` / ``cash_limit_exceeded`` /
    ``mailbox_transfer_only`` and 409 ``already_refunded`` (recorded as
    refused attempts); 422 ``payout_declined`` or 503 ``payout_unavailable``
    when the transfer fails (the refund stays ``failed``, retryable).
    A request for a form whose refund failed re-sends it: with the same key
    (same account), or with new payout details after a definite decline.
    """
    choice = payout_choice_parse(method=payout_method, account=payout_account)
    doc_type = _document_type_parse(document_type)
    number, parsed = _counter_number(
        form_number=form_number, qr=qr, document_number=document_number
    )
    day = today or business_today()
    visit = CounterVisit()
    try:
        opened = _refund_open(
            number=number,
            parsed=parsed,
            document_number=document_number,
            document_type=doc_type,
            choice=choice,
            agent=agent,
            agency=agency,
            port=port,
            day=day,
            record_presentation=record_presentation,
            visit=visit,
        )
    except _RECORDED_REFUSALS as error:
        refund_attempt_record(
            form_number=form_number.strip(),
            agency=agency,
            agent=agent,
            port=port,
            payout_method=payout_method,
            error=error,
            presented=visit,
        )
        raise
    refund = opened.refund
    if refund.status != RefundStatus.PENDING:
        return refund
    settled = _refund_send(refund, actor=agent, opened=opened)
    if settled is not refund:
        # Settled on the locking path (re-read rows): the people and places it names are
        # the ones it was opened with, and the reply reads them from here.
        for relation in ("agent", "agency", "port"):
            if getattr(Refund, relation).is_cached(refund) and getattr(
                settled, f"{relation}_id"
            ) == getattr(refund, f"{relation}_id"):
                setattr(settled, relation, getattr(refund, relation))
        if settled.form_id == refund.form_id and RefundForm.store.is_cached(refund.form):
            settled.form.store = refund.form.store
    return settled


@dataclass
class CounterVisit:
    """The form as the refund's first transaction found it, and how it was presented
    (``how`` set once the presentation was recorded there): a refusal rolls that
    transaction back, and its own transaction records them again."""

    form: RefundForm | None = None
    how: str = ""


@dataclass
class _Opened:
    """What transaction 1 leaves in hand for transaction 2, which then reads nothing.

    ``form_status`` and the form's ledger head are as read under the form's lock;
    ``refund_row_seq`` is the ``ledger_seq`` stored on the refund's row (0 for a refund
    created just now: its head is then read from its chain, see ``core.ledger``).
    Transaction 2 writes on the condition that both rows still hold these values, so
    anything that moved them in between sends it down the locking path instead.
    """

    refund: Refund
    form: RefundForm
    form_status: str
    form_seq: int
    refund_row_seq: int


def _counter_number(
    *, form_number: str, qr: str, document_number: str
) -> tuple[str, ParsedQr | None]:
    """The form number presented and its parsed QR (None: typed, the damaged-QR path).

    400 ``invalid_qr`` for a code that is not a form QR; without a QR the full document
    number is required.
    """
    number = (form_number or "").strip()[:32]
    if (qr or "").strip():
        parsed = qr_parse(qr)
        return number or parsed.number, parsed
    if not (document_number or "").strip():
        raise BadRequest(
            "Without the QR, type the full document number with the form number.",
            "invalid",
            {"fields": {"document_number": ["Type the full document number."]}},
        )
    return number, None


def _validate_payout(assessment: RefundAssessment, method: str) -> None:
    option = assessment.option(method)
    if option is None or option.allowed:
        return
    extra = {
        "net_refund": money_str(assessment.net_refund),
        "cash_cap": money_str(assessment.cash_cap),
        "payout_options": [o.as_dict() for o in assessment.payout_options],
    }
    if assessment.mailbox:
        raise MailboxTransferOnly(option.reason, extra=extra)
    raise CashLimitExceeded(option.reason, extra=extra)


@transaction.atomic
@ledger_batch()  # the refund's creation and (cash) its handover wait: one INSERT
def _refund_open(
    *,
    number: str,
    parsed: ParsedQr | None,
    document_number: str,
    document_type: str | None,
    choice: PayoutChoice,
    agent: User,
    agency: Agency,
    port: Port | None,
    day: date,
    record_presentation: bool,
    visit: CounterVisit,
) -> _Opened:
    """Transaction 1: lock the form, check, create (or re-open) the refund; cash waits here.

    The form is read once, locked, with everything the checks need (``counter_form_lock``),
    and its lines with their verified quantities in a second statement. The form's
    presentation is recorded here: a refusal rolls it back and records it again with the
    refused attempt (``visit``).
    """
    form = counter_form_lock(number=number)
    if form is None or (parsed is None and not _document_matches(form, document_number)):
        raise FormNotFound(f"No refund form {number}.")
    verification = counter_verification(form)
    lines, facts = counter_lines(form, verification)
    if facts.verification_id != (verification.pk if verification is not None else None):
        verification = verification_for(form)  # customs decided while the lock was awaited
    if verification is not None and verification.port.agency_id != agency.pk:
        # SPEC §4: verified at a port the agency does not serve: it may not pay it.
        raise FormNotFound(f"No refund form {number}.")
    visit.form = form
    if record_presentation:
        how = PresentationHow.SCAN if parsed is not None else PresentationHow.TYPED
        presentation_record(form=form, user=agent, how=how, agency=agency)
        visit.how = how
    if facts.prepayment_paid:
        raise AlreadyRefunded(
            f"Form {form.number} was paid in advance at the store (Buy & Refund).",
            extra={"prepaid": True},
        )
    existing = None
    if facts.live_refund_id is not None:
        existing = Refund.objects.get(pk=facts.live_refund_id)
    if existing is not None and existing.status == RefundStatus.PENDING:
        raise RefundInProgress(
            f"A transfer for form {form.number} is in flight: its outcome is not known yet."
            " Nothing is to be done at the counter; the system settles it.",
            extra={"refund": existing.pk, "status": existing.status},
        )
    if existing is not None and existing.status == RefundStatus.AWAITING_HANDOVER:
        raise RefundAwaitingHandover(
            f"Form {form.number} has a cash refund waiting for the agent to confirm the"
            " handover; no second refund is paid.",
            extra={"refund": existing.pk, "status": existing.status},
        )
    if existing is not None and existing.status != RefundStatus.FAILED:
        raise AlreadyRefunded(
            f"Form {form.number} is already refunded.",
            extra={"refund": existing.pk, "status": existing.status},
        )
    if existing is not None and existing.agency_id != agency.pk:
        raise RefundRetryRequired(
            f"Form {form.number} has a failed refund at another agency; it must be re-sent there.",
            extra={"refund": existing.pk, "status": existing.status},
        )
    assessment = refund_assess(
        form=form,
        verification=verification,
        qr=parsed,
        document_number=document_number,
        document_type=document_type,
        agency_id=agency.pk,
        refund_date=day,
        existing=existing,
        form_lines=lines,
        invoice_numbers=counter_invoice_numbers(form),
        prepaid=False,
    )
    if not assessment.passed or assessment.computation is None:
        failed = [c.code for c in assessment.checks if not c.passed]
        raise ChecksFailed(
            "Check " + ", ".join(failed) + " failed: the refund cannot be paid.",
            extra={"checks": assessment.checks_as_dicts(), **assessment.amounts()},
        )
    if assessment.computation.net <= 0:
        raise NothingToRefund(
            "After the agency fee nothing is left to refund.", extra=assessment.amounts()
        )
    _validate_payout(assessment, choice.method)
    form_status, form_seq = form.status, form.ledger_seq
    if existing is not None:
        reopened = _refund_reopen(existing, choice=choice, agent=agent, agency=agency, form=form)
        return _Opened(
            refund=reopened,
            form=form,
            form_status=form_status,
            form_seq=form_seq,
            refund_row_seq=reopened.ledger_seq,
        )

    computation = assessment.computation
    assert verification is not None
    cash = choice.method == PayoutMethod.CASH
    refund = Refund(
        form=form,
        agency=agency,
        agent=agent,
        port=port or verification.port,
        # Cash waits for the handover at once: the row is written once, in that status,
        # and its two ledger entries (created, awaiting handover) go in one INSERT.
        status=RefundStatus.AWAITING_HANDOVER if cash else RefundStatus.PENDING,
        payout_method=choice.method,
        payout_account_masked=choice.masked,
        payout_account_encrypted=fernet().encrypt(choice.account.encode()).decode()
        if choice.account
        else "",
        payout_account_hash=choice.account_hash,
        policy_id=form.policy_id,
        fee_rate=assessment.fee_rate,
        cash_cap=assessment.cash_cap,
        verified_total=computation.total,
        refundable_vat=computation.refundable,
        fee=computation.fee,
        net_refund=computation.net,
        groups=groups_as_dicts(computation),
        checks=assessment.checks_as_dicts(),
        refund_date=day,
    )
    if cash:
        REFUND_TRANSITIONS.check(RefundStatus.PENDING, RefundStatus.AWAITING_HANDOVER)
    refund.payout_key = f"refund-{refund.uid}-1"
    insert_row(refund)
    idempotency_bind(refund)
    ledger_append(
        record=refund,
        created=True,
        action="refund_created",
        actor=agent,
        to_status=RefundStatus.PENDING,
        payload={
            "form": form.number,
            "agency": agency.code,
            "payout_method": choice.method,
            "payout_account": choice.masked,
            "payout_key": refund.payout_key,
            "verified_total": refund.verified_total,
            "refundable_vat": refund.refundable_vat,
            "fee": refund.fee,
            "net_refund": refund.net_refund,
            "fee_rate": refund.fee_rate,
            "checks": [c["code"] for c in refund.checks if c["passed"]],
            # How the form came to the counter: its QR scanned, or typed (manual entry).
            "entry": PresentationHow.SCAN if parsed is not None else PresentationHow.TYPED,
            "manual": parsed is None,
        },
    )
    if cash:
        entry = transition_prepare(
            refund,
            to=RefundStatus.AWAITING_HANDOVER,
            actor=agent,
            action="refund_awaiting_handover",
            from_status=RefundStatus.PENDING,
            payload=_awaiting_handover_payload(refund),
        )
        ledger_entries_save([entry])
    return _Opened(
        refund=refund, form=form, form_status=form_status, form_seq=form_seq, refund_row_seq=0
    )


def _document_matches(form: RefundForm, document_number: str) -> bool:
    """The damaged-QR path: the full document number typed is the form's."""
    return bool(normalize_document_number(document_number or "")) and (
        document_hash(document_number) == form.document_hash
    )


def _refund_reopen(
    refund: Refund, *, choice: PayoutChoice, agent: User, agency: Agency, form: RefundForm
) -> Refund:
    """A failed refund asked for again: re-send the same key, or new details after a decline."""
    locked = Refund.objects.select_for_update().get(pk=refund.pk)
    same_details = (
        locked.payout_method == choice.method and locked.payout_account_hash == choice.account_hash
    )
    if not same_details and not locked.failure_definite:
        raise RefundRetryRequired(
            "The last transfer's outcome is unknown: re-send it to the same account first.",
            extra={"refund": locked.pk, "status": locked.status},
        )
    REFUND_TRANSITIONS.check(locked.status, RefundStatus.PENDING)
    payload: dict[str, Any] = {"payout_key_reused": same_details}
    if not same_details:
        locked.payout_attempt += 1
        locked.payout_method = choice.method
        locked.payout_account_masked = choice.masked
        locked.payout_account_encrypted = (
            fernet().encrypt(choice.account.encode()).decode() if choice.account else ""
        )
        locked.payout_account_hash = choice.account_hash
        locked.payout_key = f"refund-{locked.uid}-{locked.payout_attempt}"
        payload.update({"payout_method": choice.method, "payout_account": choice.masked})
    locked.agent_id = agent.pk
    entry = transition_prepare(
        locked,
        to=RefundStatus.PENDING,
        actor=agent,
        action="refund_resent",
        from_status=RefundStatus.FAILED,
        payload={**payload, "payout_key": locked.payout_key},
    )
    locked.save()
    ledger_entries_save([entry])
    idempotency_bind(locked)
    # The rows it names, as the reply shows them: held already (same form, this agency).
    locked.form = form
    locked.agent = agent
    if locked.agency_id == agency.pk:
        locked.agency = agency
    if locked.payout_method == PayoutMethod.CASH:
        _mark_awaiting_handover(locked, actor=agent)
    return locked


def _mark_awaiting_handover(refund: Refund, *, actor: object) -> None:
    """Cash: pending -> awaiting_handover until the agent confirms it (caller's txn)."""
    transition(
        refund,
        to=RefundStatus.AWAITING_HANDOVER,
        transitions=REFUND_TRANSITIONS,
        fields=["updated_at"],
        actor=actor,
        action="refund_awaiting_handover",
        from_status=RefundStatus.PENDING,
        payload=_awaiting_handover_payload(refund),
    )


def _awaiting_handover_payload(refund: Refund) -> dict[str, Any]:
    return {"form": refund.form.number, "net_refund": refund.net_refund}


@transaction.atomic
def refund_handover(*, refund_id: int, agent: User, agency: Agency | None) -> Refund:
    """The agent confirms the cash left the drawer: awaiting_handover -> paid, form refunded.

    Idempotent: confirming a refund this very confirmation already paid returns
    it unchanged. 404 for another agency's refund; 409
    ``refund_not_awaiting_handover`` for a transfer or an unconfirmable state.
    """
    form_id = Refund.objects.filter(pk=refund_id).values_list("form_id", flat=True).first()
    if form_id is None:
        raise RefundNotFound(f"No refund {refund_id}.")
    form = RefundForm.objects.select_for_update().get(pk=form_id)
    refund = Refund.objects.select_for_update(of=("self",)).select_related("form").get(pk=refund_id)
    if agency is not None and refund.agency_id != agency.pk:
        raise RefundNotFound(f"No refund {refund_id}.")
    if refund.status == RefundStatus.PAID and refund.handed_over_at is not None:
        return refund  # confirmed already (a double click, a retry)
    if refund.status != RefundStatus.AWAITING_HANDOVER:
        raise RefundNotAwaitingHandover(
            f"Refund {refund.pk} is {refund.status}: only cash awaiting handover is confirmed.",
            extra={"refund": refund.pk, "status": refund.status},
        )
    refund.handed_over_by = agent
    refund.handed_over_at = timezone.now()
    refund.save(update_fields=["handed_over_by", "handed_over_at", "updated_at"])
    _mark_paid(refund, form=form, actor=agent, reference="", handed_over_by=agent)
    return refund


def _mark_paid(
    refund: Refund,
    *,
    form: RefundForm,
    actor: object,
    reference: str,
    handed_over_by: User | None = None,
) -> None:
    """Refund -> paid and form -> refunded, with both ledger entries (caller's txn)."""
    refund_entry, form_entry = _paid_entries(
        refund, form=form, actor=actor, reference=reference, handed_over_by=handed_over_by
    )
    refund.save(update_fields=_PAID_FIELDS)
    form.save(update_fields=["status", *LEDGER_HEAD_FIELDS])
    ledger_entries_save([refund_entry, form_entry])
    events.publish("refund_paid", refund=refund)


_PAID_FIELDS = [
    "status",
    "paid_at",
    "payout_reference",
    "failure_code",
    "failure_message",
    "failure_definite",
    "updated_at",
    *LEDGER_HEAD_FIELDS,
]


def _paid_entries(
    refund: Refund,
    *,
    form: RefundForm,
    actor: object,
    reference: str,
    handed_over_by: User | None = None,
) -> tuple[LedgerEntry, LedgerEntry]:
    """Set both rows paid/refunded in memory (heads moved); their entries, not yet saved."""
    REFUND_TRANSITIONS.check(refund.status, RefundStatus.PAID)
    FORM_TRANSITIONS.check(form.status, FormStatus.REFUNDED)
    refund.paid_at = (refund.handed_over_at if handed_over_by else None) or timezone.now()
    refund.payout_reference = reference
    refund.failure_code = ""
    refund.failure_message = ""
    refund.failure_definite = False
    payload: dict[str, Any] = {
        "form": form.number,
        "payout_method": refund.payout_method,
        "payout_account": refund.payout_account_masked,
        "payout_key": refund.payout_key,
        "payout_reference": reference,
        "net_refund": refund.net_refund,
    }
    if handed_over_by is not None:
        payload["handed_over_by"] = handed_over_by.get_username()
        payload["handed_over_at"] = refund.handed_over_at
    # Both rows' heads move with their status; both entries go in one INSERT.
    refund_entry = transition_prepare(
        refund,
        to=RefundStatus.PAID,
        actor=actor,
        action="refund_handed_over" if handed_over_by is not None else "refund_paid",
        from_status=refund.status,
        payload=payload,
    )
    form_entry = transition_prepare(
        form,
        to=FormStatus.REFUNDED,
        actor=actor,
        action="form_refunded",
        from_status=form.status,
        payload={
            "refund": refund.pk,
            "agency": refund.agency_id,
            "refundable_vat": refund.refundable_vat,
            "fee": refund.fee,
            "net_refund": refund.net_refund,
            "payout_method": refund.payout_method,
        },
    )
    return refund_entry, form_entry


def _refund_send(refund: Refund, *, actor: object, opened: _Opened | None = None) -> Refund:
    """Step 2 and 3: call the gateway outside any transaction, then record the outcome.

    ``opened``: the rows as transaction 1 left them, so that transaction 2 reads nothing.
    """
    request = PayoutRequest(
        key=refund.payout_key,
        method=refund.payout_method,
        account=fernet().decrypt(refund.payout_account_encrypted.encode()).decode(),
        account_masked=refund.payout_account_masked,
        amount=refund.net_refund,
        reference_text=f"VAT refund form {refund.form.number}",
    )
    try:
        result = payout_gateway().transfer(request)
    except PayoutError as exc:
        settled = _refund_settle(
            refund.pk,
            form_id=refund.form_id,
            actor=actor,
            paid=False,
            code=exc.code,
            message=exc.message,
            definite=False,
            opened=opened,
        )
        if settled.status == RefundStatus.PAID:
            return settled
        raise PayoutUnavailable(
            "The transfer got no answer; the refund is failed and can be re-sent safely.",
            extra={"refund": settled.pk, "status": settled.status, "retryable": True},
        ) from exc
    except Exception as exc:  # any other failure of the adapter: outcome unknown
        logger.exception("payout gateway error for refund %s", refund.pk)
        _refund_settle(
            refund.pk,
            form_id=refund.form_id,
            actor=actor,
            paid=False,
            code="payout_error",
            message=str(exc)[:300],
            definite=False,
            opened=opened,
        )
        raise PayoutUnavailable(
            "The payout provider failed; the refund is failed and can be re-sent safely.",
            extra={"refund": refund.pk, "status": RefundStatus.FAILED, "retryable": True},
        ) from exc
    settled = _refund_settle(
        refund.pk,
        form_id=refund.form_id,
        actor=actor,
        paid=result.succeeded,
        reference=result.reference,
        code=result.code,
        message=result.message,
        definite=True,
        opened=opened,
    )
    if settled.status != RefundStatus.PAID:
        raise PayoutDeclined(
            f"The transfer was declined: {result.message or result.code}",
            extra={
                "refund": settled.pk,
                "status": settled.status,
                "retryable": True,
                "reason": result.code,
            },
        )
    return settled


def _refund_settle(
    refund_id: int,
    *,
    form_id: int,
    actor: object,
    paid: bool,
    reference: str = "",
    code: str = "",
    message: str = "",
    definite: bool,
    opened: _Opened | None = None,
) -> Refund:
    """Transaction 2: pending -> paid (form refunded) or failed.

    With the rows transaction 1 left in hand (``opened``), it writes them on condition
    that they are unchanged since (``_refund_settle_held``): no read. Else, or when
    something moved them meanwhile, it locks and re-reads them (``_refund_settle_locked``).
    """
    outcome = _Outcome(
        actor=actor, paid=paid, reference=reference, code=code, message=message, definite=definite
    )
    if opened is not None and opened.form.pk == form_id and opened.refund.pk == refund_id:
        settled = _refund_settle_held(opened, outcome)
        if settled is not None:
            return settled
    return _refund_settle_locked(refund_id, form_id=form_id, outcome=outcome)


@dataclass(frozen=True)
class _Outcome:
    """The payout gateway's answer, as transaction 2 records it."""

    actor: object
    paid: bool
    reference: str = ""
    code: str = ""
    message: str = ""
    definite: bool = False


class _Moved(Exception):
    """A row changed since transaction 1: roll back, settle on the locking path."""


def _failed_payload(refund: Refund, outcome: _Outcome) -> dict[str, Any]:
    return {
        "payout_key": refund.payout_key,
        "code": outcome.code,
        "definite": outcome.definite,
        "retryable": True,
    }


def _refund_settle_held(opened: _Opened, outcome: _Outcome) -> Refund | None:
    """Transaction 2 without a read: conditional UPDATEs of the rows in hand, form first.

    Each UPDATE takes its row's lock (form, then refund: the order of every other
    writer) and changes the row only if it still holds what transaction 1 left: the
    form its status and ledger head, the refund ``pending`` under the same payout key
    with the same head. Every ledger append to either row writes the row's head
    (``transition``), so an unchanged head means no entry was appended in between and
    the entries built here chain on the true heads. None (nothing written) when a row
    moved: the caller settles on the locking path.
    """
    refund, form = opened.refund, opened.form
    if not form.ledger_seq or form.status != opened.form_status:
        return None  # the form's row carries no head (an old row): read its chain
    saved = _snapshot(refund), _snapshot(form)
    try:
        with transaction.atomic():
            _settle_held_rows(opened, outcome)
    except _Moved:
        _restore(refund, saved[0])
        _restore(form, saved[1])
        return None
    return refund


_SNAPSHOT_FIELDS = (
    "status",
    "ledger_seq",
    "ledger_hash",
    "paid_at",
    "payout_reference",
    "failure_code",
    "failure_message",
    "failure_definite",
    "updated_at",
)


def _snapshot(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _SNAPSHOT_FIELDS if hasattr(record, name)}


def _restore(record: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(record, name, value)


def _settle_held(refund: Refund, opened: _Opened, values: dict[str, Any]) -> None:
    """UPDATE the refund on condition it is as transaction 1 left it; else _Moved."""
    refund.updated_at = timezone.now()
    changed = update_if(
        Refund,
        refund.pk,
        where={
            "status": RefundStatus.PENDING,
            "payout_key": refund.payout_key,
            "ledger_seq": opened.refund_row_seq,
        },
        values={
            **values,
            "updated_at": refund.updated_at,
            "ledger_seq": refund.ledger_seq,
            "ledger_hash": refund.ledger_hash,
        },
    )
    if not changed:
        raise _Moved


def _settle_held_rows(opened: _Opened, outcome: _Outcome) -> None:
    refund, form = opened.refund, opened.form
    if outcome.paid:
        refund_entry, form_entry = _paid_entries(
            refund, form=form, actor=outcome.actor, reference=outcome.reference
        )
        changed = update_if(
            RefundForm,
            form.pk,
            where={"status": opened.form_status, "ledger_seq": opened.form_seq},
            values={
                "status": form.status,
                "ledger_seq": form.ledger_seq,
                "ledger_hash": form.ledger_hash,
            },
        )
        if not changed:
            raise _Moved
        _settle_held(
            refund,
            opened,
            {
                "status": refund.status,
                "paid_at": refund.paid_at,
                "payout_reference": refund.payout_reference,
                "failure_code": "",
                "failure_message": "",
                "failure_definite": False,
            },
        )
        ledger_entries_save([refund_entry, form_entry])
        events.publish("refund_paid", refund=refund)
        return
    REFUND_TRANSITIONS.check(refund.status, RefundStatus.FAILED)
    refund.failure_code = outcome.code[:64]
    refund.failure_message = outcome.message[:300]
    refund.failure_definite = outcome.definite
    entry = transition_prepare(
        refund,
        to=RefundStatus.FAILED,
        actor=outcome.actor,
        action="refund_failed",
        from_status=RefundStatus.PENDING,
        payload=_failed_payload(refund, outcome),
    )
    _settle_held(
        refund,
        opened,
        {
            "status": refund.status,
            "failure_code": refund.failure_code,
            "failure_message": refund.failure_message,
            "failure_definite": refund.failure_definite,
        },
    )
    ledger_entries_save([entry])


@transaction.atomic
def _refund_settle_locked(refund_id: int, *, form_id: int, outcome: _Outcome) -> Refund:
    """Transaction 2, reading: lock form then refund; pending -> paid (form refunded) or failed."""
    form = RefundForm.objects.select_for_update().get(pk=form_id)
    refund = (
        ledger_head_annotate(Refund.objects.select_for_update(of=("self",)))
        .select_related("form")
        .get(pk=refund_id)
    )
    if refund.status != RefundStatus.PENDING:
        return refund  # settled meanwhile by a concurrent re-send: nothing to do
    if outcome.paid:
        _mark_paid(refund, form=form, actor=outcome.actor, reference=outcome.reference)
        return refund
    refund.failure_code = outcome.code[:64]
    refund.failure_message = outcome.message[:300]
    refund.failure_definite = outcome.definite
    transition(
        refund,
        to=RefundStatus.FAILED,
        transitions=REFUND_TRANSITIONS,
        fields=["failure_code", "failure_message", "failure_definite", "updated_at"],
        actor=outcome.actor,
        action="refund_failed",
        from_status=RefundStatus.PENDING,
        payload=_failed_payload(refund, outcome),
    )
    return refund


@transaction.atomic
def _refund_resend_open(
    *, refund_id: int, agency_id: int | None, actor: object, stale_pending: bool
) -> Refund:
    """Lock form then refund; failed -> pending under the same payout key."""
    form_id = Refund.objects.filter(pk=refund_id).values_list("form_id", flat=True).first()
    if form_id is None:
        raise RefundNotFound(f"No refund {refund_id}.")
    RefundForm.objects.select_for_update().get(pk=form_id)
    refund = Refund.objects.select_for_update().select_related("form").get(pk=refund_id)
    if agency_id is not None and refund.agency_id != agency_id:
        raise RefundNotFound(f"No refund {refund_id}.")
    if refund.status == RefundStatus.PENDING and stale_pending:
        return refund  # the sweep re-sends stale pending refunds as they are
    if refund.status != RefundStatus.FAILED:
        raise RefundNotRetryable(
            f"Refund {refund.pk} is {refund.status}; only a failed refund can be re-sent.",
            extra={"status": refund.status},
        )
    transition(
        refund,
        to=RefundStatus.PENDING,
        transitions=REFUND_TRANSITIONS,
        fields=["updated_at"],
        actor=actor,
        action="refund_resent",
        from_status=RefundStatus.FAILED,
        payload={"payout_key": refund.payout_key, "payout_key_reused": True},
    )
    idempotency_bind(refund)  # an agent's re-send request whose process dies is settled too
    return refund


def refund_retry(
    *,
    refund_id: int,
    actor: User | None,
    agency: Agency | None,
    stale_pending: bool = False,
) -> Refund:
    """Re-send a failed transfer with its stored key and account: pays at most once.

    ``agency`` scopes the refund (None for the system sweep, which also re-sends
    ``stale_pending`` refunds left by a crash).
    """
    refund = _refund_resend_open(
        refund_id=refund_id,
        agency_id=agency.pk if agency else None,
        actor=actor or "system",
        stale_pending=stale_pending,
    )
    if refund.payout_method == PayoutMethod.CASH:
        # A cash refund is never pending after its first transaction (awaiting_handover).
        return refund
    return _refund_send(refund, actor=actor or "system")


def refunds_resend_stale(*, older_than: timedelta = STALE_PENDING_AFTER) -> int:
    """Reconcile transfers whose outcome is unknown, under their stored payout key.

    Two cases: a refund left ``pending`` by a crash between the payout call and
    its record, and one ``failed`` without a definite answer (a timeout: the
    provider may have paid). The provider deduplicates on the key, so the
    re-send either confirms the earlier payment or makes it, never a second one.
    """
    cutoff = timezone.now() - older_than
    ids = list(
        Refund.objects.filter(
            Q(status=RefundStatus.PENDING) | Q(status=RefundStatus.FAILED, failure_definite=False),
            updated_at__lt=cutoff,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    done = 0
    for refund_id in ids:
        try:
            refund_retry(refund_id=refund_id, actor=None, agency=None, stale_pending=True)
            done += 1
        except (PayoutUnavailable, PayoutDeclined):
            logger.warning("stale refund %s re-sent and failed again", refund_id)
    return done

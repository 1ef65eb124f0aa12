"""Buy & Refund (即买即退): the prepayment at the store and its card guarantee (SPEC §2).

Every gateway call follows the payout pattern (agencies.services._refund_send):

1. a short transaction locks the form, checks, and records the intent as a
   ``GuaranteeOperation`` with a stored idempotency key (plus ledger entries);
2. the card gateway is called with that key outside any transaction;
3. a second short transaction records the outcome (plus ledger entries).

A repeated key is answered by the gateway with its first outcome, so a retried
task or a sweep run twice can never charge twice. ``guarantees_sweep`` is the
daily work: release after customs verification, partial capture after a
partial one, re-authorize a hold about to expire, capture the prepayment once
the deadline and its grace have passed without customs verification.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone

from agencies.cards import CardGatewayError, CardRequest, CardResult, card_gateway
from agencies.exceptions import CashLimitExceeded
from agencies.models import (
    ACTIVE_GUARANTEE_STATUSES,
    GUARANTEE_TRANSITIONS,
    PREPAYMENT_TRANSITIONS,
    REQUEST_ATTEMPT_PREFIX,
    Guarantee,
    GuaranteeOperation,
    GuaranteeStatus,
    OperationKind,
    OperationStatus,
    PayoutMethod,
    Prepayment,
    PrepaymentStatus,
)
from agencies.services import payout_method_parse
from buyrefund.rows import row_update
from core import events, rules
from core.api.idempotency import idempotency_bind
from core.exceptions import ApplicationError, BadRequest, RuleViolation, StateConflict
from core.ledger import LedgerItem, ledger_append_many, ledger_batch, ledger_entries_save
from core.models import LedgerHead, Store
from core.money import quantize_money
from core.prepared import PreparedObjects
from core.selectors import buy_and_refund_days, policies_all, working_days_add
from core.transitions import transition_prepare
from customs.models import VerificationLine, VerificationResult
from customs.selectors import verification_for
from stores.exceptions import FormNotFound, FormNotVoidable, NotBuyAndRefundStore
from stores.models import FORM_TRANSITIONS, FormStatus, RefundForm
from stores.sql import insert_row

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
GRACE_WORKING_DAYS = 3
# A sweep re-authorizes when the current hold expires within this many days.
REAUTHORIZE_WITHIN_DAYS = 1
# The POST retries an unanswered authorization this many times in all, at once
# (same key: the gateway executes it at most once); the task backs off instead.
INLINE_ATTEMPTS = 3

_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{3,64}$")
_CARD_NUMBER_LIKE = re.compile(r"^\d{12,19}$")


# --- Errors (SPEC §4 codes) ------------------------------------------------------


class CardDeclined(RuleViolation):
    """The card gateway declined the pre-authorization: nothing was paid."""

    default_code = "card_declined"


class CardHolderMismatch(RuleViolation):
    """The card must be in the traveler's own name."""

    default_code = "card_holder_mismatch"


class NoBuyAndRefundWindow(RuleViolation):
    """No regional departure window is configured for the store's region."""

    default_code = "no_buy_and_refund_window"


class PrepaymentExists(StateConflict):
    """A form gets one prepayment."""

    default_code = "prepayment_exists"


class FormNotPrepayable(StateConflict):
    """Only an issued form can be prepaid."""

    default_code = "form_not_prepayable"


class PrepaymentNotReturnable(StateConflict):
    """Only a paid prepayment (or cash not handed over yet) can be returned."""

    default_code = "prepayment_not_returnable"


class PrepaymentInProgress(StateConflict):
    """The form's guarantee is being placed right now by another request."""

    default_code = "prepayment_in_progress"


class PrepaymentAbandoned(StateConflict):
    """The request's authorization got no answer in time and was undone: nothing was paid."""

    default_code = "prepayment_abandoned"


class PrepaymentNotAwaitingHandover(StateConflict):
    """Only a cash prepayment awaiting handover can be confirmed as handed over."""

    default_code = "prepayment_not_awaiting_handover"


class InvalidCardToken(BadRequest):
    """A card token from the terminal is expected, never a card number."""

    default_code = "invalid_card_token"


class CardGatewayUnavailable(ApplicationError):
    """No answer from the card gateway: nothing is paid yet; send the same request again."""

    status_code = 503
    default_code = "card_gateway_unavailable"


# --- Pure helpers -----------------------------------------------------------------


def add_working_days(day: date, count: int) -> date:
    """``day`` plus ``count`` working days on the official Chinese calendar (holidays off,
    adjusted weekend working days on), with the administrator's overrides."""
    return working_days_add(day=day, count=count)


def names_match(a: str, b: str) -> bool:
    """Card holder vs traveler name as sets of words: case, spacing, order free."""
    return rules.names_match(a, b)


def business_time(day: date) -> datetime:
    """The moment a sweep for ``day`` acts: now when ``day`` is today, else noon that day."""
    now = timezone.now()
    if day == timezone.localdate(now):
        return now
    return timezone.make_aware(datetime.combine(day, time(12, 0)))


def verified_net_refund(form: RefundForm) -> Decimal | None:
    """Net refund on the goods customs verified (invoice-date policy, form fee rate), or None."""
    verification = verification_for(form)
    if verification is None or verification.result not in (
        VerificationResult.VERIFIED,
        VerificationResult.PARTIALLY_VERIFIED,
    ):
        return None
    rows = (
        VerificationLine.objects.filter(verification=verification, verified_total__gt=0)
        .values("form_line__vat_rate")
        .annotate(total=Sum("verified_total"))
        .order_by("form_line__vat_rate")
    )
    lines = [rules.LineFacts(vat_rate=r["form_line__vat_rate"], total=r["total"]) for r in rows]
    if not lines:
        return ZERO
    policy = rules.in_force(policies_all(), form.purchase_date)
    computation = rules.compute_refund(lines, policy=policy, fee_rate=form.fee_rate)
    return max(quantize_money(computation.net), ZERO)


# --- The prepayment at the store ------------------------------------------------------


def _token_parse(token: str) -> str:
    value = (token or "").strip()
    if _CARD_NUMBER_LIKE.match(value.replace(" ", "").replace("-", "")):
        raise InvalidCardToken(
            "Send the card token from the terminal, never the card number.",
            extra={"fields": {"card_token": ["A card number is not accepted; send its token."]}},
        )
    if not _TOKEN.match(value):
        raise InvalidCardToken(
            "The card token is malformed.",
            extra={"fields": {"card_token": ["Enter the card token from the terminal."]}},
        )
    return value


def prepayment_pay(
    *,
    form_number: str,
    clerk: User,
    store: Store,
    card_token: str,
    card_holder_name: str,
    payout_method: str,
    today: date | None = None,
    attempt: str = "",
) -> Prepayment:
    """Place the guarantee for the form's net refund, then pay it out as the prepayment.

    A cash prepayment is ``awaiting_handover`` until the clerk confirms the cash
    left the drawer (``prepayment_handover``). ``attempt`` identifies the
    client's request (its Idempotency-Key record, the page's session): only the
    request that created a prepayment whose authorization got no answer resumes
    it; any other request is told the prepayment's true state (409).

    Raises 400 on a malformed token or payout method, 404 for a form of another
    store, 422 ``not_buy_and_refund_store`` / ``card_holder_mismatch`` /
    ``cash_limit_exceeded``, 409 ``prepayment_exists`` / ``form_not_prepayable``
    (nothing written); 422 ``card_declined`` when the gateway declines (the
    guarantee and prepayment are recorded ``failed``; another card may be
    tried); 503 ``card_gateway_unavailable`` when it does not answer (the same
    request again resumes with the same key).

    The returned prepayment carries its guarantee (``prepayment.guarantee``): the
    rows as this request wrote them, nothing read back.
    """
    token = _token_parse(card_token)
    method = payout_method_parse(payout_method)
    holder = " ".join((card_holder_name or "").split())
    if not holder:
        raise BadRequest(
            "Give the card holder's name.",
            "invalid",
            {"fields": {"card_holder_name": ["This field may not be blank."]}},
        )
    day = today or timezone.localdate()
    opened = _prepayment_open(
        form_number=form_number.strip(),
        clerk=clerk,
        store=store,
        token=token,
        holder=holder,
        method=method,
        day=day,
        attempt=attempt,
    )
    if isinstance(opened, Prepayment):
        return _answer_again(opened)
    try:
        operation = _operation_send(opened, attempts=INLINE_ATTEMPTS, actor=clerk, in_hand=True)
    except CardGatewayError as exc:
        raise CardGatewayUnavailable(
            "The card gateway did not answer; nothing was paid. Send the same request again.",
            extra={"retryable": True},
        ) from exc
    guarantee = operation.guarantee
    prepayment = guarantee.prepayment
    prepayment.guarantee = guarantee
    if prepayment.status == PrepaymentStatus.FAILED:
        raise CardDeclined(
            f"The card was declined: {operation.failure_message or operation.failure_code}",
            extra={"reason": operation.failure_code, "guarantee": guarantee.status},
        )
    return prepayment


def _answer_again(prepayment: Prepayment) -> Prepayment:
    """The answer the first attempt of the same request got (or would have got)."""
    guarantee = prepayment.guarantee
    if prepayment.status != PrepaymentStatus.FAILED:
        return prepayment
    if guarantee.status == GuaranteeStatus.FAILED:
        raise CardDeclined(
            f"The card was declined: {guarantee.failure_message or guarantee.failure_code}",
            extra={"reason": guarantee.failure_code, "guarantee": guarantee.status},
        )
    raise PrepaymentAbandoned(
        "The authorization was never answered in time and was undone: nothing was paid.",
        extra={"reason": "prepayment_abandoned", "guarantee": guarantee.status},
    )


@functools.cache
def _form_related() -> tuple[str, ...]:
    """What the prepayment's form lock reads along: the store, and the traveler's phone page
    when the travelers app keeps one (its hold-placed notice then reads nothing more)."""
    names = {field.name for field in RefundForm._meta.get_fields()}
    return ("store", *(("traveler_page",) if "traveler_page" in names else ()))


@functools.cache
def _form_locked_by_number() -> PreparedObjects:
    """``_form_locked`` by number (the clerk's requests), built and compiled once per
    process (core.prepared, issue 12)."""
    return PreparedObjects(
        RefundForm,
        lambda number: RefundForm.objects.select_for_update(of=("self",)).filter(number=number),
        "number",
        related=_form_related(),
    )


def _form_locked(*, number: str = "", pk: int | None = None) -> RefundForm:
    """The form row locked for update (caller's transaction) with its store; 404 if unknown."""
    if pk is None:
        found = _form_locked_by_number().objects(number=number)
        if not found:
            raise FormNotFound(f"No refund form {number}.")
        return found[0]  # type: ignore[no-any-return]
    lookup: dict[str, Any] = {"pk": pk}
    try:
        return (
            RefundForm.objects.select_for_update(of=("self",))
            .select_related(*_form_related())
            .get(**lookup)
        )
    except RefundForm.DoesNotExist:
        raise FormNotFound(f"No refund form {number or pk}.") from None


@transaction.atomic
def _prepayment_open(
    *,
    form_number: str,
    clerk: User,
    store: Store,
    token: str,
    holder: str,
    method: str,
    day: date,
    attempt: str = "",
) -> GuaranteeOperation | Prepayment:
    """Transaction 1: lock the form, check, record prepayment, guarantee, authorize intent.

    The prepayment's INSERT is the check for an existing one (the partial unique
    constraints: one prepayment per form but declined ones, one per client request):
    only when it conflicts is the existing one read, to resume it, to answer with it
    (the same request again) or to tell its state. Returns the operation to send, or
    the prepayment that is the answer already.
    """
    form = _form_locked(number=form_number)
    if form.store_id != store.pk:
        raise FormNotFound(f"No refund form {form_number} at your store.")
    if not (form.buy_and_refund and form.store.buy_and_refund):
        raise NotBuyAndRefundStore(
            f"Form {form.number} is not a Buy & Refund form of a Buy & Refund store."
        )
    try:
        deadline, window = _prepayment_check(form, holder=holder, method=method)
    except ApplicationError:
        # As before any check: an existing prepayment is the answer (or is resumed).
        found = _existing(form, token=token, attempt=attempt)
        if found is not None:
            return found
        raise
    prepayment = Prepayment(
        form=form,
        store=store,
        clerk=clerk,
        amount=form.net_refund,
        payout_method=method,
        attempt=attempt[:100],
    )
    if not insert_row(prepayment, skip_conflict=True):
        found = _existing(form, token=token, attempt=attempt)
        if found is None:  # a conflict on the uid alone (never seen: a random UUID)
            raise PrepaymentInProgress(f"Form {form.number} is being prepaid right now.")
        return found
    # Not bound to the Idempotency-Key record: the request sent again finds its
    # prepayment by ``attempt`` (one per request, a unique constraint), see ``_existing``.
    guarantee = Guarantee(
        prepayment=prepayment,
        form=form,
        agency_id=form.store.serving_agency_id,
        amount=prepayment.amount,
        card_token=token,
        card_holder_name=holder,
        deadline=deadline,
        grace_until=add_working_days(deadline, GRACE_WORKING_DAYS),
    )
    insert_row(guarantee)
    ledger_append_many(
        [
            LedgerItem(
                record=prepayment,
                created=True,
                action="prepayment_created",
                actor=clerk,
                to_status=PrepaymentStatus.PENDING,
                payload={"form": form.number, "amount": prepayment.amount, "payout_method": method},
            ),
            LedgerItem(
                record=guarantee,
                created=True,
                action="guarantee_created",
                actor=clerk,
                to_status=GuaranteeStatus.PENDING,
                payload={
                    "form": form.number,
                    "amount": guarantee.amount,
                    "deadline": deadline,
                    "grace_until": guarantee.grace_until,
                    "window_days": window,
                },
            ),
        ]
    )
    return _operation_record(
        guarantee, kind=OperationKind.AUTHORIZE, amount=guarantee.amount, day=day, leased=True
    )


def _prepayment_check(form: RefundForm, *, holder: str, method: str) -> tuple[date, int]:
    """The refusals before any card call; the guarantee's deadline and window when none."""
    if form.status != FormStatus.ISSUED:
        raise FormNotPrepayable(
            f"Form {form.number} is {form.status}; only an issued form can be prepaid.",
            extra={"status": form.status},
        )
    if not names_match(holder, form.traveler_name):
        unmatched = rules.name_words_unmatched(holder, form.traveler_name)
        message = (
            f"The card holder name {holder!r} does not match the traveler"
            f" {form.traveler_name!r} on the form"
            + (f" ({', '.join(w.upper() for w in unmatched)} not in it)." if unmatched else ".")
            + " The card must be in the traveler's own name."
        )
        raise CardHolderMismatch(
            message,
            extra={
                "card_holder_name": holder,
                "traveler_name": form.traveler_name,
                "unmatched_words": [w.upper() for w in unmatched],
                "fields": {"card_holder_name": [message]},
            },
        )
    policy = rules.in_force(policies_all(), form.purchase_date)
    if method == PayoutMethod.CASH and form.net_refund > policy.cash_cap:
        raise CashLimitExceeded(
            f"The prepayment RMB {form.net_refund} is over the cash cap: pay it digitally.",
            extra={"net_refund": str(form.net_refund), "cash_cap": str(policy.cash_cap)},
        )
    window = buy_and_refund_days(region_code=form.store.region_code, day=form.purchase_date)
    if window is None:
        raise NoBuyAndRefundWindow(
            f"No Buy & Refund window is configured for region {form.store.region_code}."
        )
    return form.purchase_date + timedelta(days=window), window


def _existing(
    form: RefundForm, *, token: str, attempt: str
) -> GuaranteeOperation | Prepayment | None:
    """An existing prepayment decides (None: the form has none and this request made none).

    The same client request sent again (its Idempotency-Key: ``REQUEST_ATTEMPT_PREFIX``)
    gets what its first attempt got, whatever became of it: the prepayment to answer
    with, its decline again (422), or 409 ``prepayment_abandoned``. The same request
    (key or page session) whose authorization got no answer resumes it: its operation is
    returned, lease taken. Any other request is told the prepayment's true state (409).
    """
    mine = Q(attempt=attempt) if attempt.startswith(REQUEST_ATTEMPT_PREFIX) else Q(pk__in=[])
    rows = list(
        Prepayment.objects.select_for_update(of=("self",))
        .filter(Q(form=form) & (~Q(status=PrepaymentStatus.FAILED) | mine))
        .select_related("guarantee")
        .order_by("-pk")
    )
    own = next((p for p in rows if attempt and p.attempt == attempt), None)
    existing = own or next((p for p in rows if p.status != PrepaymentStatus.FAILED), None)
    if existing is None:
        return None
    guarantee = existing.guarantee
    existing.form = guarantee.form = form
    guarantee.prepayment = existing
    if existing is own and existing.status == PrepaymentStatus.PENDING:
        if guarantee.card_token == token:
            # The same request again after no answer from the gateway: resume its key.
            operation = guarantee.operations.get(status=OperationStatus.PENDING)
            if not _lease_claim(operation.pk):
                raise PrepaymentInProgress(
                    f"The guarantee of form {form.number} is being placed right now.",
                    extra={"prepayment": existing.status, "guarantee": guarantee.status},
                )
            operation.guarantee = guarantee
            operation.attempts += 1  # counted with the lease
            return operation
    elif existing is own and attempt.startswith(REQUEST_ATTEMPT_PREFIX):
        return existing  # what this request's first attempt got: its answer again
    raise PrepaymentExists(
        f"Form {form.number} already has a prepayment ({existing.status}).",
        extra={"prepayment": existing.status, "guarantee": guarantee.status},
    )


def _operation_record(
    guarantee: Guarantee,
    *,
    kind: str,
    amount: Decimal,
    day: date,
    seq: int | None = None,
    hold_reference: str | None = None,
    leased: bool = False,
) -> GuaranteeOperation:
    """The intent: an operation row with its idempotency key (caller's transaction).

    ``leased``: the caller sends it next, so no other process re-sends it meanwhile
    (and its first attempt is counted now, with the lease).
    """
    suffix = f"-{seq}" if seq is not None else ""
    operation = GuaranteeOperation(
        guarantee=guarantee,
        kind=kind,
        key=f"guarantee-{guarantee.prepayment.uid}-{kind}{suffix}",
        amount=amount,
        hold_reference=guarantee.hold_reference if hold_reference is None else hold_reference,
        business_date=day,
        lease_expires_at=_lease_end() if leased else None,
        attempts=1 if leased else 0,
    )
    insert_row(operation)
    return operation


def _lease_end() -> datetime:
    return timezone.now() + timedelta(seconds=settings.GUARANTEE_OPERATION_LEASE_SECONDS)


def _lease_claim(operation_id: int) -> bool:
    """Take the lease of a pending operation to send it next; False while another process
    holds it. Taking it counts the attempt.

    The sender of an operation holds its lease until the answer is recorded; a
    sender that died is replaced once the lease has expired (same key, so the
    gateway still executes it at most once).
    """
    now = timezone.now()
    return bool(
        GuaranteeOperation.objects.filter(pk=operation_id, status=OperationStatus.PENDING)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
        .update(lease_expires_at=_lease_end(), attempts=F("attempts") + 1)
    )


# The gateway's verb for each operation kind.
_GATEWAY_KIND: dict[str, str] = {
    OperationKind.REAUTHORIZE: "authorize",
    OperationKind.RELEASE_PREVIOUS: "release",
}


def _operation_send(
    operation: GuaranteeOperation,
    *,
    attempts: int = 1,
    actor: Any = "system",
    abandon: bool = False,
    in_hand: bool = False,
) -> GuaranteeOperation:
    """Call the gateway with the stored key outside any transaction, then record the outcome.

    The caller holds the operation's lease (taking it counted the first attempt).
    Re-sends at once up to ``attempts`` times while the gateway gives no
    answer; raises CardGatewayError if it never does (the operation stays
    ``pending`` and is re-sent later with the same key). ``abandon``: an
    authorization the clerk never got an answer for is only settled to be
    undone (see ``_apply``). ``in_hand``: the operation's guarantee, prepayment and
    form are the rows the caller's transaction 1 wrote or locked (see
    ``_operation_settle``).
    """
    guarantee = operation.guarantee
    request = CardRequest(
        key=operation.key,
        kind=_GATEWAY_KIND.get(operation.kind, operation.kind),
        token=guarantee.card_token,
        amount=operation.amount,
        requested_at=business_time(operation.business_date),
        hold_reference=operation.hold_reference,
        holder_name=guarantee.card_holder_name,
    )
    gateway = card_gateway()
    last: CardGatewayError | None = None
    for attempt in range(max(1, attempts)):
        if attempt:
            _attempt_count(operation)
        try:
            result = gateway.execute(request)
        except CardGatewayError as exc:
            last = exc
            continue
        return _operation_settle(
            operation, result=result, actor=actor, abandon=abandon, in_hand=in_hand
        )
    assert last is not None
    logger.warning("card gateway gave no answer for %s: %s", operation.key, last.code)
    # No answer: free the lease so the next retry (same key) need not wait for it.
    GuaranteeOperation.objects.filter(pk=operation.pk).update(lease_expires_at=None)
    raise last


def _attempt_count(operation: GuaranteeOperation) -> None:
    GuaranteeOperation.objects.filter(pk=operation.pk).update(attempts=F("attempts") + 1)
    operation.attempts += 1


class _SettledMeanwhile(Exception):
    """The rows in hand are no longer current: another process settled the operation."""


def _outcome_set(operation: GuaranteeOperation, result: CardResult) -> dict[str, Any]:
    """The gateway's answer on the operation (in memory); the columns to write."""
    operation.status = OperationStatus.SUCCEEDED if result.succeeded else OperationStatus.DECLINED
    operation.reference = result.reference[:80]
    operation.hold_expires_at = result.hold_expires_at
    operation.failure_code = result.code[:64]
    operation.failure_message = result.message[:300]
    operation.completed_at = timezone.now()
    operation.lease_expires_at = None
    return {name: getattr(operation, name) for name in _OUTCOME_FIELDS}


_OUTCOME_FIELDS = (
    "status",
    "reference",
    "hold_expires_at",
    "failure_code",
    "failure_message",
    "completed_at",
    "lease_expires_at",
)


def _operation_settle(
    operation: GuaranteeOperation,
    *,
    result: CardResult,
    actor: Any,
    abandon: bool = False,
    in_hand: bool = False,
) -> GuaranteeOperation:
    """Transaction 2: apply the gateway's answer once.

    ``in_hand`` (the clerk's own authorization, its rows from transaction 1 and its
    lease held): no read at all. The guarantee is written first and only while it is
    still ``pending``, then the prepayment, then the operation (the order every writer
    of these rows follows: guarantee, prepayment, operation); should another process
    have settled it meanwhile (a lease outlived), nothing is written and the locked
    path below re-reads everything. Otherwise: lock form, guarantee, operation.
    """
    if in_hand:
        try:
            return _settle_in_hand(operation, result=result, actor=actor)
        except _SettledMeanwhile:
            logger.warning("operation %s was settled by another process", operation.key)
    return _settle_locked(operation, result=result, actor=actor, abandon=abandon)


def _settle_in_hand(
    operation: GuaranteeOperation, *, result: CardResult, actor: Any
) -> GuaranteeOperation:
    guarantee = operation.guarantee
    with transaction.atomic(), ledger_batch():
        outcome = _outcome_set(operation, result)
        changes = _Changes(fence={id(guarantee): guarantee.status})
        _apply(guarantee, operation, form=guarantee.form, actor=actor, changes=changes)
        changes.write_rows()
        if not row_update(
            GuaranteeOperation, operation.pk, outcome, status=OperationStatus.PENDING
        ):
            raise _SettledMeanwhile
        changes.write_operations()
        changes.announce()
    return operation


@transaction.atomic
def _settle_locked(
    operation: GuaranteeOperation, *, result: CardResult, actor: Any, abandon: bool
) -> GuaranteeOperation:
    form = _form_locked(pk=operation.guarantee.form_id)
    guarantee = (
        Guarantee.objects.select_for_update(of=("self",))
        .select_related("prepayment")
        .get(pk=operation.guarantee_id)
    )
    guarantee.form = form
    outcome = _outcome_set(operation, result)
    settled = row_update(GuaranteeOperation, operation.pk, outcome, status=OperationStatus.PENDING)
    if not settled:  # settled meanwhile by a concurrent re-send
        operation = GuaranteeOperation.objects.get(pk=operation.pk)
        operation.guarantee = guarantee
        return operation
    operation.guarantee = guarantee
    with ledger_batch():
        changes = _Changes()
        _apply(guarantee, operation, form=form, actor=actor, abandon=abandon, changes=changes)
        changes.write_rows()
        changes.write_operations()
        changes.announce()
    return operation


class _Changes:
    """What one settle changed in memory, written at its end: one UPDATE per row (its
    ledger head with it), then the operations it recorded; then its events.

    ``fence``: rows (by ``id()``) written only while their status is still the given
    one; a fenced row found changed raises ``_SettledMeanwhile`` (nothing is kept).
    """

    def __init__(self, fence: dict[int, str] | None = None) -> None:
        self.rows: dict[int, tuple[models.Model, set[str]]] = {}
        self.operations: list[dict[str, Any]] = []
        self.moved: list[tuple[Guarantee, str]] = []
        self.fence = fence or {}

    def save(self, record: models.Model, *fields: str) -> None:
        """Write these fields of ``record`` (and its ledger head) at the end."""
        self.rows.setdefault(id(record), (record, set()))[1].update(fields)

    def write_rows(self) -> None:
        now = timezone.now()
        for key, (record, fields) in self.rows.items():
            values: dict[str, Any] = {name: getattr(record, name) for name in sorted(fields)}
            if isinstance(record, LedgerHead):
                values["ledger_seq"], values["ledger_hash"] = record.ledger_seq, record.ledger_hash
            if isinstance(record, (Guarantee, Prepayment)):
                record.updated_at = values["updated_at"] = now
            fence = self.fence.get(key)
            if not row_update(type(record), record.pk, values, status=fence) and fence:
                raise _SettledMeanwhile

    def write_operations(self) -> None:
        for operation in self.operations:
            _operation_record(**operation)

    def announce(self) -> None:
        for guarantee, previous in self.moved:
            events.publish("guarantee_moved", guarantee=guarantee, previous=previous)


def _entry(
    record: models.Model, *, to: str, actor: Any, action: str, payload: dict[str, Any]
) -> None:
    """The ledger entry of a change of ``record`` (``to``: its status after), batched; its
    status and in-memory ledger head move (the row is written by ``_Changes``)."""
    current: str = record.status  # type: ignore[attr-defined]
    entry = transition_prepare(
        record, to=to, actor=actor, action=action, payload=payload, from_status=current
    )
    ledger_entries_save([entry])


def _guarantee_move(
    guarantee: Guarantee,
    target: str,
    *,
    actor: Any,
    action: str,
    payload: dict[str, Any],
    changes: _Changes,
    fields: tuple[str, ...] = (),
) -> None:
    previous = guarantee.status
    GUARANTEE_TRANSITIONS.check(previous, target)
    _entry(guarantee, to=target, actor=actor, action=action, payload=payload)
    changes.save(guarantee, "status", *fields)
    changes.moved.append((guarantee, previous))


def _guarantee_note(
    guarantee: Guarantee,
    *,
    actor: Any,
    action: str,
    payload: dict[str, Any],
    changes: _Changes,
    fields: tuple[str, ...] = (),
) -> None:
    """A guarantee's ledger entry that changes no status (a decline, a partial capture,
    the previous hold released), saved with ``fields``."""
    _entry(guarantee, to=guarantee.status, actor=actor, action=action, payload=payload)
    changes.save(guarantee, *fields)


def _prepayment_move(
    prepayment: Prepayment,
    target: str,
    *,
    actor: Any,
    action: str,
    payload: dict[str, Any],
    changes: _Changes,
) -> None:
    PREPAYMENT_TRANSITIONS.check(prepayment.status, target)
    now = timezone.now()
    if target == PrepaymentStatus.PAID:
        prepayment.paid_at = prepayment.handed_over_at or now
    if target == PrepaymentStatus.RETURNED:
        prepayment.returned_at = now
    _entry(prepayment, to=target, actor=actor, action=action, payload=payload)
    changes.save(
        prepayment, "status", "paid_at", "returned_at", "handed_over_by_id", "handed_over_at"
    )


_DECLINE_FIELDS = ("failure_code", "failure_message")
_HOLD_FIELDS = ("hold_reference", "hold_expires_at", "authorizations")


def _apply(
    guarantee: Guarantee,
    operation: GuaranteeOperation,
    *,
    form: RefundForm,
    actor: Any,
    changes: _Changes,
    abandon: bool = False,
) -> None:
    """The state change an operation's outcome makes, with its ledger entries (in memory;
    ``changes`` writes the rows).

    An abandoned authorization (the clerk's request never got its answer, and
    a later day's sweep learned it) was never paid out: the prepayment fails
    (``abandoned``) and the hold is released, so the card is never charged for
    money the traveler did not receive.
    """
    base = {"form": form.number, "operation": operation.kind, "key": operation.key}
    kind = operation.kind
    ok = operation.status == OperationStatus.SUCCEEDED
    if kind == OperationKind.AUTHORIZE:
        prepayment = guarantee.prepayment
        if ok:
            guarantee.hold_reference = operation.reference
            guarantee.hold_expires_at = operation.hold_expires_at
            guarantee.authorizations += 1
            _guarantee_move(
                guarantee,
                GuaranteeStatus.AUTHORIZED,
                actor=actor,
                action="guarantee_authorized",
                payload={
                    **base,
                    "amount": guarantee.amount,
                    "hold_reference": guarantee.hold_reference,
                    "hold_expires_at": guarantee.hold_expires_at,
                },
                changes=changes,
                fields=_HOLD_FIELDS,
            )
            if abandon:
                _prepayment_move(
                    prepayment,
                    PrepaymentStatus.FAILED,
                    actor=actor,
                    action="prepayment_abandoned",
                    payload={"form": form.number, "code": "abandoned"},
                    changes=changes,
                )
                changes.operations.append(
                    {
                        "guarantee": guarantee,
                        "kind": OperationKind.RELEASE,
                        "amount": ZERO,
                        "day": operation.business_date,
                    }
                )
                return
            if prepayment.payout_method == PayoutMethod.CASH:
                # Paid only once the clerk confirms the cash left the drawer.
                _prepayment_move(
                    prepayment,
                    PrepaymentStatus.AWAITING_HANDOVER,
                    actor=actor,
                    action="prepayment_awaiting_handover",
                    payload={"form": form.number, "amount": prepayment.amount},
                    changes=changes,
                )
                return
            _prepayment_move(
                prepayment,
                PrepaymentStatus.PAID,
                actor=actor,
                action="prepayment_paid",
                payload={"form": form.number, "amount": prepayment.amount},
                changes=changes,
            )
        else:
            guarantee.failure_code = operation.failure_code
            guarantee.failure_message = operation.failure_message
            _guarantee_move(
                guarantee,
                GuaranteeStatus.FAILED,
                actor=actor,
                action="guarantee_failed",
                payload={**base, "code": operation.failure_code},
                changes=changes,
                fields=_DECLINE_FIELDS,
            )
            _prepayment_move(
                prepayment,
                PrepaymentStatus.FAILED,
                actor=actor,
                action="prepayment_failed",
                payload={"form": form.number, "code": operation.failure_code},
                changes=changes,
            )
        return
    if kind == OperationKind.RELEASE_PREVIOUS:
        # The hold a re-authorization replaced; the guarantee itself is unchanged.
        _guarantee_note(
            guarantee,
            actor=actor,
            action="guarantee_previous_hold_released"
            if ok
            else "guarantee_previous_hold_release_declined",
            payload={
                **base,
                "hold_reference": operation.hold_reference,
                "code": operation.failure_code,
            },
            changes=changes,
        )
        return
    if kind == OperationKind.REAUTHORIZE:
        if ok:
            replaced = guarantee.hold_reference
            guarantee.hold_reference = operation.reference
            guarantee.hold_expires_at = operation.hold_expires_at
            guarantee.authorizations += 1
            _guarantee_move(
                guarantee,
                GuaranteeStatus.REAUTHORIZED,
                actor=actor,
                action="guarantee_reauthorized",
                payload={
                    **base,
                    "hold_reference": guarantee.hold_reference,
                    "hold_expires_at": guarantee.hold_expires_at,
                    "replaces": replaced,
                },
                changes=changes,
                fields=_HOLD_FIELDS,
            )
            if replaced:
                # The new hold is in place: release the one it replaces (its own key).
                changes.operations.append(
                    {
                        "guarantee": guarantee,
                        "kind": OperationKind.RELEASE_PREVIOUS,
                        "amount": ZERO,
                        "day": operation.business_date,
                        "seq": guarantee.authorizations,
                        "hold_reference": replaced,
                    }
                )
        else:
            # The old hold lapses; at the deadline the stored token is charged instead
            # (the traveler consented to it, SPEC §2 Buy & Refund 5).
            guarantee.failure_code = operation.failure_code
            guarantee.failure_message = operation.failure_message
            _guarantee_note(
                guarantee,
                actor=actor,
                action="guarantee_reauthorization_declined",
                payload={**base, "code": operation.failure_code},
                changes=changes,
                fields=_DECLINE_FIELDS,
            )
        return
    if not ok:
        guarantee.failure_code = operation.failure_code
        guarantee.failure_message = operation.failure_message
        _guarantee_note(
            guarantee,
            actor=actor,
            action=f"guarantee_{kind}_declined",
            payload={**base, "code": operation.failure_code, "amount": operation.amount},
            changes=changes,
            fields=_DECLINE_FIELDS,
        )
        return
    if kind == OperationKind.RELEASE:
        target = (
            GuaranteeStatus.PARTIALLY_CAPTURED
            if guarantee.captured_amount > 0
            else GuaranteeStatus.RELEASED
        )
        guarantee.settled_at = timezone.now()
        _guarantee_move(
            guarantee,
            target,
            actor=actor,
            action="guarantee_released",
            payload={**base, "captured_amount": guarantee.captured_amount},
            changes=changes,
            fields=("settled_at",),
        )
        _form_settle(form, guarantee, actor=actor, changes=changes)
        return
    # capture or charge
    guarantee.captured_amount = operation.amount
    if operation.amount >= guarantee.amount:
        guarantee.settled_at = timezone.now()
        _guarantee_move(
            guarantee,
            GuaranteeStatus.CAPTURED,
            actor=actor,
            action=f"guarantee_{kind}d",
            payload={**base, "captured_amount": operation.amount},
            changes=changes,
            fields=("captured_amount", "settled_at"),
        )
        return
    # A partial capture: the rest of the hold is released next.
    _guarantee_note(
        guarantee,
        actor=actor,
        action=f"guarantee_partial_{kind}",
        payload={**base, "captured_amount": operation.amount},
        changes=changes,
        fields=("captured_amount",),
    )


def _form_settle(form: RefundForm, guarantee: Guarantee, *, actor: Any, changes: _Changes) -> None:
    """After customs, the prepayment was the refund: the form is refunded (never paid again).

    On partial verification the traveler keeps the prepayment minus what was
    captured, which is the net refund on the verified goods.
    """
    if guarantee.prepayment.status != PrepaymentStatus.PAID:
        return  # returned (goods returned): the form stays as it is, to be voided
    if not FORM_TRANSITIONS.can(form.status, FormStatus.REFUNDED):
        return
    _entry(
        form,
        to=FormStatus.REFUNDED,
        actor=actor,
        action="form_refunded",
        payload={
            "buy_and_refund": True,
            "prepayment": guarantee.prepayment.amount,
            "captured_amount": guarantee.captured_amount,
            "net_refund": guarantee.prepayment.amount - guarantee.captured_amount,
        },
    )
    changes.save(form, "status")


# --- Handing the cash over ---------------------------------------------------------------


@transaction.atomic
def prepayment_handover(*, form_number: str, clerk: User, store: Store) -> Prepayment:
    """The clerk confirms the cash prepayment left the drawer: awaiting_handover -> paid.

    Idempotent: a prepayment already confirmed is returned unchanged. 404 for
    a form of another store; 409 ``prepayment_not_awaiting_handover`` otherwise.
    """
    form = _form_locked(number=form_number.strip())
    if form.store_id != store.pk:
        raise FormNotFound(f"No refund form {form_number} at your store.")
    prepayment = (
        Prepayment.objects.select_for_update()
        .filter(form=form)
        .exclude(status=PrepaymentStatus.FAILED)
        .first()
    )
    if (
        prepayment is not None
        and prepayment.status == PrepaymentStatus.PAID
        and prepayment.handed_over_at is not None
    ):
        return prepayment  # confirmed already (a double click, a retry)
    if prepayment is None or prepayment.status != PrepaymentStatus.AWAITING_HANDOVER:
        raise PrepaymentNotAwaitingHandover(
            f"Form {form.number} has no cash prepayment awaiting handover.",
            extra={"prepayment": prepayment.status if prepayment else None},
        )
    prepayment.handed_over_by = clerk
    prepayment.handed_over_at = timezone.now()
    with ledger_batch():
        changes = _Changes()
        _prepayment_move(
            prepayment,
            PrepaymentStatus.PAID,
            actor=clerk,
            action="prepayment_handed_over",
            payload={
                "form": form.number,
                "amount": prepayment.amount,
                "handed_over_by": clerk.get_username(),
                "handed_over_at": prepayment.handed_over_at,
            },
            changes=changes,
        )
        changes.write_rows()
    guarantee_sweep_soon(form_id=form.pk)
    return prepayment


# --- Returning a prepayment (so that the form may be voided) -----------------------------


def prepayment_return(*, form_number: str, clerk: User, store: Store) -> Prepayment:
    """The traveler gave the prepayment back (goods returned): record it, release the hold."""
    operation = _prepayment_return_open(form_number=form_number.strip(), clerk=clerk, store=store)
    if operation is not None:
        try:
            _operation_send(operation, attempts=INLINE_ATTEMPTS, actor=clerk)
        except CardGatewayError:
            # The release is recorded with its key; the sweep re-sends it.
            logger.warning("release of guarantee %s left for the sweep", operation.guarantee_id)
    return Prepayment.objects.get(form__number=form_number.strip(), status="returned")


@transaction.atomic
def _prepayment_return_open(
    *, form_number: str, clerk: User, store: Store
) -> GuaranteeOperation | None:
    form = _form_locked(number=form_number)
    if form.store_id != store.pk:
        raise FormNotFound(f"No refund form {form_number} at your store.")
    prepayment = (
        Prepayment.objects.select_for_update()
        .filter(
            form=form,
            status__in=[PrepaymentStatus.PAID, PrepaymentStatus.AWAITING_HANDOVER],
        )
        .first()
    )
    if prepayment is None or form.status != FormStatus.ISSUED:
        raise PrepaymentNotReturnable(
            f"Form {form.number} has no paid prepayment that can be returned.",
            extra={"status": form.status},
        )
    with ledger_batch():
        changes = _Changes()
        _prepayment_move(
            prepayment,
            PrepaymentStatus.RETURNED,
            actor=clerk,
            action="prepayment_returned",
            payload={"form": form.number, "amount": prepayment.amount},
            changes=changes,
        )
        changes.write_rows()
    guarantee_sweep_soon(form_id=form.pk)
    idempotency_bind(prepayment)
    guarantee = Guarantee.objects.select_for_update().get(prepayment=prepayment)
    if guarantee.status not in ACTIVE_GUARANTEE_STATUSES:
        return None
    if guarantee.operations.filter(status=OperationStatus.PENDING).exists():
        return None  # the sweep finishes the operation in flight first
    return _operation_record(
        guarantee, kind=OperationKind.RELEASE, amount=ZERO, day=timezone.localdate(), leased=True
    )


def verification_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Connected to customs' Verification post_save: the sweep looks at the guarantee next."""
    guarantee_sweep_soon(form_id=instance.form_id)


def prepayment_void_guard(form: RefundForm) -> None:
    """Registered with stores: a prepaid form is voided only after the prepayment is returned."""
    blocking = (
        Prepayment.objects.filter(form=form)
        .exclude(status__in=[PrepaymentStatus.FAILED, PrepaymentStatus.RETURNED])
        .first()
    )
    if blocking is not None:
        raise FormNotVoidable(
            f"Form {form.number} has a {blocking.status} prepayment: it must be returned first.",
            extra={"status": form.status, "prepayment": blocking.status},
        )


# --- The daily sweep ----------------------------------------------------------------------


@dataclass
class SweepReport:
    """What a sweep did for one day, by guarantee id."""

    day: date
    released: list[int] = field(default_factory=list)
    reauthorized: list[int] = field(default_factory=list)
    captured: list[int] = field(default_factory=list)
    partially_captured: list[int] = field(default_factory=list)
    declined: list[int] = field(default_factory=list)
    unanswered: list[int] = field(default_factory=list)
    # Holds a re-authorization replaced, released; operations another process is sending.
    previous_holds_released: list[int] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON for the task result and the command's output."""
        return {
            "day": self.day.isoformat(),
            "released": self.released,
            "reauthorized": self.reauthorized,
            "captured": self.captured,
            "partially_captured": self.partially_captured,
            "declined": self.declined,
            "unanswered": self.unanswered,
            "previous_holds_released": self.previous_holds_released,
            "in_flight": self.in_flight,
        }


@dataclass(frozen=True)
class DueAction:
    """The next gateway operation a guarantee needs on a day."""

    kind: str
    amount: Decimal


def hold_is_live(guarantee: Guarantee, at: datetime) -> bool:
    """Whether the guarantee's current hold can still be captured at ``at``."""
    return bool(guarantee.hold_reference) and (
        guarantee.hold_expires_at is None or at < guarantee.hold_expires_at
    )


def guarantee_due(guarantee: Guarantee, *, form: RefundForm, day: date) -> DueAction | None:
    """What an active guarantee needs on ``day``; None when nothing is due."""
    at = business_time(day)
    verification = verification_for(form)
    result = verification.result if verification is not None else None
    capture_kind = OperationKind.CAPTURE if hold_is_live(guarantee, at) else OperationKind.CHARGE
    if guarantee.prepayment.status == PrepaymentStatus.AWAITING_HANDOVER:
        # Cash not confirmed as handed over: never captured nor released; the hold is
        # kept alive until the clerk confirms the handover or records it as returned.
        if _hold_expiring(guarantee, day=day, at=at):
            return DueAction(OperationKind.REAUTHORIZE, guarantee.amount)
        return None
    if guarantee.prepayment.status != PrepaymentStatus.PAID:
        # Returned (or never paid out): the guarantee is never captured.
        return DueAction(OperationKind.RELEASE, ZERO)
    if guarantee.captured_amount > 0:
        # Partially captured already: release the rest of the hold.
        return DueAction(OperationKind.RELEASE, ZERO)
    if result == VerificationResult.VERIFIED:
        return DueAction(OperationKind.RELEASE, ZERO)
    if result == VerificationResult.PARTIALLY_VERIFIED:
        verified_net = verified_net_refund(form) or ZERO
        owed = max(guarantee.amount - verified_net, ZERO)
        if owed == 0:
            return DueAction(OperationKind.RELEASE, ZERO)
        return DueAction(capture_kind, owed)
    if result == VerificationResult.REJECTED or day > guarantee.grace_until:
        return DueAction(capture_kind, guarantee.amount)
    if _hold_expiring(guarantee, day=day, at=at):
        return DueAction(OperationKind.REAUTHORIZE, guarantee.amount)
    return None


def _hold_expiring(guarantee: Guarantee, *, day: date, at: datetime) -> bool:
    """The current hold is still live but lapses within REAUTHORIZE_WITHIN_DAYS."""
    return (
        guarantee.hold_expires_at is not None
        and timezone.localdate(guarantee.hold_expires_at)
        <= day + timedelta(days=REAUTHORIZE_WITHIN_DAYS)
        and guarantee.hold_expires_at > at
    )


@transaction.atomic
def _sweep_open(guarantee_id: int, *, day: date) -> GuaranteeOperation | None:
    """Transaction 1 of a sweep step: lock, decide, record the intent (or the pending one)."""
    form_id = Guarantee.objects.filter(pk=guarantee_id).values_list("form_id", flat=True).get()
    form = RefundForm.objects.select_for_update().get(pk=form_id)
    guarantee = (
        Guarantee.objects.select_for_update(of=("self",))
        .select_related("prepayment")
        .get(pk=guarantee_id)
    )
    pending = guarantee.operations.filter(status=OperationStatus.PENDING).first()
    if pending is not None:
        if pending.kind == OperationKind.AUTHORIZE and pending.business_date >= day:
            return None  # today's unanswered authorization belongs to the clerk's retry
        if not _lease_claim(pending.pk):
            raise _InFlight  # another process is sending it right now
        pending.refresh_from_db()
        pending.guarantee = guarantee
        return pending  # re-send under its stored key: executed at most once
    if guarantee.status not in ACTIVE_GUARANTEE_STATUSES:
        return None
    due = guarantee_due(guarantee, form=form, day=day)
    if due is None:
        Guarantee.objects.filter(pk=guarantee.pk).update(
            sweep_on=guarantee_next_sweep(guarantee, day=day)
        )
        return None
    seq = None
    if due.kind == OperationKind.REAUTHORIZE:
        # Keys: authorize is the first hold; each re-authorization gets the next number.
        seq = guarantee.operations.filter(kind=OperationKind.REAUTHORIZE).count() + 2
    elif (
        due.kind == OperationKind.RELEASE
        and guarantee.operations.filter(kind=OperationKind.RELEASE).exists()
    ):
        # An earlier release was declined (an unknown hold): do not repeat it daily.
        return None
    elif guarantee.operations.filter(
        kind__in=[OperationKind.CAPTURE, OperationKind.CHARGE]
    ).exists():
        if due.kind in (OperationKind.CAPTURE, OperationKind.CHARGE):
            # A capture was declined (e.g. the hold lapsed): fall back to the token once.
            if guarantee.operations.filter(kind=OperationKind.CHARGE).exists():
                return None
            due = DueAction(OperationKind.CHARGE, due.amount)
    return _operation_record(
        guarantee, kind=due.kind, amount=due.amount, day=day, seq=seq, leased=True
    )


class _InFlight(Exception):
    """The guarantee's pending operation is being sent by another process (lease held)."""


def guarantee_next_sweep(guarantee: Guarantee, *, day: date) -> date:
    """The first day after ``day`` on which time alone can make ``guarantee`` due.

    The grace period's end (a capture) or the day the live hold starts expiring (a
    re-authorization). Anything else that makes it due (customs verifies the form,
    the prepayment is returned or handed over) resets ``sweep_on`` when it happens.
    """
    candidates = [guarantee.grace_until + timedelta(days=1)]
    if guarantee.hold_expires_at is not None and guarantee.hold_expires_at > business_time(day):
        expiring = timezone.localdate(guarantee.hold_expires_at)
        candidates.append(expiring - timedelta(days=REAUTHORIZE_WITHIN_DAYS))
    return max(min(candidates), day + timedelta(days=1))


def guarantee_sweep_soon(*, form_id: int) -> None:
    """Something happened to the form's guarantee: the next sweep looks at it."""
    Guarantee.objects.filter(form_id=form_id, status__in=ACTIVE_GUARANTEE_STATUSES).update(
        sweep_on=None
    )


def guarantees_due_active(*, day: date) -> QuerySet[Guarantee, int]:
    """Ids of the active guarantees whose ``sweep_on`` has come or is unset: one UNION of
    two lookups on the partial index of active guarantees, each leg an index condition
    (an OR of the two would walk the whole active part of the index, due or not)."""
    active = Guarantee.objects.filter(status__in=ACTIVE_GUARANTEE_STATUSES).order_by()
    return (
        active.filter(sweep_on__lte=day)
        .values_list("pk", flat=True)
        .union(active.filter(sweep_on__isnull=True).values_list("pk", flat=True))
    )


def guarantees_due_ids(*, day: date) -> list[int]:
    """The guarantees the sweep of ``day`` looks at, in id order: two indexed queries.

    Active guarantees whose ``sweep_on`` has come or is unset (``guarantees_due_active``),
    and guarantees in any status with an operation left pending (no answer, a crash: the
    partial unique index on pending operations). The rest of the table (settled
    guarantees, active ones with nothing due) is not read.
    """
    due = guarantees_due_active(day=day)
    pending = (
        GuaranteeOperation.objects.filter(status=OperationStatus.PENDING)
        .order_by()
        .values_list("guarantee_id", flat=True)
    )
    return sorted({*due, *pending})


def guarantees_sweep(*, today: date | None = None, ids: list[int] | None = None) -> SweepReport:
    """Release, re-authorize, capture, as due on ``today``; safe to run any number of times.

    ``ids`` (a chunk of ``guarantees_due_ids``) limits the sweep to those guarantees:
    each is locked and decided again, so a chunk run twice, or next to another sweep,
    never sends an operation twice.
    """
    day = today or timezone.localdate()
    report = SweepReport(day=day)
    for guarantee_id in guarantees_due_ids(day=day) if ids is None else ids:
        # A partial capture is followed by the release of the rest: two steps.
        for _ in range(3):
            try:
                operation = _sweep_open(guarantee_id, day=day)
            except _InFlight:
                report.in_flight.append(guarantee_id)
                break
            if operation is None:
                break
            try:
                operation = _operation_send(
                    operation, abandon=operation.kind == OperationKind.AUTHORIZE
                )
            except CardGatewayError:
                report.unanswered.append(guarantee_id)
                break
            _report(report, operation)
            if operation.status != OperationStatus.SUCCEEDED:
                break
    return report


def _report(report: SweepReport, operation: GuaranteeOperation) -> None:
    gid = operation.guarantee_id
    if operation.status != OperationStatus.SUCCEEDED:
        report.declined.append(gid)
        return
    status = operation.guarantee.status  # as its settle left it (locked, written)
    if operation.kind == OperationKind.RELEASE_PREVIOUS:
        report.previous_holds_released.append(gid)
    elif operation.kind == OperationKind.REAUTHORIZE:
        report.reauthorized.append(gid)
    elif status == GuaranteeStatus.RELEASED:
        report.released.append(gid)
    elif status == GuaranteeStatus.CAPTURED:
        report.captured.append(gid)
    elif status == GuaranteeStatus.PARTIALLY_CAPTURED:
        report.partially_captured.append(gid)


def guarantee_operation_send(*, operation_id: int) -> GuaranteeOperation:
    """Send one stored operation once (task body); raises CardGatewayError for a retry."""
    operation = GuaranteeOperation.objects.select_related("guarantee").get(pk=operation_id)
    if operation.status != OperationStatus.PENDING or operation.kind == OperationKind.AUTHORIZE:
        # An authorization is answered to the clerk's request (or undone by the sweep).
        return operation
    if not _lease_claim(operation.pk):
        return operation  # another process is sending it (or it was settled meanwhile)
    return _operation_send(operation)


def guarantee_settle_now(*, form_id: int, today: date | None = None) -> list[GuaranteeOperation]:
    """What the sweep would do today for one form's guarantee, done now (the verification event).

    Same locks, keys and steps as ``guarantees_sweep``, so the event and the sweep never
    release or capture twice; a no-op when nothing is due (already released, not verified).
    Raises ``CardGatewayError`` when the gateway gave no answer (the operation stays pending
    under its key, for a retry or the next sweep).
    """
    day = today or timezone.localdate()
    done: list[GuaranteeOperation] = []
    for guarantee_id in (
        Guarantee.objects.filter(form_id=form_id, status__in=ACTIVE_GUARANTEE_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        # A partial capture is followed by the release of the rest: two steps.
        for _ in range(3):
            try:
                operation = _sweep_open(guarantee_id, day=day)
            except _InFlight:
                break  # another process is sending it: that one settles it
            if operation is None:
                break
            operation = _operation_send(
                operation, abandon=operation.kind == OperationKind.AUTHORIZE
            )
            done.append(operation)
            if operation.status != OperationStatus.SUCCEEDED:
                break
    return done

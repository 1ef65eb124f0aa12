"""Customs writes: verify a form line by line and stamp it; decide inspection; mailbox batches.

Every write is atomic and appends its ledger entry in the same transaction.
Refusals (bad QR, wrong state, a rule) roll the verification back and are then
recorded in their own transaction, as an attempt and in the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import router, transaction
from django.db.models import Model
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from core import events
from core.exceptions import ApplicationError, BadRequest
from core.ledger import ledger_append, ledger_batch
from core.models import Port, StaffMembership, StaffRole
from core.money import CENT, ZERO, quantize_money
from core.numbering import is_valid_form_number
from core.refcache import reference_cache_forget, reference_cached
from core.selectors import prefetched_set
from core.sequences import sequence_next
from core.signing import FORM_NUMBER_LENGTH, MalformedQr, parse_form_qr
from core.sql import insert_row, insert_rows
from core.transitions import transition
from customs.exceptions import (
    AlreadyVerified,
    BatchClosed,
    FormNotVerifiable,
    InspectionRequired,
    InvalidFormNumber,
    MailboxRefused,
    MalformedQrCode,
    QrRefused,
    QrRequired,
    UnknownLine,
    VerificationRefused,
)
from customs.models import (
    BATCH_TRANSITIONS,
    BatchStatus,
    InspectionDecision,
    InspectionPolicy,
    MailboxBatch,
    MailboxBatchItem,
    MailboxItemResult,
    Verification,
    VerificationAttempt,
    VerificationChannel,
    VerificationLine,
    VerificationResult,
)
from customs.rules import departure_warnings, inspection_outcome, sample_draw
from customs.selectors import (
    form_lines_in_order,
    form_locked_for_verification,
    risk_facts,
    risk_rules_for,
    stamp_body_of,
)
from customs.stamps import key_id, stamp_message, stamp_sign
from stores.exceptions import FormNotFound
from stores.models import FORM_TRANSITIONS, FormStatus, RefundForm, RefundFormLine
from stores.scopes import (
    PresentationHow,
    form_matching_document,
    forms_in_scope,
    presentation_record,
)

# A mailbox is emptied and processed later: its forms may carry a departure up to this old.
MAILBOX_MAX_AGE_DAYS = 30

# Refusals worth an attempt record: someone presented something customs said no to.
RECORDED_REFUSALS: tuple[type[ApplicationError], ...] = (
    MalformedQrCode,
    QrRefused,
    VerificationRefused,
    AlreadyVerified,
    FormNotVerifiable,
    FormNotFound,
    InspectionRequired,
    QrRequired,
)


def verification_attempt_record(
    *,
    form_number: str,
    port: Port,
    officer: User | None,
    error: ApplicationError,
    channel: str = VerificationChannel.COUNTER,
) -> VerificationAttempt:
    """Record a refused verification in its own transaction, and in the ledger."""
    with transaction.atomic():
        attempt = VerificationAttempt.objects.create(
            form_number=form_number[:32],
            port=port,
            officer=officer,
            channel=channel,
            code=error.code,
            detail=error.message[:300],
        )
        ledger_append(
            record=attempt,
            created=True,
            action="verification_refused",
            actor=officer,
            payload={
                "form": form_number[:32],
                "port": port.code,
                "channel": channel,
                "code": error.code,
            },
        )
    return attempt


# --- Scans ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    """What a scanner or an officer typed: a form number, with the QR payload if scanned."""

    number: str
    qr: str | None


def scan_parse(code: str) -> Scan:
    """A 16-digit form number or a 147-character QR payload; refuses anything else.

    A number with a wrong check digit is a typo (400); text that is not a form
    QR, or a QR whose signature fails, is refused as a bad QR (422, recorded).
    """
    text = "".join(code.split()).upper()
    if not text:
        raise BadRequest("Scan a form QR code or type a form number.", "invalid")
    if text.isdigit() and len(text) == FORM_NUMBER_LENGTH:
        if not is_valid_form_number(text):
            raise InvalidFormNumber(
                f"{text} is not a valid form number (check digit): please retype it."
            )
        return Scan(number=text, qr=None)
    if text.isdigit() and len(text) < 40:
        raise InvalidFormNumber("A form number has 16 digits.")
    try:
        parsed = parse_form_qr(text)
    except MalformedQr as exc:
        raise MalformedQrCode("The scanned code is not a refund form QR.") from exc
    if not parsed.signature_valid:
        raise QrRefused("The QR signature is not valid: this is not a genuine form.")
    return Scan(number=parsed.number, qr=text)


def _check_qr(form: RefundForm, qr: str) -> None:
    """The QR is signed by the platform and commits to this form's current content."""
    try:
        parsed = parse_form_qr(qr)
    except MalformedQr as exc:
        raise MalformedQrCode("The scanned code is not a refund form QR.") from exc
    if not parsed.signature_valid or parsed.number != form.number:
        raise QrRefused("The QR signature is not valid for this form.")
    if not parsed.matches_digest(form.content_digest):
        raise QrRefused("The QR does not match the form on record.")


def _officer_scope(port: Port) -> StaffMembership:
    """An officer's scope at ``port`` (stores.scopes decides what it holds)."""
    return StaffMembership(role=StaffRole.OFFICER, port=port)


def customs_form_scan(
    *, port: Port, officer: User | None, code: str, document_number: str = ""
) -> RefundForm:
    """Find the form an officer scanned or typed; check its QR; decide its inspection once.

    A scanned, genuine QR, or a typed number with the full document number of the passport
    in hand, is a presentation at the port (recorded: the form comes into the port's
    scope). A typed number alone finds only a form already in the port's scope. Bad QRs
    and unknown forms (a wrong document number included: the same 404) are refused and
    recorded as attempts.
    """
    number = "".join(code.split())[:32]
    try:
        scan = scan_parse(code)
        number = scan.number
        if scan.qr:
            form = RefundForm.objects.select_related("store").filter(number=scan.number).first()
            if form is None:
                raise FormNotFound(f"No refund form {scan.number}.")
            _check_qr(form, scan.qr)
            presentation_record(form=form, user=officer, how=PresentationHow.SCAN, port=port)
        elif document_number.strip():
            form = form_matching_document(number=scan.number, document_number=document_number)
            if form is None:
                raise FormNotFound(f"No refund form {scan.number}.")
            presentation_record(form=form, user=officer, how=PresentationHow.TYPED, port=port)
        else:
            form = (
                forms_in_scope(membership=_officer_scope(port))
                .select_related("store")
                .filter(number=scan.number)
                .first()
            )
            if form is None:
                raise FormNotFound(f"No refund form {scan.number}.")
    except RECORDED_REFUSALS as error:
        verification_attempt_record(form_number=number, port=port, officer=officer, error=error)
        raise
    if form.status == FormStatus.ISSUED:
        inspection_decide(form=form, port=port)
    return form


# --- Inspection selection ------------------------------------------------------------


def _policy_for(port: Port) -> InspectionPolicy:
    # Reference data: cached per process, emptied on save (core.refcache).
    policy = reference_cached(
        ("inspection-policy", port.pk), lambda: InspectionPolicy.objects.filter(port=port).first()
    )
    if policy is None:
        # Conflict-safe: two first decisions at one port create one policy row.
        InspectionPolicy.objects.bulk_create([InspectionPolicy(port=port)], ignore_conflicts=True)
        policy = InspectionPolicy.objects.get(port=port)
        reference_cache_forget(("inspection-policy", port.pk))  # read it once committed
    return policy


def _decide_locked(
    *, form: RefundForm, port: Port, lines: list[RefundFormLine]
) -> InspectionDecision:
    """Decide and record; the caller holds the form's row lock and checked none exists."""
    policy = _policy_for(port)
    rules = risk_rules_for(port=port)
    facts = risk_facts(form=form, lines=lines, rules=rules)
    outcome = inspection_outcome(
        facts=facts,
        threshold=policy.threshold,
        sample_rate=policy.sample_rate,
        draw=sample_draw(policy.seed, form.number),
        rules=rules,
    )
    decision = InspectionDecision(
        form=form,
        port=port,
        selected=outcome.selected,
        reason=outcome.reason,
        detail=outcome.detail[:300],
        rule_id=outcome.rule_id,
        draw=outcome.draw,
        threshold=policy.threshold,
        sample_rate=policy.sample_rate,
        decided_at=timezone.now(),
    )
    if not insert_row(decision, skip_conflict=True):
        # Decided by a request that held the form's lock while this one waited for it (the
        # read that came with the lock could not see its decision): that decision stands.
        return InspectionDecision.objects.select_related("port", "rule").get(form=form)
    ledger_append(
        record=decision,
        created=True,
        action="inspection_decided",
        to_status=decision.lane,
        payload={
            "form": form.number,
            "port": port.code,
            "selected": outcome.selected,
            "reason": outcome.reason,
            "rule": outcome.rule_id,
            "draw": outcome.draw,
            "threshold": policy.threshold,
            "sample_rate": policy.sample_rate,
        },
    )
    return decision


@transaction.atomic
def inspection_decide(*, form: RefundForm, port: Port) -> InspectionDecision:
    """The form's inspection decision at this port: made once, then always the same answer."""
    locked = (
        RefundForm.objects.select_for_update(of=("self",)).select_related("store").get(pk=form.pk)
    )
    existing = InspectionDecision.objects.filter(form=locked).first()
    if existing is not None:
        return existing
    return _decide_locked(form=locked, port=port, lines=list(locked.lines.order_by("position")))


# --- Verification -------------------------------------------------------------------


def _line_total(line: RefundFormLine, quantity: Decimal) -> Decimal:
    if quantity == line.quantity:
        return line.total
    return quantize_money(quantity * line.unit_price)


def departure_window(*, channel: str, today: date) -> tuple[date, date]:
    """Earliest and latest departure date customs accepts for this channel."""
    if channel == VerificationChannel.MAILBOX:
        return today - timedelta(days=MAILBOX_MAX_AGE_DAYS), today
    return today - timedelta(days=1), today + timedelta(days=1)


def verification_create(
    *,
    port: Port,
    officer: User | None,
    form_number: str,
    departure_date: date,
    qr: str | None = None,
    document_number: str | None = None,
    flight: str = "",
    quantities: Mapping[int, Decimal] | None = None,
    traveler_matches: bool = True,
    channel: str = VerificationChannel.COUNTER,
    today: date | None = None,
    signer_label: str = "",
) -> Verification:
    """Verify a form for the quantities presented and stamp it; refusals are recorded.

    ``quantities`` maps form line id -> quantity presented; lines left out count
    as fully presented, None means everything was presented. The kiosk channel
    (green lane) only verifies forms not selected for inspection. A ``qr``, or a typed
    ``document_number`` (the damaged-QR path: it must match, else the 404 of a missing
    form), is recorded as the form's presentation at the port. Without an officer (the
    kiosk green lane) the stamp names ``signer_label`` (``device:KIOSK-PVG-1``) instead.
    """
    day = today or timezone.localdate()
    try:
        if channel == VerificationChannel.KIOSK:
            form = RefundForm.objects.filter(number=form_number).first()
            if form is not None and form.status == FormStatus.ISSUED:
                inspection_decide(form=form, port=port)
        return _verify(
            port=port,
            officer=officer,
            form_number=form_number,
            departure_date=departure_date,
            qr=qr,
            document_number=document_number,
            flight=flight,
            quantities=quantities,
            traveler_matches=traveler_matches,
            channel=channel,
            today=day,
            signer_label=signer_label,
        )
    except RECORDED_REFUSALS as error:
        verification_attempt_record(
            form_number=form_number, port=port, officer=officer, error=error, channel=channel
        )
        raise


def _presented(
    form: RefundForm, lines: list[RefundFormLine], quantities: Mapping[int, Decimal] | None
) -> dict[int, Decimal]:
    """Validated quantities per line id: unknown lines and bad numbers are malformed input."""
    by_id = {line.pk: line for line in lines}
    presented = dict(quantities or {})
    unknown = sorted(set(presented) - set(by_id))
    if unknown:
        raise UnknownLine(
            f"Line {unknown[0]} is not on form {form.number}.", extra={"lines": unknown}
        )
    for line_id, quantity in presented.items():
        if quantity < 0 or quantity != quantity.quantize(CENT):
            raise BadRequest(
                f"Line {line_id}: the quantity presented must be 0 or more, 2 decimals at most.",
                "invalid",
                {"line": line_id},
            )
        if quantity > by_id[line_id].quantity:
            raise VerificationRefused(
                f"Line {by_id[line_id].position} ({by_id[line_id].item}): presented {quantity},"
                f" purchased {by_id[line_id].quantity}.",
                "quantity_exceeds_purchase",
                {"line": line_id, "purchased": str(by_id[line_id].quantity)},
            )
    return {line.pk: presented.get(line.pk, line.quantity) for line in lines}


def _insert_saved(obj: Model) -> None:
    """``obj.save()`` of a new row through core.sql's once-built INSERT, the model's save
    signals sent as ``save()`` sends them (buyrefund listens to a verification's)."""
    model = type(obj)
    using = router.db_for_write(model, instance=obj)
    pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=None)
    insert_rows([obj])
    post_save.send(
        sender=model, instance=obj, created=True, update_fields=None, raw=False, using=using
    )


@transaction.atomic
@ledger_batch()  # the decision's and the form's entries: one INSERT
def _verify(
    *,
    port: Port,
    officer: User | None,
    form_number: str,
    departure_date: date,
    qr: str | None,
    flight: str,
    quantities: Mapping[int, Decimal] | None,
    traveler_matches: bool,
    channel: str,
    today: date,
    document_number: str | None = None,
    signer_label: str = "",
) -> Verification:
    form = form_locked_for_verification(number=form_number)
    if form is None:
        raise FormNotFound(f"No refund form {form_number}.")
    if qr:
        _check_qr(form, qr)
        if channel != VerificationChannel.KIOSK:
            # The green lane is the traveler at a machine: no officer had the passport in
            # hand, so the port's officers keep seeing the document masked.
            presentation_record(form=form, user=officer, how=PresentationHow.SCAN, port=port)
    elif document_number is not None:
        if form_matching_document(number=form.number, document_number=document_number) is None:
            raise FormNotFound(f"No refund form {form.number}.")
        presentation_record(form=form, user=officer, how=PresentationHow.TYPED, port=port)
    if form.status in (
        FormStatus.VERIFIED,
        FormStatus.PARTIALLY_VERIFIED,
        FormStatus.REJECTED,
        FormStatus.REFUNDED,
    ):
        raise AlreadyVerified(
            f"Form {form.number} was already stamped by customs"
            f" ({form.get_status_display().lower()}).",
            extra={"status": form.status},
        )
    if form.status != FormStatus.ISSUED:
        raise FormNotVerifiable(
            f"Form {form.number} is {form.status} and cannot be verified.",
            extra={"status": form.status},
        )
    if departure_date < form.purchase_date:
        raise VerificationRefused(
            f"The departure date {departure_date} is before the purchase date"
            f" {form.purchase_date}.",
            "departure_before_purchase",
            {"purchase_date": form.purchase_date.isoformat()},
        )
    earliest, latest = departure_window(channel=channel, today=today)
    if departure_date < earliest:
        raise VerificationRefused(
            f"The departure date {departure_date} is in the past (earliest {earliest}).",
            "departure_in_past",
            {"earliest": earliest.isoformat()},
        )
    if departure_date > latest:
        raise VerificationRefused(
            f"The departure date {departure_date} is in the future (latest {latest}).",
            "departure_in_future",
            {"latest": latest.isoformat()},
        )

    lines = form_lines_in_order(number=form.number)
    final = _presented(form, lines, quantities)
    decision = getattr(form, "inspection_decision", None)  # read with the lock
    if decision is None:
        decision = _decide_locked(form=form, port=port, lines=lines)
    if channel == VerificationChannel.KIOSK and decision.selected:
        raise InspectionRequired(
            "This form was selected for inspection: please see a customs officer.",
            extra={"reason": decision.reason},
        )

    if not traveler_matches:
        final = dict.fromkeys(final, ZERO)
    line_totals = {line.pk: _line_total(line, final[line.pk]) for line in lines}
    verified_total = sum(line_totals.values(), ZERO)
    if not traveler_matches or verified_total == 0:
        result = VerificationResult.REJECTED
        verified_total = ZERO
        line_totals = dict.fromkeys(line_totals, ZERO)
    elif all(final[line.pk] == line.quantity for line in lines):
        result = VerificationResult.VERIFIED
    else:
        result = VerificationResult.PARTIALLY_VERIFIED
    FORM_TRANSITIONS.check(form.status, result)

    verified_at = timezone.now().replace(microsecond=0)
    officer_label = officer.get_username() if officer is not None else signer_label[:150]
    flight_code = flight.strip().upper()[:16]
    port_key_id = key_id(port.code)
    message = stamp_message(
        stamp_body_of(
            form_number=form.number,
            port_code=port.code,
            key_id=port_key_id,
            officer=officer_label,
            channel=channel,
            result=result,
            departure_date=departure_date,
            flight=flight_code,
            verified_at=verified_at,
            verified_total=verified_total,
            lines=[(line.pk, final[line.pk]) for line in lines],
        )
    )
    verification = Verification(
        form=form,
        port=port,
        officer=officer,
        officer_label=officer_label,
        channel=channel,
        result=result,
        departure_date=departure_date,
        flight=flight_code,
        traveler_matches=traveler_matches,
        verified_total=verified_total,
        verified_at=verified_at,
        warnings=departure_warnings(
            departure_date=departure_date,
            last_entry_date=form.last_entry_date,
            purchase_date=form.purchase_date,
        ),
        stamp_message=message,
        stamp_signature=stamp_sign(port.code, message),
        stamp_key_id=port_key_id,
    )
    _insert_saved(verification)
    verification_lines = [
        VerificationLine(
            verification=verification,
            form_line=line,
            quantity_presented=final[line.pk],
            verified_total=line_totals[line.pk],
        )
        for line in lines
    ]
    insert_rows(verification_lines)
    prefetched_set(verification, "lines", verification_lines)
    form.inspection_decision = decision  # the reply reads it from here
    transition(
        form,
        to=result,
        transitions=FORM_TRANSITIONS,
        check=False,
        actor=officer,
        action="form_" + result,
        payload={
            "verification": verification.pk,
            "port": port.code,
            "channel": channel,
            "departure_date": departure_date,
            "verified_total": verified_total,
            "inspection": decision.reason,
            "key_id": port_key_id,
            "stamp_signature": verification.stamp_signature,
        },
    )
    events.publish("form_verified", verification=verification)
    return verification


# --- Mailbox batches ------------------------------------------------------------------


@transaction.atomic
def mailbox_batch_open(
    *,
    port: Port,
    officer: User,
    drop_date: date | None = None,
    note: str = "",
    today: date | None = None,
) -> MailboxBatch:
    """Open a batch for the forms emptied from the port's mailbox on ``drop_date``."""
    day = today or timezone.localdate()
    drop = drop_date or day
    if not port.has_mailbox:
        raise MailboxRefused(f"Port {port.code} has no mailbox.", "no_mailbox")
    if drop > day or drop < day - timedelta(days=MAILBOX_MAX_AGE_DAYS):
        raise MailboxRefused(
            f"The drop date must be between {day - timedelta(days=MAILBOX_MAX_AGE_DAYS)}"
            f" and today.",
            "drop_date_out_of_range",
        )
    sequence = sequence_next(key=f"mailbox:{port.code}:{drop:%Y%m%d}")
    batch = MailboxBatch.objects.create(
        number=f"{port.code}-{drop:%Y%m%d}-{sequence:02d}",
        port=port,
        drop_date=drop,
        note=note.strip()[:200],
        opened_by=officer,
        opened_at=timezone.now(),
    )
    ledger_append(
        record=batch,
        created=True,
        action="mailbox_batch_opened",
        actor=officer,
        to_status=batch.status,
        payload={"number": batch.number, "port": port.code, "drop_date": drop, "note": batch.note},
    )
    return batch


def _lock_open_batch(batch: MailboxBatch) -> MailboxBatch:
    locked = MailboxBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.status != BatchStatus.OPEN:
        raise BatchClosed(f"Batch {locked.number} is closed.", extra={"batch": locked.number})
    return locked


def _next_position(batch: MailboxBatch) -> int:
    last = batch.items.order_by("-position").values_list("position", flat=True).first()
    return (last or 0) + 1


def mailbox_batch_scan(
    *, batch: MailboxBatch, officer: User, code: str, today: date | None = None
) -> MailboxBatchItem:
    """Verify one mailbox form (everything presented, channel mailbox) into the batch.

    A refused form (bad QR, already verified, not found...) becomes a refused
    item with its code, so the officer sees it in the running list; a typo
    (400) or a closed batch (409) is raised and writes nothing.
    """
    day = today or timezone.localdate()
    # Only what a form number or QR payload can hold (0-9, A-Z) is kept of what was
    # scanned: a refused code is stored and exported, and must not carry a formula,
    # markup or control characters from whatever the scanner typed.
    cleaned = re.sub(r"[^0-9A-Z]", "", code.upper())
    number = cleaned[:32]
    scanned = cleaned[:160]
    try:
        with transaction.atomic():
            locked = _lock_open_batch(batch)
            scan = scan_parse(code)
            number = scan.number
            if not scan.qr:
                # Typing numbers into a batch would verify (and bring into scope) any form.
                raise QrRequired(
                    "Scan the form's QR code: a mailbox form is verified from its QR only."
                    " A form with a damaged QR goes to the counter with its traveler."
                )
            verification = _verify(
                port=locked.port,
                officer=officer,
                form_number=scan.number,
                departure_date=locked.drop_date,
                qr=scan.qr,
                flight="",
                quantities=None,
                traveler_matches=True,
                channel=VerificationChannel.MAILBOX,
                today=day,
            )
            item = MailboxBatchItem.objects.create(
                batch=locked,
                position=_next_position(locked),
                scanned=scanned,
                form_number=number,
                verification=verification,
                result=verification.result,
                scanned_by=officer,
                scanned_at=timezone.now(),
            )
            ledger_append(
                record=locked,
                action="mailbox_form_verified",
                actor=officer,
                from_status=locked.status,
                to_status=locked.status,
                payload={
                    "position": item.position,
                    "form": number,
                    "result": verification.result,
                    "verified_total": verification.verified_total,
                },
            )
            return item
    except RECORDED_REFUSALS as error:
        refusal = error
    verification_attempt_record(
        form_number=number,
        port=batch.port,
        officer=officer,
        error=refusal,
        channel=VerificationChannel.MAILBOX,
    )
    with transaction.atomic():
        locked = _lock_open_batch(batch)
        item = MailboxBatchItem.objects.create(
            batch=locked,
            position=_next_position(locked),
            scanned=scanned,
            form_number=number,
            result=MailboxItemResult.REFUSED,
            code=refusal.code,
            detail=refusal.message[:300],
            scanned_by=officer,
            scanned_at=timezone.now(),
        )
        ledger_append(
            record=locked,
            action="mailbox_form_refused",
            actor=officer,
            from_status=locked.status,
            to_status=locked.status,
            payload={"position": item.position, "form": number, "code": refusal.code},
        )
    return item


@transaction.atomic
def mailbox_batch_close(*, batch: MailboxBatch, officer: User) -> MailboxBatch:
    """Close the batch: no more scans; its counts go to the ledger."""
    locked = MailboxBatch.objects.select_for_update().get(pk=batch.pk)
    BATCH_TRANSITIONS.check(locked.status, BatchStatus.CLOSED, code="batch_closed")
    results = list(locked.items.values_list("result", flat=True))
    locked.closed_by = officer
    locked.closed_at = timezone.now()
    transition(
        locked,
        to=BatchStatus.CLOSED,
        transitions=BATCH_TRANSITIONS,
        check=False,
        fields=["closed_by", "closed_at"],
        actor=officer,
        action="mailbox_batch_closed",
        payload={
            "number": locked.number,
            "scanned": len(results),
            "refused": results.count(MailboxItemResult.REFUSED),
        },
    )
    return locked

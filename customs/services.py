"""Customs writes: verify a form line by line and stamp it; record refused attempts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.ledger import ledger_append
from core.models import Port
from core.money import ZERO, quantize_money
from core.signing import MalformedQr, parse_form_qr
from customs.exceptions import (
    AlreadyVerified,
    FormNotVerifiable,
    QrRefused,
    UnknownLine,
    VerificationRefused,
)
from customs.models import (
    Verification,
    VerificationAttempt,
    VerificationChannel,
    VerificationLine,
    VerificationResult,
)
from customs.selectors import stamp_body
from customs.stamps import key_id, stamp_message, stamp_sign
from stores.exceptions import FormNotFound
from stores.models import FORM_TRANSITIONS, FormStatus, RefundForm, RefundFormLine


def verification_attempt_record(
    *, form_number: str, port: Port, officer: User | None, error: ApplicationError
) -> VerificationAttempt:
    """Record a refused verification in its own transaction, and in the ledger."""
    with transaction.atomic():
        attempt = VerificationAttempt.objects.create(
            form_number=form_number[:32],
            port=port,
            officer=officer,
            code=error.code,
            detail=error.message[:300],
        )
        ledger_append(
            record=attempt,
            action="verification_refused",
            actor=officer,
            payload={"form": form_number[:32], "port": port.code, "code": error.code},
        )
    return attempt


def _line_total(line: RefundFormLine, quantity: Decimal) -> Decimal:
    if quantity == line.quantity:
        return line.total
    return quantize_money(quantity * line.unit_price)


def verification_create(
    *,
    port: Port,
    officer: User | None,
    form_number: str,
    departure_date: date,
    qr: str | None = None,
    flight: str = "",
    quantities: Mapping[int, Decimal] | None = None,
    traveler_matches: bool = True,
    channel: str = VerificationChannel.COUNTER,
    today: date | None = None,
) -> Verification:
    """Verify a form for the quantities presented and stamp it; refusals are recorded.

    ``quantities`` maps form line id -> quantity presented; lines left out count
    as fully presented, None means everything was presented.
    """
    try:
        return _verify(
            port=port,
            officer=officer,
            form_number=form_number,
            departure_date=departure_date,
            qr=qr,
            flight=flight,
            quantities=quantities,
            traveler_matches=traveler_matches,
            channel=channel,
            today=today or timezone.localdate(),
        )
    except (QrRefused, VerificationRefused, AlreadyVerified, FormNotVerifiable) as error:
        verification_attempt_record(
            form_number=form_number, port=port, officer=officer, error=error
        )
        raise


@transaction.atomic
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
) -> Verification:
    form = RefundForm.objects.select_for_update().filter(number=form_number).first()
    if form is None:
        raise FormNotFound(f"No refund form {form_number}.")
    if qr:
        try:
            parsed = parse_form_qr(qr)
        except MalformedQr as exc:
            raise QrRefused("The scanned code is not a refund form QR.", "invalid_qr") from exc
        if not parsed.signature_valid or parsed.number != form.number:
            raise QrRefused("The QR signature is not valid for this form.")
        if not parsed.matches_digest(form.content_digest):
            raise QrRefused("The QR does not match the form on record.")
    if form.status in (
        FormStatus.VERIFIED,
        FormStatus.PARTIALLY_VERIFIED,
        FormStatus.REJECTED,
        FormStatus.REFUNDED,
    ):
        raise AlreadyVerified(
            f"Form {form.number} was already verified ({form.status}).",
            extra={"status": form.status},
        )
    if form.status != FormStatus.ISSUED:
        raise FormNotVerifiable(
            f"Form {form.number} is {form.status} and cannot be verified.",
            extra={"status": form.status},
        )
    if departure_date < form.purchase_date:
        raise VerificationRefused(
            "The departure date is before the purchase date.", "departure_before_purchase"
        )
    if departure_date < today - timedelta(days=1) or departure_date > today + timedelta(days=1):
        raise VerificationRefused(
            "The departure date must be today (one day either side).", "departure_date_invalid"
        )

    lines = list(form.lines.order_by("position"))
    by_id = {line.pk: line for line in lines}
    presented = dict(quantities or {})
    unknown = sorted(set(presented) - set(by_id))
    if unknown:
        raise UnknownLine(
            f"Line {unknown[0]} is not on form {form.number}.", extra={"lines": unknown}
        )
    for line_id, quantity in presented.items():
        if quantity < 0 or quantity > by_id[line_id].quantity:
            raise VerificationRefused(
                f"Line {line_id}: presented {quantity}, purchased {by_id[line_id].quantity}.",
                "quantity_exceeds_purchase",
                {"line": line_id},
            )
    final = {
        line.pk: (presented.get(line.pk, line.quantity) if traveler_matches else ZERO)
        for line in lines
    }
    line_totals = {line.pk: _line_total(line, final[line.pk]) for line in lines}
    verified_total = sum(line_totals.values(), ZERO)
    if not traveler_matches or verified_total == 0:
        result = VerificationResult.REJECTED
        verified_total = ZERO
    elif all(final[line.pk] == line.quantity for line in lines):
        result = VerificationResult.VERIFIED
    else:
        result = VerificationResult.PARTIALLY_VERIFIED
    FORM_TRANSITIONS.check(form.status, result)

    verification = Verification(
        form=form,
        port=port,
        officer=officer,
        channel=channel,
        result=result,
        departure_date=departure_date,
        flight=flight.strip().upper(),
        traveler_matches=traveler_matches,
        verified_total=verified_total,
        verified_at=timezone.now(),
        stamp_key_id=key_id(port.code),
    )
    verification.stamp_message = ""
    verification.stamp_signature = ""
    verification.save()
    VerificationLine.objects.bulk_create(
        VerificationLine(
            verification=verification,
            form_line=line,
            quantity_presented=final[line.pk],
            verified_total=line_totals[line.pk] if result != VerificationResult.REJECTED else ZERO,
        )
        for line in lines
    )
    message = stamp_message(stamp_body(verification))
    Verification.objects.filter(pk=verification.pk).update(
        stamp_message=message, stamp_signature=stamp_sign(port.code, message)
    )
    verification.refresh_from_db(fields=["stamp_message", "stamp_signature"])
    previous = form.status
    form.status = result
    form.save(update_fields=["status"])
    ledger_append(
        record=form,
        action="form_" + result,
        actor=officer,
        from_status=previous,
        to_status=result,
        payload={
            "port": port.code,
            "channel": channel,
            "departure_date": departure_date,
            "verified_total": verified_total,
            "stamp_signature": verification.stamp_signature,
        },
    )
    return verification

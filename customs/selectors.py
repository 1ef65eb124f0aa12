"""Reads of customs records; the stamp check agencies rely on (check C)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from customs.models import Verification
from customs.stamps import stamp_message, stamp_verify
from stores.models import RefundForm


def stamp_body(verification: Verification) -> dict[str, Any]:
    """What a stamp commits to, rebuilt from the stored rows."""
    lines = sorted(verification.lines.all(), key=lambda line: line.form_line_id)
    return {
        "form": verification.form.number,
        "port": verification.port.code,
        "officer": verification.officer.get_username() if verification.officer else "",
        "channel": verification.channel,
        "result": verification.result,
        "departure_date": verification.departure_date,
        "verified_at": verification.verified_at,
        "verified_total": verification.verified_total,
        "lines": [
            {"line": line.form_line_id, "quantity_presented": line.quantity_presented}
            for line in lines
        ],
    }


def stamp_is_valid(verification: Verification) -> bool:
    """The stored stamp is the port's signature over exactly the stored verification."""
    message = stamp_message(stamp_body(verification))
    return message == verification.stamp_message and stamp_verify(
        verification.port.code, verification.stamp_message, verification.stamp_signature
    )


def verification_for(form: RefundForm) -> Verification | None:
    """The form's verification with port, officer and lines loaded, or None."""
    return (
        Verification.objects.select_related("port", "officer", "form")
        .prefetch_related("lines")
        .filter(form=form)
        .first()
    )


def verified_quantities(verification: Verification) -> dict[int, Decimal]:
    """Form line id -> quantity presented."""
    return {line.form_line_id: line.quantity_presented for line in verification.lines.all()}

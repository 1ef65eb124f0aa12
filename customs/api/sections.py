"""Customs' part of the form detail (GET /api/v1/forms/{number}/): stamp and inspection lane."""

from __future__ import annotations

from typing import Any

from customs.api.serializers import InspectionOut, VerificationOut
from customs.selectors import inspection_for, verification_detail, verification_for
from stores.models import RefundForm


def verification_section(form: RefundForm) -> dict[str, Any] | None:
    """The verification with its stamp, once customs has decided."""
    verification = verification_for(form)
    if verification is None:
        return None
    return dict(VerificationOut(verification_detail(pk=verification.pk)).data)


def inspection_section(form: RefundForm) -> dict[str, Any] | None:
    """Red (see an officer) or green (the kiosk may verify), once decided."""
    decision = inspection_for(form)
    return dict(InspectionOut(decision).data) if decision else None


def register() -> None:
    """Hook the sections into the stores form detail, if that API is installed."""
    try:
        from stores.api.serializers import register_form_section
    except ImportError:  # pragma: no cover - stores API not present
        return
    register_form_section("verification", verification_section, VerificationOut)
    register_form_section("inspection", inspection_section, InspectionOut)

"""Traveler-side domain errors (SPEC §4 codes)."""

from __future__ import annotations

from core.exceptions import StateConflict


class TravelerFormNotFound(LookupError):
    """No form matches this form number and full document number (the kiosk's uniform 404)."""


class FormNotPayable(StateConflict):
    """The form was voided or refused by customs: no transfer can be chosen for it."""

    default_code = "form_not_payable"

"""Customs domain errors."""

from core.exceptions import BadRequest, RuleViolation, StateConflict


class AlreadyVerified(StateConflict):
    default_code = "already_verified"


class FormNotVerifiable(StateConflict):
    default_code = "form_not_verifiable"


class QrRefused(RuleViolation):
    """The scanned QR is malformed, unsigned, or does not match the record."""

    default_code = "qr_mismatch"


class VerificationRefused(RuleViolation):
    default_code = "verification_refused"


class UnknownLine(BadRequest):
    default_code = "unknown_line"

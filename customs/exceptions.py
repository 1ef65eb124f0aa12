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
    """A customs rule refuses this verification (quantities, dates); ``code`` says which."""

    default_code = "verification_refused"


class InspectionRequired(RuleViolation):
    """The form was selected for inspection: only an officer may verify it (no green lane)."""

    default_code = "inspection_required"


class UnknownLine(BadRequest):
    default_code = "unknown_line"


class InvalidFormNumber(BadRequest):
    """Sixteen digits whose check digit is wrong: a typo, not a forgery."""

    default_code = "invalid_form_number"


class MailboxRefused(RuleViolation):
    """The port has no mailbox, or the drop date is out of range."""

    default_code = "mailbox_refused"


class BatchClosed(StateConflict):
    default_code = "batch_closed"


class MalformedQrCode(BadRequest):
    """The scanned text is not a form QR payload at all (400)."""

    default_code = "invalid_qr"


class QrRequired(RuleViolation):
    """A mailbox form is verified from its signed QR only (a typed number proves nothing)."""

    default_code = "qr_required"

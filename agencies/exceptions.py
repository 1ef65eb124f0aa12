"""Agency domain errors (SPEC §4 codes)."""

from __future__ import annotations

from core.exceptions import ApplicationError, BadRequest, NotFound, RuleViolation, StateConflict


class ChecksFailed(RuleViolation):
    """One of checks A-F failed; ``extra["checks"]`` lists all six."""

    default_code = "checks_failed"


class CashLimitExceeded(RuleViolation):
    """Cash is only paid when the net refund is within the cash cap in force."""

    default_code = "cash_limit_exceeded"


class MailboxTransferOnly(RuleViolation):
    """Forms verified through the mailbox are paid by transfer only."""

    default_code = "mailbox_transfer_only"


class NothingToRefund(RuleViolation):
    """The fee would eat the whole refund (a fee rate set above a refund rate)."""

    default_code = "nothing_to_refund"


class AlreadyRefunded(StateConflict):
    """The form already has a paid (or in-flight) refund."""

    default_code = "already_refunded"


class RefundInProgress(StateConflict):
    """The form's transfer is in flight (outcome not known yet): no money is known to be sent."""

    default_code = "refund_in_progress"


class RefundAwaitingHandover(StateConflict):
    """The form's cash refund waits for the agent to confirm the handover."""

    default_code = "refund_awaiting_handover"


class RefundNotAwaitingHandover(StateConflict):
    """Only a cash refund awaiting handover can be confirmed as handed over."""

    default_code = "refund_not_awaiting_handover"


class RefundRetryRequired(StateConflict):
    """The form's refund failed at another agency, or the outcome is unknown."""

    default_code = "refund_retry_required"


class RefundNotRetryable(StateConflict):
    """Only a failed refund can be re-sent."""

    default_code = "refund_not_retryable"


class RefundNotFound(NotFound):
    default_code = "not_found"


class InvalidPayoutMethod(BadRequest):
    default_code = "invalid_payout_method"


class InvalidCardNumber(BadRequest):
    default_code = "invalid_card_number"


class InvalidPayoutAccount(BadRequest):
    default_code = "invalid_payout_account"


class InvalidQr(BadRequest):
    """The scanned text is not a form QR payload at all."""

    default_code = "invalid_qr"


class PayoutDeclined(RuleViolation):
    """The payout provider declined the transfer: the refund is ``failed``, nothing was paid."""

    default_code = "payout_declined"


class PayoutUnavailable(ApplicationError):
    """No definite answer from the payout provider: the refund is ``failed`` and retryable."""

    status_code = 503
    default_code = "payout_unavailable"

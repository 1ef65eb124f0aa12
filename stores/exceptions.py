"""Store-side domain errors."""

from core.exceptions import NotFound, RuleViolation, StateConflict


class InvoiceNotFound(RuleViolation):
    default_code = "invoice_not_found"


class FormRuleViolation(RuleViolation):
    """A Measures art. 10 rule refuses the form; ``code`` names which."""


class FormNotFound(NotFound):
    default_code = "not_found"


class FormNotVoidable(StateConflict):
    default_code = "form_not_voidable"


class NotBuyAndRefundStore(RuleViolation):
    default_code = "not_buy_and_refund_store"

"""Tax authority domain errors."""

from core.exceptions import RuleViolation


class StoreNotFiled(RuleViolation):
    """The store is not filed (suspended, exited or never filed) on the form's date."""

    default_code = "store_not_filed"

from django.apps import AppConfig


class BuyRefundConfig(AppConfig):
    """Buy & Refund (即买即退): the store's prepayment and its card guarantee.

    The records (``Prepayment``, ``Guarantee``, ``GuaranteeOperation``) stay in the
    ``agencies`` app's tables and migrations; this app holds their lifecycle.
    """

    name = "buyrefund"
    verbose_name = "Buy & Refund"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Buy & Refund: prepayment/guarantee sections on the form detail; void guard.
        from buyrefund.api.views import register

        register()

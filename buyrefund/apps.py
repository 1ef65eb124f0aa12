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
        # Customs verified (or refused) a form: the next sweep looks at its guarantee.
        from django.db.models.signals import post_save

        from buyrefund.services import verification_saved

        post_save.connect(
            verification_saved,
            sender="customs.Verification",
            dispatch_uid="buyrefund.verification_saved",
        )

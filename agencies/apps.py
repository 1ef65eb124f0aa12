from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "agencies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # GET /api/v1/forms/{number}/ shows the refund paid on the verified goods.
        from agencies.api.sections import register

        register()
        # Idempotency records of refund requests whose process died: settled answers.
        from agencies.api.views import register as register_refund_resolver

        register_refund_resolver()

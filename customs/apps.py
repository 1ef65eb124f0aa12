from django.apps import AppConfig


class CustomsConfig(AppConfig):
    name = "customs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # GET /api/v1/forms/{number}/ shows customs' stamp and the red/green lane.
        from customs.api.sections import register

        register()

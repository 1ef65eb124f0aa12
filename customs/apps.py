from django.apps import AppConfig


class CustomsConfig(AppConfig):
    name = "customs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # GET /api/v1/forms/{number}/ shows customs' stamp and the red/green lane.
        from core.api.views import register_public_keys
        from customs.api.sections import register
        from customs.stamps import port_stamp_keys

        register()
        register_public_keys("ports", port_stamp_keys)

        from core.refcache import reference_models
        from customs.models import InspectionPolicy, RiskRule

        reference_models(InspectionPolicy, RiskRule)

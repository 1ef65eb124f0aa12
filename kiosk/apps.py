from django.apps import AppConfig


class KioskConfig(AppConfig):
    """The traveler's self-service kiosk: read-only, no login, ten languages."""

    name = "kiosk"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class KioskConfig(AppConfig):
    """The traveler's kiosk: lookup, green lane on registered devices, ten languages."""

    name = "kiosk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # seed_demo also creates the demo kiosk device (core imports no later app).
        from core.demo import demo_hook_register
        from kiosk.demo import demo_device_seed

        demo_hook_register(demo_device_seed)

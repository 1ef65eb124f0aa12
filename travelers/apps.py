from django.apps import AppConfig


class TravelersConfig(AppConfig):
    """The traveler's journey: phone page, pre-chosen transfer, notices."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "travelers"
    verbose_name = "Travelers"

    def ready(self) -> None:
        # Listens to the earlier apps' events (core.events) and adds the phone-page link
        # to the form reply and PDF, without stores, customs or agencies importing us.
        from travelers import listeners

        listeners.connect()

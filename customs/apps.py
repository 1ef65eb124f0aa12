from django.apps import AppConfig


class CustomsConfig(AppConfig):
    name = "customs"
    default_auto_field = "django.db.models.BigAutoField"

"""Celery application: settings come from Django's, with the CELERY_ prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refund_site.settings.local")

app = Celery("refund_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

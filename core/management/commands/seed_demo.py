"""manage.py seed_demo: the SPEC §4 demo objects and users (idempotent)."""

from typing import Any

from django.core.management.base import BaseCommand

from core.demo import demo_seed


class Command(BaseCommand):
    help = "Create the demo agency, port, stores and users; running it again changes nothing."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = demo_seed()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {counts}"))

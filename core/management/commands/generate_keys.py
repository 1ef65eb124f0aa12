"""Print fresh production secrets as .env lines."""

import secrets
from typing import Any

from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand

from core.keys import generate_ed25519_seed_b64


class Command(BaseCommand):
    help = (
        "Print new DJANGO_SECRET_KEY, SIGNING_PRIVATE_KEY, FIELD_ENCRYPTION_KEY, DOCUMENT_HASH_KEY."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}")
        self.stdout.write(f"SIGNING_PRIVATE_KEY={generate_ed25519_seed_b64()}")
        self.stdout.write(f"FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}")
        self.stdout.write(f"DOCUMENT_HASH_KEY={generate_ed25519_seed_b64()}")

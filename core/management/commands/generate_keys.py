"""Print (or write to a new file) fresh production secrets as .env lines.

Runs with any settings, production included, before the secrets exist
(manage.py tells the production settings so). ``--output FILE`` creates the
file with mode 0600 and refuses to overwrite one: secrets already in use
(documents encrypted, forms signed) must never be replaced by accident.
"""

import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.keys import generate_ed25519_seed_b64


def secret_lines() -> list[str]:
    """The four secrets as NAME=value lines."""
    return [
        f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}",
        f"SIGNING_PRIVATE_KEY={generate_ed25519_seed_b64()}",
        f"FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}",
        f"DOCUMENT_HASH_KEY={generate_ed25519_seed_b64()}",
    ]


class Command(BaseCommand):
    help = (
        "Print new DJANGO_SECRET_KEY, SIGNING_PRIVATE_KEY, FIELD_ENCRYPTION_KEY, DOCUMENT_HASH_KEY."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            help="Write them to this new file (mode 0600) instead; never overwrites a file.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        text = "\n".join(secret_lines()) + "\n"
        output = options.get("output")
        if not output:
            self.stdout.write(text, ending="")
            return
        path = Path(output)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise CommandError(
                f"{path} exists: its secrets may be in use; not overwritten."
            ) from exc
        except OSError as exc:
            raise CommandError(f"Cannot create {path}: {exc.strerror}") from exc
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        self.stderr.write(f"Wrote 4 secrets to {path} (mode 0600). Keep a copy in your vault.")

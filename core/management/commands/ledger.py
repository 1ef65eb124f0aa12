"""manage.py ledger verify | seal."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.ledger import ledger_seal, ledger_verify


class Command(BaseCommand):
    help = "Verify every ledger chain and sealed head, or seal new entries now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify", "seal"])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "seal":
            seal = ledger_seal()
            if seal is None:
                self.stdout.write("Nothing new to seal.")
            else:
                self.stdout.write(
                    f"Sealed {seal.batch_size} entries; tree size {seal.tree_size};"
                    f" head {seal.head_hash}"
                )
            return
        report = ledger_verify()
        if not report.intact:
            raise CommandError(f"Ledger is BROKEN at {report.first_break}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Ledger intact: {report.entries} entries in chains, {report.seals} signed heads."
            )
        )

"""``python manage.py guarantees sweep [--today YYYY-MM-DD]``: the periodic sweep, by hand."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from buyrefund.tasks import guarantees_sweep_run


def _iso_date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise CommandError(f"--today must be YYYY-MM-DD, not {value!r}") from exc


class Command(BaseCommand):
    help = "Buy & Refund guarantees: release, re-authorize and capture as due on a day."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sweep = sub.add_parser("sweep", help="Run the daily sweep (same code as the task).")
        sweep.add_argument("--today", help="Business date YYYY-MM-DD (default: today).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] != "sweep":
            raise CommandError("Unknown action.")
        day = date.fromisoformat(_iso_date(options["today"])) if options.get("today") else None
        # Every chunk in this process (the periodic task hands chunks to the workers).
        report = guarantees_sweep_run(day=day or timezone.localdate(), fan_out=False)
        self.stdout.write(json.dumps(report, sort_keys=True))
        deferred = list(report.get("retry_deferred") or [])  # type: ignore[call-overload]
        if deferred:
            # The broker could not take the retries: not a failure of the sweep.
            self.stderr.write(
                f"The message broker is unreachable: {len(deferred)} unanswered card"
                " operation(s) stay pending under their keys and will be retried by the"
                " next sweep."
            )

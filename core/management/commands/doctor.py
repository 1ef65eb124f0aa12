"""``python manage.py doctor``: is this deployment able to work? One line per check.

Checks, each OK or FAIL with the reason: the database is reachable and fully
migrated; the message broker is reachable; the four keys are present and
valid; the cache is shared between processes (throttles, lockouts); beat is
running (its heartbeat, recorded by a worker, is recent); workers answer a
ping. Exits 1 when any check fails, so a deploy script or a monitor can use it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

# Caches that live inside one process: every gunicorn worker would throttle alone.
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@dataclass(frozen=True)
class Check:
    """One doctor check's outcome."""

    name: str
    ok: bool
    detail: str


def check_database() -> Check:
    """Reachable, and no migration left to apply."""
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return Check("database", False, f"unreachable: {type(exc).__name__}: {exc}")
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:3])
        return Check("database", False, f"{len(plan)} migration(s) not applied ({names}…)")
    return Check("database", True, f"{connection.vendor}, all migrations applied")


def check_broker() -> Check:
    """The broker takes a connection within a few seconds."""
    from refund_site.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
            where = conn.as_uri()
    except Exception as exc:
        return Check("broker", False, f"unreachable: {type(exc).__name__}: {exc}")
    return Check("broker", True, f"reachable ({where})")


def check_keys() -> Check:
    """Signing key signs and verifies; the Fernet key round-trips; the HMAC key is 32 bytes."""
    from core.keys import document_hash_key, fernet, platform_signing_key

    try:
        key = platform_signing_key()
        key.public_key().verify(key.sign(b"doctor"), b"doctor")
        if fernet().decrypt(fernet().encrypt(b"doctor")) != b"doctor":
            raise ValueError("FIELD_ENCRYPTION_KEY does not round-trip")
        if len(document_hash_key()) != 32:
            raise ValueError("DOCUMENT_HASH_KEY is not 32 bytes")
    except Exception as exc:
        return Check("keys", False, f"{type(exc).__name__}: {exc}")
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    return Check("keys", True, f"present and valid (platform key {public[:12]}…)")


def check_cache() -> Check:
    """A cache every process shares, that stores and reads back."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHES:
        return Check(
            "cache", False, f"{backend.rsplit('.', 1)[-1]} is per process: use a shared cache"
        )
    try:
        cache = caches["default"]
        token = timezone.now().isoformat()
        cache.set("doctor:probe", token, 30)
        if cache.get("doctor:probe") != token:
            raise ValueError("a value written was not read back")
    except Exception as exc:
        return Check("cache", False, f"{type(exc).__name__}: {exc}")
    return Check("cache", True, f"shared ({backend.rsplit('.', 1)[-1]})")


def check_beat() -> Check:
    """Beat sent the heartbeat task and a worker recorded it recently."""
    from core.models import Heartbeat

    try:
        beat = Heartbeat.objects.filter(name="beat").first()
    except Exception as exc:
        return Check("beat", False, f"{type(exc).__name__}: {exc}")
    if beat is None:
        return Check("beat", False, "no heartbeat ever recorded: is beat (and a worker) running?")
    age = timezone.now() - beat.beat_at
    if age > timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS):
        return Check("beat", False, f"last heartbeat {int(age.total_seconds())} s ago")
    return Check("beat", True, f"last heartbeat {int(age.total_seconds())} s ago")


def check_workers(timeout: float = 3.0) -> Check:
    """At least one worker consumes and answers a ping."""
    from refund_site.celery import app

    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:
        return Check("workers", False, f"no ping: {type(exc).__name__}: {exc}")
    names = sorted(name for reply in replies for name in reply)
    if not names:
        return Check("workers", False, f"no worker answered a ping within {timeout:g} s")
    return Check("workers", True, f"{len(names)} answering: {', '.join(names)}")


CHECKS: dict[str, Callable[[], Check]] = {
    "database": check_database,
    "broker": check_broker,
    "keys": check_keys,
    "cache": check_cache,
    "beat": check_beat,
    "workers": check_workers,
}


class Command(BaseCommand):
    help = "Check a deployment: database, broker, keys, cache, beat, workers. Exit 1 on a failure."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip",
            default="",
            help=f"Comma-separated checks to skip ({', '.join(CHECKS)}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        skip = {name.strip() for name in options["skip"].split(",") if name.strip()}
        unknown = skip - set(CHECKS)
        if unknown:
            raise CommandError(f"Unknown check(s): {', '.join(sorted(unknown))}")
        failed = []
        for name, run in CHECKS.items():
            if name in skip:
                continue
            result = run()
            mark = "OK  " if result.ok else "FAIL"
            line = f"{mark} {result.name}: {result.detail}"
            self.stdout.write(self.style.SUCCESS(line) if result.ok else self.style.ERROR(line))
            if not result.ok:
                failed.append(name)
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {', '.join(failed)}")

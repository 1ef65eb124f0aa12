"""manage.py doctor (deployment checks) and generate_keys under the production settings."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.management.commands import doctor
from core.models import Heartbeat
from core.tasks import heartbeat_task

ROOT = Path(__file__).resolve().parents[2]


def run_doctor(*args: str) -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("doctor", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def test_doctor_passes_a_healthy_deployment(db: None, settings, monkeypatch, tmp_path) -> None:
    # given a shared cache, a recent heartbeat and a worker answering pings
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    heartbeat_task()
    monkeypatch.setattr(
        "refund_site.celery.app.control.ping", lambda timeout: [{"worker1@host": {"ok": "pong"}}]
    )
    output, failure = run_doctor()
    assert failure is None, output
    lines = output.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "OK   database",
        "OK   broker",
        "OK   keys",
        "OK   cache",
        "OK   beat",
        "OK   workers",
    ]
    assert "all migrations applied" in lines[0]
    assert "worker1@host" in lines[5]


def test_doctor_names_what_is_wrong_and_exits_1(db: None, settings, monkeypatch) -> None:
    # given a per-process cache, a stale heartbeat, no worker and a broken key
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    Heartbeat.objects.create(name="beat", beat_at=timezone.now() - timedelta(minutes=30))
    monkeypatch.setattr("refund_site.celery.app.control.ping", lambda timeout: [])
    monkeypatch.setattr(
        "core.keys.fernet", lambda: (_ for _ in ()).throw(ValueError("Fernet key must be 32"))
    )
    output, failure = run_doctor()
    assert failure is not None
    assert "4 check(s) failed: keys, cache, beat, workers" in str(failure)
    assert "FAIL cache: LocMemCache is per process" in output
    assert "FAIL beat: last heartbeat 1800 s ago" in output
    assert "FAIL workers: no worker answered a ping" in output
    assert "FAIL keys: ValueError: Fernet key must be 32" in output
    assert "OK   database" in output


def test_doctor_reports_unapplied_migrations_and_an_unreachable_broker(
    db: None, settings, monkeypatch
) -> None:
    class Plan:
        def __init__(self, connection) -> None:
            self.loader = type("L", (), {"graph": type("G", (), {"leaf_nodes": lambda s: []})()})()

        def migration_plan(self, targets):
            migration = type("M", (), {"app_label": "core", "name": "0099_future"})()
            return [(migration, False)]

    monkeypatch.setattr(doctor, "MigrationExecutor", Plan)
    settings.CELERY_BROKER_CONNECTION_TIMEOUT = 1
    monkeypatch.setattr(
        "refund_site.celery.app.conf.broker_url", "redis://127.0.0.1:9/0", raising=False
    )
    output, failure = run_doctor("--skip", "beat,workers,cache")
    assert "FAIL database: 1 migration(s) not applied (core.0099_future" in output
    assert "FAIL broker: unreachable" in output
    assert failure is not None and "database, broker" in str(failure)


def test_doctor_refuses_an_unknown_check(db: None) -> None:
    with pytest.raises(CommandError, match="Unknown check"):
        call_command("doctor", "--skip", "nonsense")


def test_heartbeat_task_records_when_and_where(db: None) -> None:
    heartbeat_task()
    beat = Heartbeat.objects.get(name="beat")
    assert timezone.now() - beat.beat_at < timedelta(seconds=5)
    heartbeat_task()
    assert Heartbeat.objects.count() == 1


def production_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "SIGNING_", "FIELD_", "DOCUMENT_", "REFUND_GEN"))
    }
    env.update(DJANGO_SETTINGS_MODULE="refund_site.settings.production", **extra)
    return env


def test_generate_keys_works_under_production_settings_before_the_secrets_exist(
    tmp_path: Path,
) -> None:
    # given production settings exported and no secret yet (README, line by line)
    manage = [sys.executable, "manage.py"]
    refused = subprocess.run(  # noqa: S603
        [*manage, "check"], cwd=ROOT, env=production_env(), capture_output=True, text=True
    )
    assert refused.returncode != 0 and "Production settings need" in refused.stderr
    # when the keys are generated into a new file
    target = tmp_path / "secrets.env"
    made = subprocess.run(  # noqa: S603
        [*manage, "generate_keys", "--output", str(target)],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    secrets = dict(line.split("=", 1) for line in target.read_text().splitlines())
    assert set(secrets) == {
        "DJANGO_SECRET_KEY",
        "SIGNING_PRIVATE_KEY",
        "FIELD_ENCRYPTION_KEY",
        "DOCUMENT_HASH_KEY",
    }
    # then the production settings start with them, and the file is never overwritten
    checked = subprocess.run(  # noqa: S603
        [*manage, "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(**secrets),
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    again = subprocess.run(  # noqa: S603
        [*manage, "generate_keys", "--output", str(target)],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
    )
    assert again.returncode != 0 and "not overwritten" in again.stderr
    assert dict(line.split("=", 1) for line in target.read_text().splitlines()) == secrets
    printed = subprocess.run(  # noqa: S603
        [*manage, "generate_keys"], cwd=ROOT, env=production_env(), capture_output=True, text=True
    )
    assert printed.returncode == 0 and printed.stdout.count("=") >= 4

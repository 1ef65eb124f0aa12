"""The supervised deployments the README documents hold what a broken process needs.

systemd units (deploy/systemd/) and Docker Compose (deploy/compose/): every process is
restarted after any crash, exactly one beat, at least two workers, the same commands in
both, and the image has the CJK font the printed forms need. No Docker daemon or systemd
runs in CI, so these read the files as the supervisor would.
"""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose" / "docker-compose.yml"
SYSTEMD = ROOT / "deploy" / "systemd"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((SYSTEMD / name).read_text())
    return parser


def test_every_long_running_compose_service_restarts_after_any_crash():
    services = compose()["services"]
    for name in ("db", "redis", "web", "worker", "beat"):
        assert services[name]["restart"] == "always", name
    # the one-shot migration is the only service that is not restarted
    assert services["migrate"]["restart"] == "no"


def test_compose_runs_one_beat_and_two_workers_after_migrations():
    services = compose()["services"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert "replicas" not in services["beat"].get("deploy", {})
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["db"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        environment = services[name]["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "refund_site.settings.production"
        assert environment["CELERY_BROKER_URL"].startswith("redis://redis:")
        # throttles and kiosk form locks must be shared by every web process
        assert environment["CACHE_URL"].startswith("redis://redis:")
    # queued tasks survive a Redis restart
    assert "--appendonly" in services["redis"]["command"]


def test_compose_and_systemd_start_the_same_processes():
    services = compose()["services"]
    for service, unit_name in (
        ("web", "refund-web.service"),
        ("worker", "refund-worker@.service"),
        ("beat", "refund-beat.service"),
    ):
        parsed = unit(unit_name)
        assert parsed["Service"]["Restart"] == "always", unit_name
        started = shlex.split(parsed["Service"]["ExecStart"])
        program = Path(started[0]).name
        assert services[service]["command"][0] == program, service
        assert services[service]["command"][1:4] == started[1:4], service


def test_image_has_the_cjk_font_and_production_settings():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "fonts-wqy-zenhei" in dockerfile
    assert "DJANGO_SETTINGS_MODULE=refund_site.settings.production" in dockerfile
    assert "USER refund" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    # no local database, keys or virtualenv baked into the image
    for path in ("var", ".venv", "*.sqlite3"):
        assert path in ignored

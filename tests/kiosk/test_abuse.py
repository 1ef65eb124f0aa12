"""Kiosk abuse: a rate shared by every process, addresses that cannot be forged, a form lock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from stdnum import luhn

from core.net import client_ip
from kiosk.guards import KioskRateThrottle
from tests.kiosk.conftest import DOCUMENT, URL

ROOT = Path(__file__).resolve().parents[2]


def _request(remote: str, forwarded: str | None = None) -> Any:
    extra: dict[str, Any] = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(settings: Any) -> None:
    settings.TRUSTED_PROXIES = []
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]
    # The proxy appends the address it saw; what the client wrote further left is ignored.
    assert client_ip(_request("10.1.2.3", "1.1.1.1, 198.51.100.7")) == "198.51.100.7"
    # Two of our proxies in a row: the first address that is not ours is the client.
    assert client_ip(_request("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.5")) == "198.51.100.7"
    # Garbage from the client stops the walk at the last address our proxies wrote.
    assert client_ip(_request("10.1.2.3", "nonsense, 10.0.0.9")) == "10.0.0.9"
    # A peer that is not a trusted proxy is the client, whatever it forwards.
    assert client_ip(_request("198.51.100.20", "10.0.0.1")) == "198.51.100.20"


@pytest.mark.django_db
def test_rotating_forwarded_for_still_throttled(api: Any, monkeypatch: Any, settings: Any) -> None:
    monkeypatch.setattr(KioskRateThrottle, "THROTTLE_RATES", {"kiosk": "3/min"})
    client = api()
    statuses = [
        client.post(
            URL,
            {"form": "0000000000000000", "document_number": DOCUMENT},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(6)
    ]
    assert statuses == [404, 404, 404, 429, 429, 429]

    # Behind a trusted proxy, the proxy's own entry counts, not what the client wrote.
    cache.clear()
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    statuses = [
        client.post(
            URL,
            {"form": "0000000000000000", "document_number": DOCUMENT},
            format="json",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.50",
        ).status_code
        for n in range(4)
    ]
    assert statuses == [404, 404, 404, 429]
    # Another real client behind the same proxy has its own count.
    other = client.post(
        URL,
        {"form": "0000000000000000", "document_number": DOCUMENT},
        format="json",
        HTTP_X_FORWARDED_FOR="203.0.113.51",
    )
    assert other.status_code == 404


@pytest.mark.django_db
def test_five_wrong_documents_lock_the_form(issued: Any, lookup: Any, settings: Any) -> None:
    form, other = issued(), issued()
    for n in range(4):
        assert lookup(form.number, f"X{n}0000000").status_code == 404
    # Four typos, then the right number: found, and the count starts again.
    assert lookup(form.number).status_code == 200
    for n in range(5):
        assert lookup(form.number, f"Y{n}0000000").status_code == 404
    # Five wrong numbers: the form is locked, even for the right document, also by QR.
    locked = lookup(form.number)
    assert locked.status_code == 429
    assert locked.json()["code"] == "form_locked"
    assert lookup(form.qr_payload).json()["code"] == "form_locked"
    # Other forms are not.
    assert lookup(other.number).status_code == 200
    # An unknown form number locks the same way: the lock tells nothing about existence.
    unknown = "1125" + "0" * 10 + "7"
    unknown += luhn.calc_check_digit(unknown)
    answers = [lookup(unknown).status_code for _ in range(6)]
    assert answers[:5] == [404] * 5
    assert answers[5] == 429
    # 15 minutes later (the cache entry's lifetime) it answers again.
    assert settings.KIOSK_FORM_LOCK_SECONDS == 15 * 60
    cache.delete(f"kiosk:form-lock:{form.number}")
    assert lookup(form.number).status_code == 200


@pytest.mark.django_db
def test_kiosk_page_posts_and_answers_without_script(issued: Any, client: Any) -> None:
    form = issued()
    page = client.get("/kiosk/?lang=fr").content.decode()
    assert 'method="post"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    found = client.post("/kiosk/", {"form": form.number, "document_number": DOCUMENT, "lang": "fr"})
    assert found.status_code == 200
    html = found.content.decode()
    assert "18,00" in html  # the net refund, written the French way
    assert DOCUMENT not in html
    assert found["Cache-Control"].startswith("max-age=0") or "no-store" in found["Cache-Control"]
    missing = client.post(
        "/kiosk/", {"form": form.number, "document_number": "Z9999999", "lang": "fr"}
    )
    assert missing.status_code == 404
    for _ in range(4):
        client.post("/kiosk/", {"form": form.number, "document_number": "Z9999999", "lang": "fr"})
    locked = client.post("/kiosk/", {"form": form.number, "document_number": DOCUMENT})
    assert locked.status_code == 429
    assert "15 minutes" in locked.content.decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    """The test database (already migrated, its cache table created) as a URL."""
    db = connection.settings_dict
    name = connection.creation._get_test_db_name()  # type: ignore[attr-defined]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    # On PostgreSQL the connection already names the test database (test_<name>).
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def two_servers(tmp_path: Path, transactional_db: None) -> Iterator[list[str]]:
    """Two gunicorn processes on loopback ports, one database, one database cache."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "refund_site.settings.local",
        "REFUND_VAR_DIR": str(tmp_path),
        "DATABASE_URL": _database_url(),
        "DJANGO_DEBUG": "false",
        "KIOSK_THROTTLE_RATE": "4/min",
    }
    env.pop("CACHE_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "createcachetable"], env=env, check=True, cwd=ROOT)  # noqa: S603
    ports = [_free_port(), _free_port()]
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    procs = [
        subprocess.Popen(  # noqa: S603
            # No control socket: two masters would share the default one in $HOME.
            [
                gunicorn,
                "refund_site.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "1",
                "--no-control-socket",
            ],
            env=env,
            cwd=ROOT,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for url in urls:
            while True:
                try:
                    urllib.request.urlopen(f"{url}/kiosk/", timeout=2)  # noqa: S310
                    break
                except urllib.error.HTTPError:
                    break  # up (an error page is an answer)
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)  # a loaded machine can take a while to stop
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _post(url: str) -> int:
    request = urllib.request.Request(  # noqa: S310
        f"{url}{URL}",
        data=b'{"form": "0000000000000000", "document_number": "X1234567"}',
        headers={"Content-Type": "application/json", "X-Forwarded-For": "198.51.100.77"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.django_db(transaction=True)
def test_two_server_processes_share_the_rate(two_servers: list[str]) -> None:
    # Given a rate of 4 a minute and two web processes, when one client alternates
    # between them, then the fifth lookup is refused: both count in the same cache.
    first, second = two_servers
    statuses = [_post(first if n % 2 == 0 else second) for n in range(6)]
    assert statuses == [404, 404, 404, 404, 429, 429]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("max_entries", [300, None], ids=["djangos-300", "settings"])
def test_a_flood_of_other_numbers_does_not_cull_a_forms_failure_count(
    issued: Any, lookup: Any, settings: Any, max_entries: int | None
) -> None:
    """A walk through a form's document numbers cannot reset its count by filling the cache.

    The database cache culls the first keys by name above MAX_ENTRIES: with Django's
    default of 300, four wrong numbers for a form, then 330 lookups of unknown numbers
    that sort after it, culled its failure count and the fifth wrong number did not lock
    it. The settings' cache holds a million before culling (core/cache.py)."""
    cache_settings = dict(settings.CACHES["default"])
    options = {**cache_settings.get("OPTIONS", {}), "CULL_EVERY_SECONDS": 0}
    if max_entries is not None:
        options["MAX_ENTRIES"] = max_entries
    else:
        assert options["MAX_ENTRIES"] >= 1_000_000
    settings.CACHES = {**settings.CACHES, "default": {**cache_settings, "OPTIONS": options}}
    cache.clear()
    form = issued()
    for n in range(settings.KIOSK_FORM_LOCK_FAILURES - 1):
        assert lookup(form.number, f"X{n}0000000").status_code == 404
    for n in range(330):
        unknown = f"99{n:013d}"
        assert lookup(unknown + luhn.calc_check_digit(unknown)).status_code == 404
    assert lookup(form.number, "X90000000").status_code == 404
    locked = lookup(form.number).status_code == 429
    assert locked is (max_entries is None)
    cache.clear()

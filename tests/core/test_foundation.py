"""seed_demo, policies and selectors, sequences, production settings."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction

from core.models import (
    Agency,
    AgencyFeeRate,
    BuyAndRefundWindow,
    Port,
    RefundPolicy,
    StaffMembership,
    Store,
)
from core.selectors import buy_and_refund_days, fee_rate_on, membership_of, policy_on
from core.sequences import sequence_next

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


# --- seed_demo ----------------------------------------------------------------------------


def counts() -> dict[str, int]:
    return {
        "agencies": Agency.objects.count(),
        "ports": Port.objects.count(),
        "stores": Store.objects.count(),
        "users": get_user_model().objects.count(),
        "memberships": StaffMembership.objects.count(),
        "fee_rates": AgencyFeeRate.objects.count(),
        "windows": BuyAndRefundWindow.objects.count(),
        "policies": RefundPolicy.objects.count(),
    }


def test_seed_demo_is_idempotent(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    hashes = dict(get_user_model().objects.values_list("username", "password"))
    call_command("seed_demo", stdout=out)
    assert (
        counts()
        == first
        == {
            "agencies": 2,
            "ports": 2,
            "stores": 2,
            "users": 8,
            "memberships": 7,
            "fee_rates": 3,  # the platform default (migration) and each demo agency's 2%
            "windows": 2,  # Shanghai 17 days and nationwide 28 from 2026-07-01 (migration)
            "policies": 3,
        }
    )
    # the second run leaves passwords alone (sessions survive a restart)
    assert dict(get_user_model().objects.values_list("username", "password")) == hashes
    ready = "{'agencies': 2, 'ports': 2, 'stores': 2, 'users': 8, 'kiosk_devices': 1}"
    assert f"Demo data ready: {ready}" in out.getvalue()


def test_seed_demo_objects_are_those_of_the_spec(demo):
    assert demo.agency.code == "DEMO-AGENCY"
    assert fee_rate_on(agency_id=demo.agency.pk, day=date(2026, 1, 1)) == D("0.02")
    assert (demo.port.code, demo.port.city, demo.port.has_mailbox) == ("PVG", "Shanghai", True)
    sh, bj = demo.store_sh, demo.store_bj
    assert (sh.code, sh.region_code, sh.city, sh.buy_and_refund, sh.serving_agency) == (
        "DEMO-SH-001",
        "31",
        "Shanghai",
        True,
        demo.agency,
    )
    assert (bj.code, bj.region_code, bj.city, bj.buy_and_refund, bj.serving_agency) == (
        "DEMO-BJ-001",
        "11",
        "Beijing",
        False,
        demo.agency2,
    )
    assert (demo.agency2.code, demo.port2.code, demo.port2.agency) == (
        "DEMO-AGENCY-2",
        "PEK",
        demo.agency2,
    )
    assert (demo.port.agency, demo.port2.buy_and_refund_designated) == (demo.agency, True)
    places = {
        m.user.username: (m.role, m.store, m.port, m.agency)
        for m in StaffMembership.objects.select_related("user")
    }
    assert places == {
        "clerk": ("clerk", sh, None, None),
        "clerk2": ("clerk", bj, None, None),
        "officer": ("officer", None, demo.port, None),
        "officer2": ("officer", None, demo.port2, None),
        "agent": ("agent", None, None, demo.agency),
        "agent2": ("agent", None, None, demo.agency2),
        "analyst": ("analyst", None, None, None),
    }
    assert demo.admin.is_superuser and demo.admin.is_staff
    for user in (demo.clerk, demo.clerk2, demo.officer, demo.agent, demo.admin, demo.analyst):
        assert user.check_password("refund-demo-2026")
    assert membership_of(demo.admin) is None
    clerk = membership_of(demo.clerk)
    assert clerk is not None and clerk.store == sh
    assert buy_and_refund_days(region_code="31", day=date(2026, 1, 1)) == 17
    assert buy_and_refund_days(region_code="11", day=date(2026, 1, 1)) is None


def test_seed_demo_repairs_a_changed_demo_user(demo):
    demo.clerk.set_password("something-else")
    demo.clerk.is_active = False
    demo.clerk.save()
    call_command("seed_demo", stdout=StringIO())
    clerk = get_user_model().objects.get(username="clerk")
    assert clerk.is_active and clerk.check_password("refund-demo-2026")


# --- Policies from the data migration --------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "minimum", "cap", "rates"),
    [
        (
            date(2015, 1, 1),
            "500",
            "10000",
            {"0.17": "0.11", "0.16": "0.11", "0.11": "0.11", "0.1": "0.11"},
        ),
        (
            date(2019, 3, 31),
            "500",
            "10000",
            {"0.17": "0.11", "0.16": "0.11", "0.11": "0.11", "0.1": "0.11"},
        ),
        (date(2019, 4, 1), "500", "10000", {"0.13": "0.11", "0.09": "0.08"}),
        (date(2025, 4, 26), "500", "10000", {"0.13": "0.11", "0.09": "0.08"}),
        (date(2025, 4, 27), "200", "20000", {"0.13": "0.11", "0.09": "0.08"}),
    ],
)
def test_seeded_policy_in_force_on_each_side_of_each_boundary(db, day, minimum, cap, rates):
    policy = policy_on(day)
    assert (policy.minimum_amount, policy.cash_cap) == (D(minimum), D(cap))
    assert {str(k): str(v.normalize()) for k, v in policy.refund_rates.items()} == rates


def test_fee_rate_falls_back_to_the_platform_default(db):
    agency = Agency.objects.create(code="NEW", name="New")
    assert fee_rate_on(agency_id=agency.pk, day=date(2026, 1, 1)) == D("0.02")
    AgencyFeeRate.objects.create(agency=agency, effective_from=date(2026, 1, 1), rate=D("0.015"))
    assert fee_rate_on(agency_id=agency.pk, day=date(2025, 12, 31)) == D("0.02")
    assert fee_rate_on(agency_id=agency.pk, day=date(2026, 1, 1)) == D("0.015")
    assert fee_rate_on(agency_id=None, day=date(2026, 1, 1)) == D("0.02")


# --- Sequences ---------------------------------------------------------------------------------


def test_sequence_next_counts_per_key(db):
    with transaction.atomic():
        assert [sequence_next(key="a") for _ in range(3)] == [1, 2, 3]
        assert sequence_next(key="b") == 1
        assert sequence_next(key="a", count=10) == 4
        assert sequence_next(key="a") == 14


def test_sequence_next_refuses_to_run_outside_a_transaction(transactional_db):
    with pytest.raises(RuntimeError, match="inside the issuing transaction"):
        sequence_next(key="a")


@pytest.mark.postgres
def test_concurrent_sequence_next_gives_distinct_numbers(postgres_only):
    threads, per_thread = 8, 10
    barrier = threading.Barrier(threads)
    got: list[int] = []
    lock = threading.Lock()

    def issue():
        try:
            barrier.wait()
            for _ in range(per_thread):
                with transaction.atomic():
                    number = sequence_next(key="race")
                with lock:
                    got.append(number)
        finally:
            connection.close()

    workers = [threading.Thread(target=issue) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(got) == list(range(1, threads * per_thread + 1))


# --- Production settings -----------------------------------------------------------------------

SECRETS = {
    "DJANGO_SECRET_KEY": "test-only-secret-key-" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ" * 2,
    "SIGNING_PRIVATE_KEY": "dGVzdC1zaWduaW5nLWtleS0wMDAwMDAwMDAwMDAwMDA=",
    "FIELD_ENCRYPTION_KEY": "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0wMDAwMDA=",
    "DOCUMENT_HASH_KEY": "dGVzdC1kb2N1bWVudC1oYXNoLWtleS0wMDAwMDAwMDA=",
}


def run_manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in SECRETS and not key.startswith(("DJANGO_", "DATABASE_", "CELERY_"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="refund_site.settings.production",
        REFUND_VAR_DIR=str(tmp_path),
        # empty values shadow a developer's .env file (read without overwriting)
        **{name: "" for name in SECRETS},
    )
    environment.update(env)
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_production_refuses_to_start_without_each_secret(tmp_path, missing):
    present = {k: v for k, v in SECRETS.items() if k != missing}
    result = run_manage(tmp_path, "check", **present)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"Production settings need: {missing}" in result.stderr


def test_production_refuses_a_short_secret_key(tmp_path):
    result = run_manage(tmp_path, "check", **{**SECRETS, "DJANGO_SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "at least 50 characters" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SIGNING_PRIVATE_KEY", "not-base64!"),
        ("SIGNING_PRIVATE_KEY", "c2hvcnQ="),  # base64 of 5 bytes
        ("FIELD_ENCRYPTION_KEY", "c2hvcnQ="),
        ("DOCUMENT_HASH_KEY", "%%%"),
    ],
)
def test_production_refuses_malformed_keys(tmp_path, name, value):
    result = run_manage(tmp_path, "check", **{**SECRETS, name: value})
    assert result.returncode != 0
    assert f"{name} is malformed" in result.stderr


def test_production_security_settings_pass_check_deploy(tmp_path):
    # the security part of `check --deploy`; scripts/test runs the whole of it
    args = ["check", "--deploy", "--tag", "security", "--fail-level", "WARNING"]
    result = run_manage(tmp_path, *args, **SECRETS)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_policies_come_back_after_a_flush(transactional_db):
    # transactional tests flush every table after themselves; the next test still needs
    # the policies the data migration seeded (flush sends post_migrate, like migrate)
    call_command("flush", interactive=False, verbosity=0)
    assert policy_on(date(2026, 1, 1)).minimum_amount == D("200.00")
    assert policy_on(date(2019, 4, 1)).cash_cap == D("10000.00")
    assert fee_rate_on(agency_id=None, day=date(2026, 1, 1)) == D("0.02")


def test_an_edited_policy_table_is_left_alone(transactional_db):
    RefundPolicy.objects.filter(effective_from__lt=date(2025, 1, 1)).delete()
    RefundPolicy.objects.update(minimum_amount=D("300.00"))
    call_command("migrate", verbosity=0)  # sends post_migrate
    assert list(RefundPolicy.objects.values_list("minimum_amount", flat=True)) == [D("300.00")]

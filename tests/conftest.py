"""Shared fixtures: the demo directory, API clients per role, database kind."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.db import connection
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.demo import demo_seed
from core.models import Agency, Port, Store

# Two cores shared by many processes: a per-example deadline only measures the load.
hypothesis_settings.register_profile("shared-machine", deadline=None)
hypothesis_settings.load_profile("shared-machine")


@dataclass
class Demo:
    """The SPEC §4 demo objects."""

    agency: Agency
    port: Port
    store_sh: Store
    store_bj: Store
    clerk: Any
    clerk2: Any
    officer: Any
    agent: Any
    admin: Any
    agency2: Agency
    port2: Port
    officer2: Any
    agent2: Any
    analyst: Any


@pytest.fixture
def demo(db: None) -> Demo:
    # A transactional test before this one (browser tests, live server) flushed the
    # database, data migrations included: put the seeded policies back (idempotent).
    import_module("core.migrations.0002_seed_policies").forwards(django_apps, None)
    demo_seed()
    users = {u.username: u for u in get_user_model().objects.all()}
    return Demo(
        agency=Agency.objects.get(code="DEMO-AGENCY"),
        port=Port.objects.get(code="PVG"),
        store_sh=Store.objects.get(code="DEMO-SH-001"),
        store_bj=Store.objects.get(code="DEMO-BJ-001"),
        clerk=users["clerk"],
        clerk2=users["clerk2"],
        officer=users["officer"],
        agent=users["agent"],
        admin=users["admin"],
        agency2=Agency.objects.get(code="DEMO-AGENCY-2"),
        port2=Port.objects.get(code="PEK"),
        officer2=users["officer2"],
        agent2=users["agent2"],
        analyst=users["analyst"],
    )


@pytest.fixture
def api() -> Any:
    """``api(user)`` -> an APIClient authenticated with that user's token; ``api()`` anonymous."""

    def make(user: Any = None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> None:
    """The test databases, without a serialized copy: serialized rollback is not needed here.

    A flush (after every transactional test) sends post_migrate, which puts back what
    migrations create: content types, permissions, and the policies and default fee rate
    of core's data migration (core.apps). Restoring a serialized copy on top of that
    collides on unique keys, depending on test order, so ``django_db_serialized_rollback``
    behaves as a plain ``transactional_db`` here.
    """
    from django.db import connections

    for connection_ in connections.all():
        if hasattr(connection_, "_test_serialized_contents"):
            del connection_._test_serialized_contents


@pytest.fixture
def postgres_only(transactional_db: None) -> None:
    """Concurrency tests need real row locks: they skip loudly on SQLite (CI runs them on PG)."""
    if not is_postgres():
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://... (CI does)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that needs PostgreSQL says so with the ``postgres`` marker; the schema
    fuzzing (marker ``fuzz``) runs only when asked for: ``pytest -m fuzz``."""
    if "fuzz" not in (config.getoption("markexpr") or ""):
        kept = [item for item in items if item.get_closest_marker("fuzz") is None]
        if len(kept) != len(items):
            config.hook.pytest_deselected(items=[i for i in items if i not in kept])
            items[:] = kept
    unmarked = [
        item.nodeid
        for item in items
        if "postgres_only" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("postgres") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests using postgres_only must carry @pytest.mark.postgres: " + ", ".join(unmarked)
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """With REQUIRE_POSTGRES=1 (scripts/test's PostgreSQL pass) a skipped PostgreSQL test fails.

    A misconfigured run (no DATABASE_URL, a SQLite fallback) must not pass quietly by
    skipping every concurrency and fault-injection test.
    """
    report = yield
    if (
        report.skipped
        and os.environ.get("REQUIRE_POSTGRES") == "1"
        and item.get_closest_marker("postgres") is not None
    ):
        report.outcome = "failed"
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"REQUIRE_POSTGRES=1 but this PostgreSQL test was skipped: {reason}"
    return report


pytest_plugins = ["tests.browser"]


@pytest.fixture(autouse=True)
def _reference_cache_empty() -> Any:
    """Each test starts with nothing cached from another test's (rolled back) data."""
    from core.refcache import reference_cache_clear

    reference_cache_clear()
    yield
    reference_cache_clear()

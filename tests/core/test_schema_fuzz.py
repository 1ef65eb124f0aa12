"""Property-based fuzzing of the whole API schema, as every demo role and as anonymous.

Schemathesis generates requests from the OpenAPI schema (valid and invalid bodies,
parameters, path values) and sends them in-process to the WSGI application. Every
answer must be a non-5xx status that the operation documents, with a body matching its
schema and a documented content type. A fixed seed keeps runs repeatable.

Marked ``fuzz``: scripts/test runs it as its own step (``pytest -m fuzz``); the regular
runs leave it out (tests/conftest.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis import checks
from schemathesis.generation import GenerationMode

from core.demo import demo_seed

ROLES = [
    "anonymous",
    "clerk",
    "clerk2",
    "officer",
    "officer2",
    "agent",
    "agent2",
    "analyst",
    "admin",
]
MAX_EXAMPLES = 6
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Requests sent and answers by status class, written per test process for the summary.
TALLY: Counter[str] = Counter()
SEED = 20261130

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]

pytestmark = [pytest.mark.fuzz]


@pytest.fixture(autouse=True)
def _keep_test_connection(settings: Any) -> Any:
    # Generated Idempotency-Keys repeat: a replay answers at once, never waits.
    settings.IDEMPOTENCY_WAIT_SECONDS = 0
    # The WSGI handler closes "old" connections around each request, which would close
    # the test's transaction; Django's test client disconnects the same signals.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def tokens(django_db_setup: None, django_db_blocker: Any) -> dict[str, str]:
    """The demo data, seeded once for the module (committed), and a token per user."""
    with django_db_blocker.unblock():
        demo_seed()
        return {
            user.username: Token.objects.get_or_create(user=user)[0].key
            for user in get_user_model().objects.filter(username__in=ROLES)
        }


@pytest.fixture(params=ROLES)
def auth_headers(request: Any, tokens: dict[str, str], db: None) -> dict[str, str]:
    """The Authorization header of one demo role (none for anonymous)."""
    if request.param == "anonymous":
        return {}
    return {"Authorization": f"Token {tokens[request.param]}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api(case: Any, auth_headers: dict[str, str]) -> None:
    TALLY["requests"] += 1
    try:
        response = case.call_and_validate(headers=auth_headers, checks=CHECKS)
    except Exception:
        TALLY["failed_checks"] += 1
        raise
    TALLY[f"{response.status_code // 100}xx"] += 1


@pytest.fixture(scope="module", autouse=True)
def _write_tally(worker_id: str) -> Iterator[None]:
    yield
    ARTIFACTS.mkdir(exist_ok=True)
    operations = list(schema.get_all_operations())
    (ARTIFACTS / f"fuzz-{worker_id}.json").write_text(
        json.dumps({"operations": len(operations), "roles": len(ROLES), **TALLY})
    )

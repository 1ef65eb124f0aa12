"""Exactly once under concurrency: 32 agents' requests racing on one form.

On PostgreSQL the form row lock and the one-live-refund constraint decide.
On SQLite the same code relies on its serialized writers (WAL, BEGIN
IMMEDIATE, busy timeout): the threads run on a WAL copy of the test database
in a file of their own, the deployed configuration, whatever the test
settings choose (an in-memory test database would use shared-cache table
locks that fail at once instead of waiting).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agencies.models import Refund, RefundAttempt, SandboxTransfer
from core.ledger import ledger_verify
from stores.models import RefundForm
from tests.agencies.conftest import DOCUMENT, GOOD_CARD
from tests.conftest import is_postgres

N = 32


def fire(n: int, request: Callable[[int], Any]) -> list[Any]:
    """Run ``request(i)`` in n threads released together; each closes its connection."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = request(i)
        except Exception as exc:  # surfaced by the assertions on results
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def in_thread(read: Callable[[], Any]) -> Any:
    """Run a read on a fresh connection of this test's database (the SQLite file, if any)."""
    (result,) = fire(1, lambda _: read())
    if isinstance(result, Exception):
        raise result
    return result


@pytest.fixture
def pg(postgres_only: None) -> None:
    """PostgreSQL, committed data, and the migrations' rows (policies) restored for this test."""


@pytest.fixture
def sqlite_file(transactional_db: None, tmp_path: Path) -> Iterator[Callable[[], None]]:
    """Call it after setting up data: copies the test database to a WAL file that threads use."""
    if is_postgres():
        pytest.skip("the SQLite variant of this test")
    original = connections.settings["default"]

    def switch() -> None:
        path = tmp_path / "concurrency.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(path)
        connection.connection.backup(target)
        target.close()
        connections.settings["default"] = {**original, "NAME": str(path)}

    yield switch
    connections.settings["default"] = original


def agent_client(user: Any) -> Callable[[], APIClient]:
    token = Token.objects.get_or_create(user=user)[0].key

    def make() -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


def refund_body(form: RefundForm) -> dict[str, str]:
    return {
        "form": form.number,
        "qr": form.qr_payload,
        "document_number": DOCUMENT,
        "payout_method": "bank_card",
        "payout_account": GOOD_CARD,
    }


def race_with_different_keys(form: RefundForm, agent: Any) -> list[Any]:
    client = agent_client(agent)
    body = refund_body(form)
    return fire(
        N,
        lambda i: client().post(
            "/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"counter-{i}"
        ),
    )


def race_with_one_key(form: RefundForm, agent: Any) -> list[Any]:
    client = agent_client(agent)
    body = refund_body(form)
    return fire(
        N,
        lambda i: client().post(
            "/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY="one-key"
        ),
    )


def assert_one_201_and_409s(responses: list[Any], form_number: str) -> None:
    assert not [r for r in responses if isinstance(r, Exception)], responses
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: N - 1}
    codes = Counter(r.json()["code"] for r in responses if r.status_code == 409)
    # while the transfer is in flight the others are told so, never "refunded" too early
    assert set(codes) <= {"already_refunded", "refund_in_progress"}

    def state() -> tuple[Any, ...]:
        refund = Refund.objects.get()
        transfer = SandboxTransfer.objects.get()
        return (
            refund.status,
            RefundForm.objects.get(number=form_number).status,
            transfer.status,
            transfer.calls,
            RefundAttempt.objects.filter(code__in=codes).count(),
            ledger_verify().intact,
        )

    assert in_thread(state) == ("paid", "refunded", "succeeded", 1, N - 1, True)


def assert_one_payout_and_identical_answers(responses: list[Any]) -> None:
    assert not [r for r in responses if isinstance(r, Exception)], responses
    # each got the one answer, or (past a one-second wait) 409 in progress at once
    waited = [r for r in responses if r.status_code == 409]
    assert {r.json()["code"] for r in waited} <= {"idempotency_in_progress"}
    assert all(r["Retry-After"] for r in waited)
    answered = [r for r in responses if r.status_code != 409]
    assert Counter(r.status_code for r in answered) == {201: N - len(waited)}
    bodies = [r.json() for r in answered]
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["status"] == "paid"
    replayed = sum(1 for r in answered if r.get("Idempotent-Replayed") == "true")
    assert replayed == len(answered) - 1

    def state() -> tuple[int, int, int, int]:
        return (
            Refund.objects.count(),
            SandboxTransfer.objects.count(),
            SandboxTransfer.objects.get().calls,
            RefundAttempt.objects.count(),
        )

    assert in_thread(state) == (1, 1, 1, 0)


@pytest.mark.postgres
def test_postgres_32_requests_different_keys_pay_once(pg, demo, verified_form):
    form = verified_form()
    assert_one_201_and_409s(race_with_different_keys(form, demo.agent), form.number)


@pytest.mark.postgres
def test_postgres_32_requests_one_key_pay_once_with_identical_answers(pg, demo, verified_form):
    form = verified_form()
    assert_one_payout_and_identical_answers(race_with_one_key(form, demo.agent))


def test_sqlite_32_requests_different_keys_pay_once(sqlite_file, demo, verified_form):
    form = verified_form()
    agent_client(demo.agent)  # the token exists before the copy
    sqlite_file()
    assert_one_201_and_409s(race_with_different_keys(form, demo.agent), form.number)


def test_sqlite_32_requests_one_key_pay_once_with_identical_answers(
    sqlite_file, demo, verified_form
):
    form = verified_form()
    agent_client(demo.agent)
    sqlite_file()
    assert_one_payout_and_identical_answers(race_with_one_key(form, demo.agent))

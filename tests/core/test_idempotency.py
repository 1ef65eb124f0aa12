"""Idempotency-Key on a test-only POST that creates a row (tests/core/urls_idem.py)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core.models import Agency, IdempotencyRecord

pytestmark = pytest.mark.urls("tests.core.urls_idem")
URL = "/api/v1/test/agencies/"


def post(client, body, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(URL, body, format="json", **headers, **extra)


def test_same_key_same_body_replays_the_first_answer(demo, api):
    client = api(demo.clerk)
    first = post(client, {"code": "IDEM-1", "name": "First"}, key="k-1")
    again = post(client, {"code": "IDEM-1", "name": "First"}, key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Agency.objects.filter(code="IDEM-1").count() == 1


def test_same_key_other_body_is_refused(demo, api):
    client = api(demo.clerk)
    assert post(client, {"code": "IDEM-2", "name": "A"}, key="k-2").status_code == 201
    reused = post(client, {"code": "IDEM-2", "name": "B"}, key="k-2")
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert set(reused.json()) == {"code", "message", "extra"}
    assert Agency.objects.get(code="IDEM-2").name == "A"


def test_keys_are_per_user(demo, api):
    first = post(api(demo.clerk), {"code": "IDEM-3", "name": "A"}, key="shared")
    other_user = post(api(demo.clerk2), {"code": "IDEM-4", "name": "B"}, key="shared")
    assert (first.status_code, other_user.status_code) == (201, 201)
    assert Agency.objects.filter(code__in=["IDEM-3", "IDEM-4"]).count() == 2


def test_without_a_key_every_request_runs(demo, api):
    client = api(demo.clerk)
    assert post(client, {"code": "IDEM-5", "name": "A"}).status_code == 201
    assert post(client, {"code": "IDEM-6", "name": "A"}).status_code == 201
    assert not IdempotencyRecord.objects.exists()


def test_definite_errors_are_replayed_too(demo, api):
    client = api(demo.clerk)
    invalid = post(client, {"code": ""}, key="k-invalid")
    assert invalid.status_code == 400 and invalid.json()["code"] == "invalid"
    assert post(client, {"code": ""}, key="k-invalid").json() == invalid.json()
    refused = post(client, {"code": "REFUSE", "name": "x"}, key="k-refused")
    assert refused.status_code == 422 and refused.json()["code"] == "refused_for_test"
    replay = post(client, {"code": "REFUSE", "name": "x"}, key="k-refused")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == refused.json()


def test_a_crash_frees_the_key(demo, api):
    client = api(demo.clerk)
    client.raise_request_exception = False
    crashed = post(client, {"code": "CRASH", "name": "x"}, key="k-crash")
    assert crashed.status_code == 500
    assert crashed.json()["code"] == "server_error"
    assert not IdempotencyRecord.objects.filter(key="k-crash").exists()


def test_malformed_json_with_a_key_is_a_400_and_writes_nothing(demo, api):
    client = api(demo.clerk)
    response = client.post(
        URL, "{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-bad"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert set(response.json()) == {"code", "message", "extra"}
    assert not IdempotencyRecord.objects.exists()
    assert not Agency.objects.filter(code__startswith="IDEM").exists()


def test_overlong_key_is_refused(demo, api):
    response = post(api(demo.clerk), {"code": "IDEM-7", "name": "A"}, key="k" * 256)
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert not Agency.objects.filter(code="IDEM-7").exists()


def test_concurrent_requests_with_one_key_create_one_row(postgres_only, demo, api):
    # given eight clients sending the same request with the same key at the same moment
    threads = 8
    barrier = threading.Barrier(threads)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()
    clients = [api(demo.clerk) for _ in range(threads)]

    def send(client):
        try:
            barrier.wait()
            response = post(client, {"code": "IDEM-RACE", "name": "Race"}, key="k-race")
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    workers = [threading.Thread(target=send, args=(c,)) for c in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # then one row exists and every client got the same answer
    assert Agency.objects.filter(code="IDEM-RACE").count() == 1
    assert len(answers) == threads
    assert {status for status, _ in answers} == {201}
    assert len({repr(body) for _, body in answers}) == 1


def test_a_key_whose_first_request_died_is_not_run_again(demo, api):
    # given a pending record left by a process that died mid-request six minutes ago
    from datetime import timedelta

    from django.utils import timezone

    from core.models import IdempotencyRecord
    from stores.models import VatInvoice

    body = {
        "buyer_name": "Marie",
        "lines": [{"item": "Scarf", "quantity": "1", "unit_price": "300.00", "vat_rate": "0.13"}],
    }
    client = api(demo.clerk)
    first = client.post("/api/v1/invoices/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-died")
    assert first.status_code == 201
    IdempotencyRecord.objects.filter(key="k-died").update(
        status="pending", created_at=timezone.now() - timedelta(minutes=6)
    )
    # when the client retries with the same key and body
    again = client.post("/api/v1/invoices/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-died")
    # then nothing runs again: 409 outcome unknown, still one invoice
    assert (again.status_code, again.json()["code"]) == (409, "idempotency_outcome_unknown")
    assert VatInvoice.objects.count() == 1

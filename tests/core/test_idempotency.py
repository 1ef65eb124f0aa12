"""Idempotency-Key on a test-only POST that creates a row (tests/core/urls_idem.py)."""

from __future__ import annotations

import threading
import time

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


@pytest.mark.postgres
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
    # then one row exists; every client got the one answer or, at once, "in progress"
    assert Agency.objects.filter(code="IDEM-RACE").count() == 1
    assert len(answers) == threads
    created = [body for status, body in answers if status == 201]
    waiting = [body for status, body in answers if status == 409]
    assert len(created) + len(waiting) == threads and created
    assert len({repr(body) for body in created}) == 1
    assert {body["code"] for body in waiting} <= {"idempotency_in_progress"}
    retry = post(api(demo.clerk), {"code": "IDEM-RACE", "name": "Race"}, key="k-race")
    assert (retry.status_code, retry.json()) == (201, created[0])


INVOICE = {
    "buyer_name": "Marie",
    "lines": [{"item": "Scarf", "quantity": "1", "unit_price": "300.00", "vat_rate": "0.13"}],
}


def test_a_retry_while_the_first_attempt_runs_gets_409_at_once(demo, api):
    # given a request whose first attempt holds its lease (still running somewhere)
    from datetime import timedelta

    from django.utils import timezone

    client = api(demo.clerk)
    first = client.post("/api/v1/invoices/", INVOICE, format="json", HTTP_IDEMPOTENCY_KEY="k-run")
    assert first.status_code == 201
    IdempotencyRecord.objects.filter(key="k-run").update(
        status="pending", lease_expires_at=timezone.now() + timedelta(seconds=40)
    )
    # when the client retries
    started = time.monotonic()
    again = client.post("/api/v1/invoices/", INVOICE, format="json", HTTP_IDEMPOTENCY_KEY="k-run")
    # then it is told so at once, with when to retry, and nothing runs twice
    assert time.monotonic() - started < 2.5
    assert (again.status_code, again.json()["code"]) == (409, "idempotency_in_progress")
    assert 30 <= int(again["Retry-After"]) <= 40
    assert again.json()["extra"]["retry_after"] == int(again["Retry-After"])


def test_a_dead_attempt_that_committed_nothing_is_run_again(demo, api):
    # given a record left pending by a process that died: its transaction rolled back
    from datetime import timedelta

    from django.utils import timezone

    from stores.models import VatInvoice

    client = api(demo.clerk)
    first = client.post("/api/v1/invoices/", INVOICE, format="json", HTTP_IDEMPOTENCY_KEY="k-died")
    assert first.status_code == 201
    VatInvoice.objects.all().delete()  # what the rollback left: no invoice
    IdempotencyRecord.objects.filter(key="k-died").update(
        status="pending", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    # when the client retries with the same key and body
    again = client.post("/api/v1/invoices/", INVOICE, format="json", HTTP_IDEMPOTENCY_KEY="k-died")
    # then it runs again, once, and its answer is kept for the next retry
    assert again.status_code == 201
    assert VatInvoice.objects.count() == 1
    replay = client.post("/api/v1/invoices/", INVOICE, format="json", HTTP_IDEMPOTENCY_KEY="k-died")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == again.json()
    assert IdempotencyRecord.objects.get(key="k-died").status == "complete"


def test_a_dead_refund_request_is_settled_by_the_system_and_replayed(demo, api):
    # given a transfer whose request died after the payout and before its answer
    from datetime import timedelta

    from django.utils import timezone

    from agencies.models import Refund, SandboxTransfer
    from agencies.services import refunds_resend_stale
    from core.api.idempotency import idempotency_settle_stale
    from stores.models import RefundForm
    from tests.agencies.conftest import DOCUMENT, GOOD_CARD, verify
    from tests.factories import line, make_form, traveler

    form = verify(make_form(demo.store_sh, demo.clerk, line(), who=traveler()), demo)
    body = {
        "form": form.number,
        "qr": form.qr_payload,
        "document_number": DOCUMENT,
        "payout_method": "bank_card",
        "payout_account": GOOD_CARD,
    }
    agent = api(demo.agent)
    first = agent.post("/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-pay")
    assert first.status_code == 201
    Refund.objects.update(status="pending", paid_at=None)  # the answer was never recorded
    RefundForm.objects.filter(pk=form.pk).update(status="verified")
    IdempotencyRecord.objects.filter(key="k-pay").update(
        status="pending", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    # then the same key is told it is being settled, and a new key is not told "refunded"
    same = agent.post("/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-pay")
    assert (same.status_code, same.json()["code"]) == (409, "idempotency_in_progress")
    assert same["Retry-After"]
    other = agent.post("/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-new")
    assert (other.status_code, other.json()["code"]) == (409, "refund_in_progress")
    # when the stale-refund sweep re-sends it under its key and the records are reconciled
    assert refunds_resend_stale(older_than=timedelta(0)) == 1
    assert idempotency_settle_stale()["settled"] == 1
    # then the record holds the final answer and the retry replays it
    replay = agent.post("/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-pay")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["status"] == "paid"
    transfer = SandboxTransfer.objects.get()
    assert (transfer.status, transfer.calls) == ("succeeded", 2)  # executed once, asked twice
    again = agent.post("/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-new2")
    assert (again.status_code, again.json()["code"]) == (409, "already_refunded")
    assert not IdempotencyRecord.objects.filter(status="pending").exists()

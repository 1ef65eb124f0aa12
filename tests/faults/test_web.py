"""A gunicorn worker killed (kill -9) in the middle of a payment; the client retries.

The sandbox gateways answer 4 s late, after the money moved: the worker is
killed in that gap, so the client never gets its answer. The same request with
the same Idempotency-Key must then be told "in progress" at once, never wait, and
once the system has settled the operation get the final answer; a request with
another key must be told the truth (in flight, awaiting handover), never that
money was sent when it was not known to be.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from agencies.models import (
    Prepayment,
    Refund,
    SandboxCardOperation,
    SandboxTransfer,
)
from agencies.services import refunds_resend_stale
from core.api.idempotency import idempotency_settle_stale
from core.models import IdempotencyRecord
from tests.agencies.conftest import DOCUMENT, GOOD_CARD, verify
from tests.core.test_celery_e2e import free_port
from tests.factories import line, make_form, traveler
from tests.faults.conftest import process_env, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.postgres]


class Web:
    """A gunicorn with two sync workers (the production web process, on loopback)."""

    def __init__(self, processes: Any) -> None:
        self.port = free_port()
        self.proc = processes(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "refund_site.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--timeout",
                "30",
            ],
            process_env(
                "memory://",
                SANDBOX_GATEWAY_DELAY_SECONDS="4",
                DJANGO_ALLOWED_HOSTS="127.0.0.1",
                # longer than a new gunicorn worker takes to boot on a busy CI machine
                IDEMPOTENCY_LEASE_SECONDS="20",
            ),
        )
        wait_for(lambda: "Booting worker" in self.proc.log(), timeout=60, what="gunicorn")
        self.wait_up()

    def wait_up(self) -> None:
        """Until a worker answers (a new worker loads Django before it serves)."""

        def answers() -> bool:
            try:
                return self.call("GET", "/api/v1/keys/", timeout=5)[0] == 200
            except OSError:
                return False

        wait_for(answers, timeout=60, what="the web server to answer")

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        token: str = "",
        key: str = "",
        timeout: float = 60,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON body, headers); raises on a connection cut."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Token {token}"} if token else {}),
                **({"Idempotency-Key": key} if key else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}"), dict(error.headers)

    def kill_workers(self) -> int:
        """kill -9 every worker process (the master forks new ones)."""
        import os
        import signal

        children = self.proc.children()
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        return len(children)


def in_background(send: Any) -> dict[str, Any]:
    """Send a request in a thread; what it got (an answer, or the cut connection)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["answer"] = send()
        except Exception as exc:  # the connection is cut when the worker dies
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    outcome["thread"] = thread
    return outcome


def timed(send: Any) -> tuple[float, tuple[int, dict[str, Any], dict[str, str]]]:
    started = time.monotonic()
    answer = send()
    return time.monotonic() - started, answer


def test_web_worker_killed_mid_transfer_retry_gets_the_settled_answer(
    postgres_only: None, demo: Any, processes: Any
) -> None:
    # given a verified form and a web server whose payout provider answers 4 s late
    form = verify(make_form(demo.store_sh, demo.clerk, line(), who=traveler()), demo)
    token = Token.objects.get_or_create(user=demo.agent)[0].key
    web = Web(processes)
    body = {
        "form": form.number,
        "qr": form.qr_payload,
        "document_number": DOCUMENT,
        "payout_method": "bank_card",
        "payout_account": GOOD_CARD,
    }

    def pay(key: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        return web.call("POST", "/api/v1/refunds/", body, token=token, key=key)

    # when the worker is killed after the transfer executed, before its answer
    first = in_background(lambda: pay("pay-1"))
    wait_for(
        lambda: SandboxTransfer.objects.filter(status="succeeded").exists(),
        timeout=30,
        what="the transfer to execute",
    )
    assert web.kill_workers() == 2
    killed_at = time.monotonic()
    first["thread"].join(timeout=30)
    assert "error" in first, first  # the client never got an answer
    web.wait_up()  # gunicorn's master has forked new workers
    # then the same request is told "in progress" at once, with Retry-After
    elapsed, (status, reply, headers) = timed(lambda: pay("pay-1"))
    assert (status, reply["code"]) == (409, "idempotency_in_progress"), reply
    assert elapsed < 2.5 and int(headers["Retry-After"]) >= 1
    # ... and another request is not told that money was sent: it is in flight
    status, reply, _ = pay("pay-2")
    assert (status, reply["code"]) == (409, "refund_in_progress"), reply
    # when the lease has expired: still settling (the outcome is known only to the provider)
    wait_for(
        lambda: pay("pay-1")[1].get("extra", {}).get("settling") == "agencies.refund",
        timeout=60,
        what="the dead attempt to be detected",
    )
    # when the system's stale-refund sweep and the idempotency reconciler run
    assert refunds_resend_stale(older_than=timedelta(0)) == 1
    assert idempotency_settle_stale()["settled"] == 1
    recovered = time.monotonic() - killed_at
    # then the retry replays the final answer: paid, once
    status, reply, headers = pay("pay-1")
    assert (status, reply["status"], headers.get("Idempotent-Replayed")) == (201, "paid", "true")
    status, reply, _ = pay("pay-3")
    assert (status, reply["code"]) == (409, "already_refunded")
    transfer = SandboxTransfer.objects.get()
    doubles = SandboxTransfer.objects.filter(status="succeeded").count() - 1
    stuck = IdempotencyRecord.objects.filter(status="pending").count() + (
        Refund.objects.exclude(status="paid").count()
    )
    assert (doubles, stuck, transfer.calls) == (0, 0, 2)
    print(
        f"FAULTS gunicorn kill -9 mid-transfer: kills=2 double_movements={doubles}"
        f" stuck={stuck} payout_calls={transfer.calls} recovered_in={recovered:.1f}s"
    )


def test_web_worker_killed_mid_cash_prepayment_only_its_retry_hands_over(
    postgres_only: None, demo: Any, processes: Any
) -> None:
    # given a Buy & Refund form and a web server whose card gateway answers 4 s late
    form = make_form(
        demo.store_sh, demo.clerk, line(unit_price="3600.00"), who=traveler(), buy_and_refund=True
    )
    token = Token.objects.get_or_create(user=demo.clerk)[0].key
    web = Web(processes)
    url = f"/api/v1/forms/{form.number}/prepayment/"
    body = {"card_token": "tok_visa", "card_holder_name": "Marie Dupont", "payout_method": "cash"}

    def prepay(key: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        return web.call("POST", url, body, token=token, key=key)

    # when the worker is killed after the hold was placed, before its answer
    first = in_background(lambda: prepay("pp-1"))
    wait_for(
        lambda: SandboxCardOperation.objects.filter(status="succeeded").exists(),
        timeout=30,
        what="the authorization to execute",
    )
    web.kill_workers()
    killed_at = time.monotonic()
    first["thread"].join(timeout=30)
    assert "error" in first, first
    web.wait_up()
    # then its retry is told "in progress" at once; another request sees the true state
    elapsed, (status, reply, _) = timed(lambda: prepay("pp-1"))
    assert (status, reply["code"], elapsed < 2.5) == (409, "idempotency_in_progress", True)
    status, reply, _ = prepay("pp-2")
    assert (status, reply["code"], reply["extra"]["prepayment"]) == (
        409,
        "prepayment_exists",
        "pending",
    )
    # when the lease has expired, the same request resumes its own authorization
    answer = wait_for(
        lambda: (lambda a: a if a[0] == 201 else None)(prepay("pp-1")),
        timeout=60,
        what="the retry to resume the authorization",
        step=1.0,
    )
    recovered = time.monotonic() - killed_at
    # then it, and only it, is told to hand the cash over
    assert answer[1]["prepayment"]["status"] == "awaiting_handover"
    status, reply, _ = prepay("pp-3")
    assert (status, reply["extra"]["prepayment"]) == (409, "awaiting_handover")
    status, reply, _ = web.call("POST", url + "handover/", token=token)
    assert (status, reply["prepayment"]["status"], reply["prepayment"]["handed_over_by"]) == (
        200,
        "paid",
        "clerk",
    )
    # when the system's reconciler runs once the retry's lease is over: a 201 is not
    # stored by the request (issue 12) but rebuilt from its prepayment, then stored
    record = IdempotencyRecord.objects.get(key="pp-1")
    assert record.lease_expires_at is not None
    time.sleep(max(0.0, (record.lease_expires_at - timezone.now()).total_seconds()) + 0.5)
    assert idempotency_settle_stale() == {"settled": 1, "freed": 0, "unsettled": 0}
    record.refresh_from_db()
    assert (record.status, record.response_status, record.response_body) == (
        "complete",
        201,
        answer[1],
    )
    authorizations = SandboxCardOperation.objects.filter(kind="authorize")
    doubles = authorizations.filter(status="succeeded").count() - 1
    stuck = IdempotencyRecord.objects.filter(status="pending").count()
    assert (doubles, stuck, authorizations.get().calls) == (0, 0, 2)
    assert Prepayment.objects.get().status == "paid"
    print(
        f"FAULTS gunicorn kill -9 mid-prepayment: kills=2 double_movements={doubles}"
        f" stuck={stuck} card_calls={authorizations.get().calls} recovered_in={recovered:.1f}s"
    )

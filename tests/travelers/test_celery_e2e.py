"""A real Celery worker reacts to a verification made through the API (issue 11 "done").

The test process enqueues to the same broker the worker reads (the embedded filesystem
broker, then Redis), so the only thing linking a verification to its effects is the
event: customs' service publishes, the travelers app enqueues after commit, the worker
releases the Buy & Refund hold, pays the pre-chosen Alipay transfer (no counter visit) and
sends each notice once. The seconds from the verification's answer to the release and to
the payout are printed and written to test-artifacts/journey-e2e-timings.txt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import close_old_connections
from django.utils import timezone

from agencies.guarantee_models import Guarantee, GuaranteeStatus
from agencies.models import Refund, RefundStatus, SandboxTransfer
from customs.models import InspectionPolicy
from refund_site.celery import app
from tests.browser import ARTIFACTS
from tests.buyrefund.test_guarantees import pay
from tests.core.test_celery_e2e import Worker
from tests.factories import line, make_invoice
from tests.travelers.conftest import ALIPAY, DOCUMENT, EMAIL
from travelers.models import Notice, NoticeState, PayoutPreChoice

pytestmark = pytest.mark.e2e
DEADLINE_SECONDS = 60  # a bound, not a wait: polling stops as soon as it happened
TIMINGS = ARTIFACTS.parent / "journey-e2e-timings.txt"


@contextmanager
def enqueue_to(broker: str, options: dict[str, Any]) -> Iterator[None]:
    """This process's tasks go to ``broker`` (the tests' default is an in-memory one)."""
    conf: Any = app.conf
    saved = (conf.broker_url, conf.broker_transport_options)

    def use(url: str, transport: dict[str, Any]) -> None:
        conf.broker_url, conf.broker_transport_options = url, transport
        # Drop the cached connection and producer pools: the next send connects anew.
        app._pool = None  # type: ignore[attr-defined]
        amqp: Any = app.amqp
        amqp._producer_pool = None

    use(broker, options)
    try:
        yield
    finally:
        use(*saved)


def seconds_until(done: Callable[[], bool], since: float) -> float:
    """Poll the database until ``done``; the seconds since ``since``."""
    deadline = since + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        close_old_connections()
        if done():
            return time.monotonic() - since
        time.sleep(0.05)
    raise AssertionError(f"not done within {DEADLINE_SECONDS} s")


def journey(demo: Any, api: Any, worker: Worker, label: str) -> dict[str, float]:
    InspectionPolicy.objects.update_or_create(
        port=demo.port, defaults={"seed": "e2e", "sample_rate": "0", "threshold": "10000.00"}
    )
    clerk, officer = api(demo.clerk), api(demo.officer)
    # A Buy & Refund form with its hold, and a form whose traveler pre-chose Alipay at the
    # kiosk (both through the API), each with an email address.
    forms = []
    for buy_and_refund, price in ((True, "3600.00"), (False, "600.00")):
        body = {
            "traveler": {
                "name": "Marie Dupont",
                "document_type": "passport",
                "document_number": DOCUMENT,
                "nationality": "FR",
                "last_entry_date": str(timezone.localdate() - timedelta(days=10)),
                "email": EMAIL,
                "language": "ja",
            },
            "invoice_numbers": [
                make_invoice(demo.store_sh, demo.clerk, line(unit_price=price)).number
            ],
            "buy_and_refund": buy_and_refund,
        }
        reply = clerk.post("/api/v1/forms/", body, format="json")
        assert reply.status_code == 201, reply.json()
        forms.append(reply.json())
    held, chosen = forms
    from stores.models import RefundForm

    pay(demo, RefundForm.objects.get(number=held["number"]))
    choice = api().post(
        "/api/v1/travelers/payout-choice/",
        {
            "form": chosen["qr"],
            "document_number": DOCUMENT,
            "payout_method": "alipay",
            "payout_account": ALIPAY,
        },
        format="json",
    )
    assert choice.status_code == 201, choice.json()
    assert worker.run("core.tasks.heartbeat_task")  # the worker is up and consuming

    timings: dict[str, float] = {}
    for form, what in ((held, "release"), (chosen, "payout")):
        reply = officer.post(
            "/api/v1/customs/verifications/",
            {"form": form["number"], "qr": form["qr"], "departure_date": str(timezone.localdate())},
            format="json",
        )
        assert reply.status_code == 201, reply.json()
        answered = time.monotonic()
        if what == "release":
            timings["verification_to_release_s"] = seconds_until(
                lambda: Guarantee.objects.filter(
                    form__number=held["number"], status=GuaranteeStatus.RELEASED
                ).exists(),
                answered,
            )
        else:
            timings["verification_to_payout_s"] = seconds_until(
                lambda: Refund.objects.filter(
                    form__number=chosen["number"], status=RefundStatus.PAID
                ).exists(),
                answered,
            )
    # Notices: issued x2, hold placed, verified x2, hold released, refund paid: each once.
    seconds_until(
        lambda: (
            Notice.objects.count() == 7
            and not Notice.objects.exclude(state=NoticeState.SENT).exists()
        ),
        time.monotonic(),
    )
    refund = Refund.objects.get(form__number=chosen["number"])
    assert refund.agent.username == "auto-payout" and refund.payout_method == "alipay"
    assert SandboxTransfer.objects.filter(status="succeeded").count() == 1
    assert PayoutPreChoice.objects.get(form__number=chosen["number"]).status == "paid"
    log = worker.log()
    assert log.count("Subject:") == 7, log  # the console email backend: 7 emails, no more
    assert "還付金をお支払いしました" in log
    timings["notices_sent"] = Notice.objects.filter(state=NoticeState.SENT).count()
    timings["transfers"] = SandboxTransfer.objects.count()
    with TIMINGS.open("a") as out:
        out.write(f"{label}: {timings}\n")
    print(label, timings)
    return timings


def test_filesystem_broker_releases_and_pays_within_seconds(
    transactional_db: None, demo: Any, api: Any, var_dir: Path
) -> None:
    (var_dir / "results").mkdir()
    worker = Worker(var_dir, "filesystem://", f"file://{var_dir / 'results'}")
    try:
        with enqueue_to("filesystem://", dict(worker.client.conf.broker_transport_options)):
            timings = journey(demo, api, worker, "filesystem broker")
    finally:
        worker.stop()
    assert timings["verification_to_release_s"] < 30
    assert timings["verification_to_payout_s"] < 30


def test_redis_releases_and_pays_within_seconds(
    transactional_db: None, demo: Any, api: Any, var_dir: Path, redis_url: str
) -> None:
    worker = Worker(var_dir, f"{redis_url}/0", f"{redis_url}/1")
    try:
        with enqueue_to(f"{redis_url}/0", {}):
            timings = journey(demo, api, worker, "redis broker")
    finally:
        worker.stop()
    assert timings["verification_to_release_s"] < 30
    assert timings["verification_to_payout_s"] < 30

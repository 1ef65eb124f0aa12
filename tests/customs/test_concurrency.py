"""Two officers stamping the same form at the same moment: one verification, one 409."""

from __future__ import annotations

import importlib
import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from customs.exceptions import AlreadyVerified
from customs.models import MailboxBatchItem, Verification, VerificationAttempt
from customs.services import mailbox_batch_open, mailbox_batch_scan, verification_create
from tests.factories import line, make_form, staff_user


@pytest.fixture
def pg(postgres_only: None) -> None:
    """PostgreSQL with committed data; the policies the migration seeds put back after a flush.

    (Not serialized rollback: on SQLite its setup runs before the skip and can collide.)
    """
    from django.apps import apps

    importlib.import_module("core.migrations.0002_seed_policies").forwards(apps, None)


def run_together(*jobs: Any) -> list[Any]:
    """Start the jobs on threads behind one barrier; each returns its result or exception."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def runner(index: int, job: Any) -> None:
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:  # reported to the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
def test_two_officers_same_form_same_moment(pg, demo):
    form = make_form(demo.store_sh, demo.clerk, line(quantity="2"), line(item="Tea"))
    second_officer = staff_user("officer", demo.port, "officer-b")

    def stamp(officer: Any) -> Any:
        return lambda: verification_create(
            port=demo.port,
            officer=officer,
            form_number=form.number,
            qr=form.qr_payload,
            departure_date=timezone.localdate(),
        )

    results = run_together(stamp(demo.officer), stamp(second_officer))
    winners = [r for r in results if isinstance(r, Verification)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1, results
    assert len(losers) == 1 and isinstance(losers[0], AlreadyVerified), results
    assert losers[0].status_code == 409
    assert Verification.objects.filter(form=form).count() == 1
    assert VerificationAttempt.objects.filter(code="already_verified").count() == 1


@pytest.mark.postgres
def test_two_officers_through_the_api(pg, demo, api):
    form = make_form(demo.store_sh, demo.clerk, line())
    second_officer = staff_user("officer", demo.port, "officer-c")
    clients = [api(demo.officer), api(second_officer)]
    body = {
        "form": form.number,
        "document_number": "18AB12345",  # typed with the passport in hand (no QR)
        "departure_date": timezone.localdate().isoformat(),
    }
    replies = run_together(
        *[
            (lambda c=c: c.post("/api/v1/customs/verifications/", body, format="json"))
            for c in clients
        ]
    )
    assert sorted(r.status_code for r in replies) == [201, 409]
    assert Verification.objects.filter(form=form).count() == 1


@pytest.mark.postgres
def test_two_officers_scanning_into_one_batch(pg, demo):
    batch = mailbox_batch_open(port=demo.port, officer=demo.officer)
    forms = [make_form(demo.store_sh, demo.clerk, line()) for _ in range(4)]
    second_officer = staff_user("officer", demo.port, "officer-d")
    jobs = [
        (lambda f=f, o=o: mailbox_batch_scan(batch=batch, officer=o, code=f.qr_payload))
        for f, o in zip(forms, [demo.officer, second_officer] * 2, strict=True)
    ]
    results = run_together(*jobs)
    assert all(isinstance(r, MailboxBatchItem) for r in results), results
    positions = sorted(MailboxBatchItem.objects.values_list("position", flat=True))
    assert positions == [1, 2, 3, 4]


@pytest.mark.postgres
def test_verification_waiting_while_a_scan_decides_the_inspection(pg, demo):
    """The verification's locked read brings the form's decision along; one made by a scan
    that held the lock while the verification waited is not in that read. The decision's
    insert finds it instead: one decision, one ledger entry, and the verification uses it."""
    from django.db import transaction

    from core.models import LedgerEntry
    from customs.models import InspectionDecision
    from customs.selectors import verification_reply
    from customs.services import _decide_locked
    from stores.models import RefundForm

    form = make_form(demo.store_sh, demo.clerk, line(quantity="2"), line(item="Tea"))
    locked = threading.Event()

    def scan() -> Any:
        with transaction.atomic():
            row = RefundForm.objects.select_for_update().select_related("store").get(pk=form.pk)
            locked.set()
            for _ in range(200):  # until the verification waits for the row lock
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                    if cursor.fetchone()[0]:
                        break
                threading.Event().wait(0.02)
            return _decide_locked(
                form=row, port=demo.port, lines=list(row.lines.order_by("position"))
            )

    def verify() -> Any:
        locked.wait(5)
        return verification_create(
            port=demo.port,
            officer=demo.officer,
            form_number=form.number,
            qr=form.qr_payload,
            departure_date=timezone.localdate(),
        )

    decided, verification = run_together(scan, verify)
    assert isinstance(decided, InspectionDecision), decided
    assert isinstance(verification, Verification), verification
    assert InspectionDecision.objects.filter(form=form).count() == 1
    assert LedgerEntry.objects.filter(action="inspection_decided").count() == 1
    reply = verification_reply(verification)
    assert reply.form.inspection_decision.pk == decided.pk

"""Concurrent issuing on PostgreSQL: no number handed out twice, no invoice on two forms."""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import import_module
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection

from core.exceptions import ApplicationError
from stores.models import RefundForm
from stores.services import refund_form_issue
from tests.factories import line, make_invoice, traveler
from tests.stores.helpers import FORMS, form_body

THREADS = 8


@pytest.fixture
def pg(postgres_only: None) -> None:
    """PostgreSQL with committed transactions, and the seeded refund policies present.

    An earlier transactional test flushed the database, data migrations included;
    the seed is idempotent, so putting it back is safe whoever else does too.
    """
    import_module("core.migrations.0002_seed_policies").forwards(django_apps, None)


def run_together(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at once; results or exceptions, in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def target(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:  # collected and asserted on by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
def test_concurrent_invoices_get_distinct_consecutive_numbers(pg, demo):
    per_thread = 5

    def work(index: int) -> list[str]:
        return [
            make_invoice(demo.store_sh, demo.clerk, line(item=f"T{index}-{n}")).number
            for n in range(per_thread)
        ]

    results = run_together(work)

    numbers = [number for batch in results for number in batch]
    assert len(numbers) == THREADS * per_thread
    assert len(set(numbers)) == len(numbers)
    sequences = sorted(int(n[-15:]) for n in numbers)
    assert sequences == list(range(sequences[0], sequences[0] + len(numbers)))


@pytest.mark.postgres
def test_concurrent_forms_get_distinct_numbers(pg, demo):
    invoices = [
        make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00")) for _ in range(THREADS)
    ]

    def work(index: int) -> str:
        who = traveler(document_number=f"P{index:08d}")
        return refund_form_issue(
            store=demo.store_sh,
            clerk=demo.clerk,
            traveler=who,
            invoice_numbers=[invoices[index].number],
        ).number

    results = run_together(work)

    assert all(isinstance(r, str) for r in results), results
    assert len(set(results)) == THREADS
    assert RefundForm.objects.count() == THREADS


@pytest.mark.postgres
def test_same_traveler_concurrent_forms_share_one_traveler_row(pg, demo):
    invoices = [
        make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00")) for _ in range(THREADS)
    ]

    def work(index: int) -> str:
        return refund_form_issue(
            store=demo.store_sh,
            clerk=demo.clerk,
            traveler=traveler(),
            invoice_numbers=[invoices[index].number],
        ).number

    results = run_together(work)

    assert all(isinstance(r, str) for r in results), results
    assert len(set(results)) == THREADS
    assert RefundForm.objects.values("traveler").distinct().count() == 1


@pytest.mark.postgres
def test_one_invoice_never_goes_on_two_forms(pg, demo):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))

    def work(index: int) -> str:
        return refund_form_issue(
            store=demo.store_sh,
            clerk=demo.clerk,
            traveler=traveler(document_number=f"P{index:08d}"),
            invoice_numbers=[invoice.number],
        ).number

    results = run_together(work)

    won = [r for r in results if isinstance(r, str)]
    lost = [r for r in results if not isinstance(r, str)]
    assert len(won) == 1, results
    assert all(isinstance(r, ApplicationError) for r in lost), lost
    assert {r.code for r in lost} == {"invoice_already_used"}
    assert RefundForm.objects.count() == 1
    assert RefundForm.objects.get(invoices=invoice).number == won[0]


@pytest.mark.postgres
def test_concurrent_api_retries_with_one_idempotency_key_make_one_form(pg, demo, api):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    body = form_body([invoice.number])

    def work(index: int) -> Any:
        response = api(demo.clerk).post(
            FORMS, body, format="json", HTTP_IDEMPOTENCY_KEY="pos-retry-1"
        )
        return response.status_code, response.json()

    results = run_together(work, count=4)

    assert all(status == 201 for status, _ in results), results
    assert len({data["number"] for _, data in results}) == 1
    assert RefundForm.objects.count() == 1


@pytest.mark.postgres
def test_two_concurrent_voids_reverse_once(pg, demo):
    from stores.models import VatInvoice
    from stores.services import refund_form_void
    from tests.factories import make_form

    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))

    def work(index: int) -> int:
        return len(refund_form_void(form=form, clerk=demo.clerk, reason=f"Return {index}"))

    results = run_together(work, count=4)

    assert sorted(str(r) if isinstance(r, int) else r.code for r in results) == [
        "1",
        "form_not_voidable",
        "form_not_voidable",
        "form_not_voidable",
    ], results
    assert VatInvoice.objects.filter(kind="red").count() == 1


@pytest.mark.postgres
def test_void_racing_customs_verification_one_wins(pg, demo):
    # the form row lock orders them: voided then not verifiable, or verified then not voidable
    from customs.services import verification_create
    from stores.services import business_today, refund_form_void
    from tests.factories import make_form

    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))

    def work(index: int) -> str:
        if index % 2:
            refund_form_void(form=form, clerk=demo.clerk, reason="Returned")
            return "voided"
        verification_create(
            port=demo.port,
            officer=demo.officer,
            form_number=form.number,
            departure_date=business_today(),
        )
        return "verified"

    results = run_together(work, count=2)

    final = RefundForm.objects.get(pk=form.pk).status
    assert final in ("voided", "verified")
    assert results.count(final) == 1, results
    loser = next(r for r in results if r != final)
    assert isinstance(loser, ApplicationError) and loser.status_code == 409, results

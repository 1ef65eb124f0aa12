"""The counter's Pay button pressed several times at once (PostgreSQL, real threads)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from agencies.models import Refund, RefundStatus, SandboxTransfer
from tests.agencies.conftest import GOOD_CARD
from tests.agencies.test_pages import client_for, start_visit

PRESSES = 6


@pytest.fixture
def pg(postgres_only: None) -> None:
    """PostgreSQL with committed transactions; the seeded policies restored after the flush."""


def run_together(work: Callable[[int], Any], count: int) -> list[Any]:
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
def test_pressing_pay_six_times_at_once_pays_once_and_every_press_lands_on_it(
    pg, demo, verified_form
):
    form = verified_form()
    agent = client_for(demo.agent)
    url = start_visit(agent, form)

    def press(_: int) -> tuple[int, str]:
        tab = Client()
        tab.cookies = agent.cookies  # the same browser session, the same page token
        response = tab.post(url + "pay/", {"payout_method": "bank_card", "card_number": GOOD_CARD})
        return response.status_code, response.get("Location", "")

    results = run_together(press, PRESSES)
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.PAID
    assert results == [(302, f"/agency/refunds/{refund.pk}/")] * PRESSES
    assert SandboxTransfer.objects.get().status == SandboxTransfer.Status.SUCCEEDED

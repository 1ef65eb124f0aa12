"""Paying makes a fixed number of queries whatever the number of goods lines."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.services import refund_check, refund_pay
from tests.agencies.conftest import DOCUMENT, GOOD_CARD
from tests.factories import line


def queries_to_pay(form: Any, demo: Any, method: str = "bank_card") -> int:
    with CaptureQueriesContext(connection) as captured:
        refund = refund_pay(
            form_number=form.number,
            qr=form.qr_payload,
            document_number=DOCUMENT,
            payout_method=method,
            payout_account=GOOD_CARD if method != "cash" else None,
            agent=demo.agent,
            agency=demo.agency,
        )
    assert refund.status == ("awaiting_handover" if method == "cash" else "paid")
    return len(captured.captured_queries)


def test_paying_1_or_50_lines_makes_the_same_number_of_queries(demo, verified_form):
    fifty = [line(f"Item {n}", unit_price="100.00") for n in range(50)]
    warm, one, many = verified_form(), verified_form(), verified_form(*fifty)
    queries_to_pay(warm, demo)  # first use loads content types and the like
    assert queries_to_pay(one, demo) == queries_to_pay(many, demo)


def test_cash_1_or_50_lines_same_number_of_queries(demo, verified_form):
    fifty = [line(f"Item {n}", unit_price="100.00", vat_rate="0.09") for n in range(50)]
    warm, one, many = verified_form(), verified_form(), verified_form(*fifty)
    queries_to_pay(warm, demo, "cash")
    assert queries_to_pay(one, demo, "cash") == queries_to_pay(many, demo, "cash")


def test_checking_1_or_50_lines_same_number_of_queries(demo, verified_form):
    fifty = [line(f"Item {n}", unit_price="100.00") for n in range(50)]
    one, many = verified_form(), verified_form(*fifty)
    counts = []
    for form in (one, one, many):
        with CaptureQueriesContext(connection) as captured:
            refund_check(
                form_number=form.number,
                qr=form.qr_payload,
                document_number=DOCUMENT,
                agency=demo.agency,
            )
        counts.append(len(captured.captured_queries))
    assert counts[1] == counts[2]

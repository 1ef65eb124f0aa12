"""Issuing makes a fixed number of queries, whatever the number of lines."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import line, make_invoice
from tests.stores.helpers import FORMS, form_body

pytestmark = pytest.mark.django_db

# Measured on SQLite and PostgreSQL alike, request included (token auth, membership,
# savepoints, the service, rendering). It must not grow with the lines. 25 since the store
# filing check (issue 13) joined the document-expiry rule (issue 10): one statement each way;
# the statement budget of the speed issue (12 per money flow) is still to come. +2 for the
# traveler's phone page (issue 11): the trip's known email address, the page's INSERT.
FORM_ISSUE_MAX_QUERIES = 27
INVOICE_ISSUE_MAX_QUERIES = 18


def invoice_body(count: int) -> dict[str, Any]:
    return {
        "buyer_name": "Marie Dupont",
        "lines": [
            {"item": f"Item {n}", "quantity": "1", "unit_price": "10.00", "vat_rate": "0.13"}
            for n in range(count)
        ],
    }


def count_queries(call: Any) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    return len(captured), response


@pytest.mark.parametrize("lines", [1, 50])
def test_invoice_issue_query_count_is_bounded(demo, api, lines, django_assert_max_num_queries):
    client = api(demo.clerk)
    client.post("/api/v1/invoices/", invoice_body(1), format="json")  # warm the sequence row

    with django_assert_max_num_queries(INVOICE_ISSUE_MAX_QUERIES):
        response = client.post("/api/v1/invoices/", invoice_body(lines), format="json")

    assert response.status_code == 201
    assert len(response.json()["lines"]) == lines


def test_invoice_issue_query_count_is_the_same_for_1_and_50_lines(demo, api):
    client = api(demo.clerk)
    client.post("/api/v1/invoices/", invoice_body(1), format="json")
    one, _ = count_queries(lambda: client.post("/api/v1/invoices/", invoice_body(1), format="json"))
    fifty, _ = count_queries(
        lambda: client.post("/api/v1/invoices/", invoice_body(50), format="json")
    )
    assert one == fifty, (one, fifty)
    print(f"invoice issue queries: 1 line {one}, 50 lines {fifty}")


def invoice_with_lines(demo: Any, count: int) -> str:
    """An invoice of RMB 500 split over ``count`` lines."""
    price = f"{500 / count:.2f}"
    lines = [line(item=f"Item {n}", unit_price=price) for n in range(count)]
    return make_invoice(demo.store_sh, demo.clerk, *lines).number


@pytest.mark.parametrize("lines", [1, 50])
def test_form_issue_query_count_is_bounded(demo, api, lines, django_assert_max_num_queries):
    # warm-up: the traveler row and the form sequence exist from an earlier form
    client = api(demo.clerk)
    client.post(FORMS, form_body([invoice_with_lines(demo, 1)]), format="json")
    number = invoice_with_lines(demo, lines)

    with django_assert_max_num_queries(FORM_ISSUE_MAX_QUERIES):
        response = client.post(FORMS, form_body([number]), format="json")

    assert response.status_code == 201, response.json()
    assert len(response.json()["lines"]) == lines


def test_form_issue_query_count_is_the_same_for_1_and_50_lines(demo, api):
    client = api(demo.clerk)
    client.post(FORMS, form_body([invoice_with_lines(demo, 1)]), format="json")
    single = invoice_with_lines(demo, 1)
    many = invoice_with_lines(demo, 50)

    one, first = count_queries(lambda: client.post(FORMS, form_body([single]), format="json"))
    fifty, second = count_queries(lambda: client.post(FORMS, form_body([many]), format="json"))

    assert first.status_code == second.status_code == 201
    assert one == fifty, (one, fifty)
    print(f"form issue queries: 1 line {one}, 50 lines {fifty}")


def test_form_list_and_detail_queries_do_not_grow_with_forms(demo, api):
    from tests.factories import make_form

    client = api(demo.clerk)
    make_form(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    few, _ = count_queries(lambda: client.get(FORMS))
    for _ in range(5):
        make_form(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    form = make_form(demo.store_sh, demo.clerk, *[line(unit_price="300.00")] * 10)
    many, response = count_queries(lambda: client.get(FORMS))
    assert response.json()["count"] == 7
    assert few == many

    small = make_form(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    one_line, _ = count_queries(lambda: client.get(f"{FORMS}{small.number}/"))
    ten_lines, _ = count_queries(lambda: client.get(f"{FORMS}{form.number}/"))
    assert one_line == ten_lines

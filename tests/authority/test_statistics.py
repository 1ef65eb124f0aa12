"""GET /api/v1/authority/statistics/ and the statistics page: figures that match a hand count."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.db.models.signals import post_init
from django.utils import timezone
from openpyxl import load_workbook

from authority.models import AuthorityRead
from authority.statistics import statistics_for
from tests.authority.helpers import STATS, goods, issue, traveler, verify
from tests.stores.helpers import assert_error

FR = traveler("Marie Dupont", "18AB12345", "FR")
JP = traveler("Sato Hanako", "TK1234567", "JP")
US = traveler("John Smith", "US5550001", "US")


@pytest.fixture
def planted(demo, api):
    """Four forms through the API at both stores; one voided, two verified at two ports.

    By hand (FAQ Q36, 2% fee): A (FR, Shanghai) 600 at 13% clothing + 200 at 9% tea:
    refundable 66 + 16 = 82, fee 12 + 4 = 16, net 66. B (JP, Shanghai) 1000 electronics:
    110 / 20 / 90, verified at PVG. C (the same FR traveler, Beijing) 500 cosmetics:
    55 / 10 / 45, verified at PEK. D (US, Beijing) 300, no category: voided, never counts.
    """
    clerk, clerk2 = api(demo.clerk), api(demo.clerk2)
    a = issue(
        clerk,
        FR,
        goods("Silk scarf 丝巾", "2", "300.00", "0.13", "clothing"),
        goods("Longjing tea 龙井", "1", "200.00", "0.09", "tea_food"),
    )
    b = issue(clerk, JP, goods("Camera", "1", "1000.00", "0.13", "electronics"))
    c = issue(clerk2, FR, goods("Face cream", "2", "250.00", "0.13", "cosmetics"))
    d = issue(clerk2, US, goods("Mug", "3", "100.00", "0.13", None))
    assert (a["net_refund"], b["net_refund"], c["net_refund"]) == ("66.00", "90.00", "45.00")
    void = clerk2.post(f"/api/v1/forms/{d['number']}/void/", {"reason": "returned"}, format="json")
    assert void.status_code == 200, void.json()
    verify(api(demo.officer), b)
    verify(api(demo.officer2), c)
    return {"A": a, "B": b, "C": c, "D": d}


def rows_of(body):
    return {row["key"]: row for row in body["rows"]}


def row(forms, travelers, sales, refundable, fee, net):
    return {
        "forms": forms,
        "travelers": travelers,
        "sales": sales,
        "refundable_vat": refundable,
        "fee": fee,
        "net_refund": net,
    }


TOTALS = row(3, 2, "2300.00", "247.00", "46.00", "201.00")


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        (
            "nationality",
            {
                "FR": row(2, 1, "1300.00", "137.00", "26.00", "111.00"),
                "JP": row(1, 1, "1000.00", "110.00", "20.00", "90.00"),
            },
        ),
        (
            "store",
            {
                "DEMO-SH-001": row(2, 2, "1800.00", "192.00", "36.00", "156.00"),
                "DEMO-BJ-001": row(1, 1, "500.00", "55.00", "10.00", "45.00"),
            },
        ),
        (
            "port",
            {
                "PVG": row(1, 1, "1000.00", "110.00", "20.00", "90.00"),
                "PEK": row(1, 1, "500.00", "55.00", "10.00", "45.00"),
                None: row(1, 1, "800.00", "82.00", "16.00", "66.00"),
            },
        ),
        (
            "category",
            {
                "clothing": row(1, 1, "600.00", "66.00", "12.00", "54.00"),
                "cosmetics": row(1, 1, "500.00", "55.00", "10.00", "45.00"),
                "electronics": row(1, 1, "1000.00", "110.00", "20.00", "90.00"),
                "tea_food": row(1, 1, "200.00", "16.00", "4.00", "12.00"),
            },
        ),
    ],
)
def test_statistics_match_a_hand_count(demo, api, planted, by, expected):
    reply = api(demo.analyst).get(STATS, {"by": by})
    assert reply.status_code == 200, reply.json()
    body = reply.json()
    got = {
        key: {k: v for k, v in value.items() if k != "key"} for key, value in rows_of(body).items()
    }
    assert got == expected
    assert body["totals"] == TOTALS
    assert set(body) >= {"rows", "totals"}


def test_by_month_is_one_row_equal_to_the_totals(demo, api, planted):
    body = api(demo.analyst).get(STATS, {"by": "month"}).json()
    month = timezone.localdate().strftime("%Y-%m")
    assert [r["key"] for r in body["rows"]] == [month]
    assert {k: v for k, v in body["rows"][0].items() if k != "key"} == TOTALS


def test_a_period_before_the_purchases_is_empty(demo, api, planted):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    body = api(demo.analyst).get(STATS, {"by": "store", "from": "2025-01-01", "to": yesterday})
    assert body.json() == {
        "from": "2025-01-01",
        "to": yesterday,
        "by": "store",
        "rows": [],
        "totals": row(0, 0, "0.00", "0.00", "0.00", "0.00"),
    }


def test_every_read_is_recorded(demo, api, planted):
    api(demo.analyst).get(STATS, {"by": "nationality", "from": "2026-01-01"})
    read = AuthorityRead.objects.get()
    assert (read.user, read.what, read.channel) == (demo.analyst, "statistics", "api")
    assert "by=nationality" in read.detail and "from=2026-01-01" in read.detail


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"by": "planet"},
        {"by": "store", "from": "yesterday"},
        {"by": "store", "from": "2026-05-01", "to": "2026-04-01"},
        {"by": "store", "from": "2014-12-31"},
        {"by": "store", "from": "2099-01-01"},  # after today, the default 'to'
        {"by": "store", "to": "2015-06-01"},  # before January 1st, the default 'from'
        {"by": "store", "color": "red"},
    ],
)
def test_bad_queries_are_400(demo, api, query):
    assert_error(api(demo.analyst).get(STATS, query), 400, "invalid")
    assert not AuthorityRead.objects.exists()


@pytest.mark.parametrize("who", ["clerk", "officer", "agent", "admin"])
def test_only_the_analyst_reads_statistics(demo, api, who):
    reply = api(getattr(demo, who)).get(STATS, {"by": "store"})
    assert reply.status_code == 403
    assert api().get(STATS, {"by": "store"}).status_code == 401


def test_the_page_shows_the_figures_charts_and_exports(demo, api, planted, client):
    client.force_login(demo.analyst)
    page = client.get("/authority/statistics/", {"by": "nationality"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="kpi-forms">3<' in html and 'id="kpi-net">201.00<' in html
    assert html.count("<svg") == 2 and 'data-key="FR France"' in html
    assert not re.findall(r"<script(?![^>]*\ssrc=)", html)  # no inline script (CSP)
    csv_reply = client.get("/authority/statistics/", {"by": "nationality", "format": "csv"})
    text = csv_reply.content.decode("utf-8-sig")
    assert csv_reply["Content-Disposition"].startswith("attachment;")
    assert text.splitlines() == [
        "key,forms,travelers,sales,refundable_vat,fee,net_refund",
        "FR,2,1,1300.00,137.00,26.00,111.00",
        "JP,1,1,1000.00,110.00,20.00,90.00",
        "TOTAL,3,2,2300.00,247.00,46.00,201.00",
    ]
    xlsx = client.get("/authority/statistics/", {"by": "store", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[1][0] == "key" and values[-1][:2] == ["TOTAL", 3]
    assert float(values[-1][6]) == 201.0
    assert AuthorityRead.objects.filter(what="statistics").count() == 3


def test_a_100000_form_table_is_answered_by_sql_alone(demo, django_assert_max_num_queries):
    """Set-based SQL fills 100,000 forms (and lines); statistics build no model instance."""
    from tests.authority.bulk import bulk_forms

    bulk_forms(demo, count=100_000)
    built = []

    def count(sender, **kwargs):
        built.append(sender)

    post_init.connect(count)
    try:
        with django_assert_max_num_queries(2):
            stats = statistics_for(
                start=timezone.localdate().replace(day=1) - timedelta(days=400),
                end=timezone.localdate(),
                by="nationality",
            )
        with django_assert_max_num_queries(2):
            by_category = statistics_for(
                start=timezone.localdate() - timedelta(days=400),
                end=timezone.localdate(),
                by="category",
            )
    finally:
        post_init.disconnect(count)
    assert built == []
    assert stats.totals.forms == 100_000
    assert sum(r.forms for r in stats.rows) == 100_000
    assert sum(r.sales for r in stats.rows) == stats.totals.sales
    assert sum(r.forms for r in by_category.rows) == 100_000
    assert sum(r.sales for r in by_category.rows) == stats.totals.sales

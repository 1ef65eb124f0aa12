"""The /authority/ pages: the analyst reads, nobody else; nothing written; every read recorded."""

from __future__ import annotations

import re

import pytest

from authority.models import AuthorityRead
from core.ledger import ledger_seal
from tests.authority.helpers import goods, issue, traveler

PAGES = [
    "/authority/statistics/",
    "/authority/statistics/?by=category&from=2026-01-01&to=2026-12-31",
    "/authority/registry/",
    "/authority/registry/DEMO-SH-001/",
    "/authority/ledger/",
    "/authority/risk/",
    "/authority/reads/",
]


@pytest.mark.parametrize("url", PAGES)
def test_the_analyst_reads_every_page_and_each_read_is_recorded(demo, client, url):
    client.force_login(demo.analyst)
    reply = client.get(url)
    assert reply.status_code == 200
    html = reply.content.decode()
    assert not re.findall(r"<script(?![^>]*\ssrc=)", html)  # no inline script (CSP)
    assert 'aria-current="page"' in html
    read = AuthorityRead.objects.get()
    assert read.user == demo.analyst and read.channel == "page"


def test_the_portal_root_and_login_land_on_statistics(demo, client):
    client.force_login(demo.analyst)
    assert client.get("/").url == "/authority/"
    assert client.get("/authority/").url == "/authority/statistics/"


@pytest.mark.parametrize("who", ["clerk", "officer", "agent", "admin"])
def test_other_staff_are_403(demo, client, who):
    client.force_login(getattr(demo, who))
    for url in PAGES:
        assert client.get(url).status_code == 403, url
    assert not AuthorityRead.objects.exists()


def test_anonymous_visitors_go_to_the_login(demo, client):
    reply = client.get("/authority/statistics/")
    assert reply.status_code == 302 and reply.url.startswith("/accounts/login/")


def test_the_analyst_writes_nothing_anywhere(demo, client, api):
    """403 on the portal's own addresses and on every page or API that writes."""
    client.force_login(demo.analyst)
    for url in PAGES:
        assert client.post(url, {}).status_code == 403, url
    for url in ["/store/forms/new/", "/customs/", "/agency/"]:
        assert client.post(url, {}).status_code == 403, url
    analyst = api(demo.analyst)
    writes = [
        "/api/v1/invoices/",
        "/api/v1/forms/",
        "/api/v1/forms/3126000000000011/void/",
        "/api/v1/customs/verifications/",
        "/api/v1/refunds/",
        "/api/v1/forms/3126000000000011/prepayment/",
    ]
    for url in writes:
        assert analyst.post(url, {}, format="json").status_code == 403, url


def test_the_ledger_page_shows_a_record_and_offers_its_proof(demo, api, client):
    form = issue(
        api(demo.clerk),
        traveler("Marie Dupont", "18AB12345", "FR"),
        goods("Scarf", "1", "300.00", "0.13", None),
    )
    ledger_seal()
    client.force_login(demo.analyst)
    html = client.get(
        "/authority/ledger/", {"kind": "forms", "id": form["number"]}
    ).content.decode()
    assert "form_issued" in html and 'id="proof-link"' in html and 'id="heads-table"' in html
    proof = client.get(f"/authority/ledger/proofs/forms/{form['number']}/")
    assert proof["Content-Disposition"].startswith("attachment;")
    assert proof.json()["entries"][0]["head"]["tree_size"] >= 1
    missing = client.get("/authority/ledger/", {"kind": "forms", "id": "3100000000000000"})
    assert 'id="no-record"' in missing.content.decode()
    assert client.get("/authority/ledger/proofs/forms/3100000000000000/").status_code == 404
    assert client.get("/authority/ledger/", {"kind": "planets", "id": "1"}).status_code == 200
    whats = list(AuthorityRead.objects.order_by("at").values_list("what", "detail"))
    assert whats[:2] == [
        ("ledger", f"forms {form['number']}"),
        ("ledger_proof", f"forms {form['number']}"),
    ]


@pytest.mark.parametrize(
    "query",
    [
        {"from": "garbage", "to": "2026-13-45", "by": "planet"},
        {"from": "2030-01-01", "to": "1999-01-01"},
        {"format": "pdf"},
        {"by": "month", "from": "0001-01-01"},
    ],
)
def test_odd_page_queries_still_answer(demo, client, query):
    client.force_login(demo.analyst)
    for url in ("/authority/statistics/", "/authority/risk/", "/authority/registry/"):
        assert client.get(url, query).status_code == 200

"""The store registry: filings, the 422 store_not_filed guard, the page and its exports."""

from __future__ import annotations

from datetime import date, timedelta
from importlib import import_module
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from authority.models import AuthorityRead, FilingStatus, StoreFiling
from authority.selectors import store_is_filed_on
from authority.services import store_filing_change
from core.exceptions import BadRequest
from core.models import LedgerEntry, Store
from stores.models import RefundForm
from tests.authority.helpers import traveler
from tests.factories import StoreFactory, make_invoice
from tests.stores.helpers import assert_error, snapshot
from tests.stores.test_pages import issue_data

FR = traveler("Marie Dupont", "18AB12345", "FR")


def exit_store(store, *, days_from_now=0, status="exited"):
    return store_filing_change(
        store=store,
        status=status,
        rating="B",
        effective_from=timezone.localdate() + timedelta(days=days_from_now),
        note="Left the scheme",
    )


def post_form(client, store, clerk):
    invoice = make_invoice(store, clerk)
    return client.post(
        "/api/v1/forms/", {"traveler": FR, "invoice_numbers": [invoice.number]}, format="json"
    )


def test_a_new_store_is_filed_from_the_day_it_is_added(demo):
    store: Any = StoreFactory()
    filing = StoreFiling.objects.get(store=store)
    today = timezone.localdate()
    assert (filing.status, filing.rating, filing.effective_from) == ("filed", "M", today)
    assert store_is_filed_on(store_id=store.pk, day=today)
    assert not store_is_filed_on(store_id=store.pk, day=today - timedelta(days=1))
    entry = LedgerEntry.objects.get(record_type="core.store", record_id=str(store.pk))
    assert (entry.action, entry.to_status, entry.actor_label) == (
        "store_filing_changed",
        "filed",
        "system",
    )


def test_the_migration_files_every_store_already_in_the_directory(demo):
    StoreFiling.objects.all().delete()
    import_module("authority.migrations.0003_file_existing_stores").forwards(django_apps, None)
    assert StoreFiling.objects.count() == Store.objects.count() == 2
    assert set(StoreFiling.objects.values_list("effective_from", "status")) == {
        (date(2015, 1, 1), "filed")
    }


def test_an_exited_store_is_refused_a_form_with_422_and_nothing_changes(demo, api):
    exit_store(demo.store_sh)
    client = api(demo.clerk)
    invoice = make_invoice(demo.store_sh, demo.clerk)
    before = snapshot()
    reply = client.post(
        "/api/v1/forms/", {"traveler": FR, "invoice_numbers": [invoice.number]}, format="json"
    )
    body = assert_error(reply, 422, "store_not_filed")
    assert body["extra"] == {
        "store": "DEMO-SH-001",
        "date": timezone.localdate().isoformat(),
        "status": "exited",
    }
    assert snapshot() == before
    # the other store still issues
    assert post_form(api(demo.clerk2), demo.store_bj, demo.clerk2).status_code == 201


def test_a_suspension_from_tomorrow_leaves_today_alone(demo, api):
    exit_store(demo.store_sh, days_from_now=1, status="suspended")
    assert post_form(api(demo.clerk), demo.store_sh, demo.clerk).status_code == 201
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert not store_is_filed_on(store_id=demo.store_sh.pk, day=tomorrow)


def test_the_store_page_shows_the_refusal_and_carries_categories(demo, client):
    client.force_login(demo.clerk)
    line = {"item": "Silk scarf", "quantity": "1", "unit_price": "800.00", "vat_rate": "0.13"}
    ok = client.post("/store/forms/new/", issue_data([{**line, "category": "clothing"}]))
    assert ok.status_code == 302
    form = RefundForm.objects.get()
    assert [(x.category, x.invoice_line.category) for x in form.lines.all()] == [
        ("clothing", "clothing")
    ]
    exit_store(demo.store_sh, status="suspended")
    page = client.post("/store/forms/new/", issue_data([line], document_number="18AB99999"))
    assert page.status_code in (200, 422)
    assert "not filed with the tax authority" in page.content.decode()
    assert RefundForm.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "gone"}, "status"),
        ({"rating": "C"}, "rating"),
        ({"effective_from": -1}, "effective_from"),
        ({"filed_on": 5}, "filed_on"),  # filed after the change takes effect
    ],
)
def test_bad_registry_changes_are_refused_and_change_nothing(demo, change, field):
    store: Any = StoreFactory()  # filed today
    kwargs = {"status": "suspended", "rating": "A", "effective_from": 1, **change}
    kwargs["effective_from"] = timezone.localdate() + timedelta(days=kwargs["effective_from"])
    if "filed_on" in kwargs:
        kwargs["filed_on"] = timezone.localdate() + timedelta(days=kwargs["filed_on"])
    entries = LedgerEntry.objects.count()
    with pytest.raises(BadRequest) as error:
        store_filing_change(store=store, **kwargs)
    assert field in error.value.extra["fields"]
    assert StoreFiling.objects.filter(store=store).count() == 1
    assert LedgerEntry.objects.count() == entries


def test_a_change_is_a_new_row_with_its_ledger_entry(demo):
    filing = exit_store(demo.store_bj, days_from_now=3, status="suspended")
    assert filing.filed_on == timezone.localdate()  # the demo store was filed when seeded
    entry = LedgerEntry.objects.filter(
        record_type="core.store", record_id=str(demo.store_bj.pk)
    ).latest("seq")
    assert entry.payload["status"] == "suspended" and entry.from_status == "filed"
    assert StoreFiling.objects.filter(store=demo.store_bj).count() == 2


def test_the_registry_page_lists_filters_and_exports(demo, client):
    exit_store(demo.store_bj)
    client.force_login(demo.analyst)
    page = client.get("/authority/registry/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-store="DEMO-SH-001"' in html and 'data-store="DEMO-BJ-001"' in html
    assert "filing-exited" in html
    filtered = client.get("/authority/registry/", {"status": "exited"}).content.decode()
    assert 'data-store="DEMO-BJ-001"' in filtered and 'data-store="DEMO-SH-001"' not in filtered
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    before = client.get("/authority/registry/", {"status": "filed", "day": yesterday})
    assert 'data-store="DEMO-BJ-001"' not in before.content.decode()  # seeded today: not yet filed
    csv_text = client.get("/authority/registry/", {"format": "csv"}).content.decode("utf-8-sig")
    lines = csv_text.splitlines()
    assert lines[0].startswith("store,name,region,city,taxpayer_id,status,rating")
    assert any(line.startswith("DEMO-BJ-001,") and ",exited,B," in line for line in lines)
    xlsx = client.get("/authority/registry/", {"format": "xlsx"})
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    detail = client.get("/authority/registry/DEMO-BJ-001/").content.decode()
    assert "Left the scheme" in detail and "store_filing_changed" in detail
    assert client.get("/authority/registry/NOPE/").status_code == 404
    assert AuthorityRead.objects.filter(what__startswith="registry").count() == 6


def test_a_formula_in_a_store_name_is_neutralized_in_the_export(demo, client):
    StoreFactory(code="EVIL-1", name='=HYPERLINK("http://x")')
    client.force_login(demo.analyst)
    text = client.get("/authority/registry/", {"format": "csv"}).content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text


def test_only_the_admin_files_stores(demo, client):
    client.force_login(demo.admin)
    reply = client.post(
        "/admin/authority/storefiling/add/",
        {
            "store": demo.store_sh.pk,
            "effective_from": (timezone.localdate() + timedelta(days=2)).isoformat(),
            "status": FilingStatus.EXITED,
            "rating": "A",
            "filed_on": "2015-01-01",
            "filing_number": "",
            "note": "Closed",
        },
    )
    assert reply.status_code == 302, reply.content.decode()[:2000]
    latest = StoreFiling.objects.filter(store=demo.store_sh).latest("effective_from", "id")
    assert latest.status == "exited"
    assert LedgerEntry.objects.filter(action="store_filing_changed", actor_label="admin").exists()
    past = client.post(
        "/admin/authority/storefiling/add/",
        {
            "store": demo.store_sh.pk,
            "effective_from": "2020-01-01",
            "status": "exited",
            "rating": "A",
            "filed_on": "2015-01-01",
        },
    )
    assert past.status_code == 200 and "takes effect today or later" in past.content.decode()

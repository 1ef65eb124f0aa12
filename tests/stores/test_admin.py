"""The admin shows store records read-only; the document number never appears in clear."""

from __future__ import annotations

import pytest
from django.test import Client

from stores.services import refund_form_void
from tests.factories import make_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(demo) -> Client:
    client = Client()
    client.force_login(demo.admin)
    return client


def test_admin_lists_and_shows_forms_and_invoices_read_only(demo, admin_client_):
    form = make_form(demo.store_sh, demo.clerk)
    refund_form_void(form=form, clerk=demo.clerk, reason="Returned")
    invoice = form.invoices.get()

    for url in (
        "/admin/stores/refundform/",
        f"/admin/stores/refundform/{form.pk}/change/",
        "/admin/stores/vatinvoice/",
        f"/admin/stores/vatinvoice/{invoice.pk}/change/",
        "/admin/stores/traveler/",
        f"/admin/stores/traveler/{form.traveler_id}/change/",
    ):
        response = admin_client_.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert "18AB12345" not in page
        assert 'name="_save"' not in page

    assert form.number in admin_client_.get("/admin/stores/refundform/").content.decode()
    assert admin_client_.get("/admin/stores/refundform/add/").status_code == 403
    assert admin_client_.get("/admin/stores/vatinvoice/add/").status_code == 403
    delete = admin_client_.post(f"/admin/stores/refundform/{form.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403

"""Officer pages through the Django test client: access, errors, the stamp form, mailbox."""

from __future__ import annotations

from decimal import Decimal

from django.test import Client
from django.utils import timezone

from core.numbering import form_number
from customs.models import MailboxBatch, Verification, VerificationAttempt
from tests.customs.conftest import line_ids
from tests.factories import line


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_users_go_to_the_login(demo):
    reply = Client().get("/customs/")
    assert reply.status_code == 302 and reply["Location"].startswith("/accounts/login/")


def test_other_staff_get_403(demo):
    for user in (demo.clerk, demo.agent, demo.admin):
        for url in ("/customs/", "/customs/today/", "/customs/inspections/", "/customs/mailbox/"):
            reply = client_for(user).get(url)
            assert reply.status_code == 403, (user, url)
            assert "Customs officers only" in reply.content.decode()


def test_scan_a_number_then_stamp_partially(demo, issued):
    form = issued(line(quantity="3", unit_price="100.00"), line(item="Tea 茶叶"))
    first, second = line_ids(form)
    client = client_for(demo.officer)
    # A typed number alone is the page of a missing form, as a number that does not exist.
    alone = client.post("/customs/", {"code": form.number})
    nowhere = form_number(region_code="31", issued_on=timezone.localdate(), sequence=99_999_999)
    missing = client.post("/customs/", {"code": nowhere})
    assert alone.status_code == missing.status_code == 404
    assert "18AB12345" not in alone.content.decode()
    assert client.get(f"/customs/forms/{form.number}/").status_code == 404
    # With the full document number of the passport in hand (damaged QR) it is presented.
    reply = client.post("/customs/", {"code": form.number, "document_number": "18ab 12345"})
    assert reply.status_code == 302
    assert reply["Location"] == f"/customs/forms/{form.number}/?via=typed"
    page = client.get(reply["Location"]).content.decode()
    assert "18AB12345" in page and "FR France" in page
    assert "GREEN" in page and "Tea 茶叶" in page
    reply = client.post(
        f"/customs/forms/{form.number}/",
        {
            "departure_date": timezone.localdate().isoformat(),
            "flight": "fm9",
            "traveler_matches": "on",
            f"qty_{first}": "2",
            f"qty_{second}": "1",
        },
    )
    assert reply.status_code == 302
    verification = Verification.objects.get(form=form)
    assert (verification.result, verification.verified_total, verification.flight) == (
        "partially_verified",
        Decimal("400.00"),
        "FM9",
    )
    page = client.get(f"/customs/forms/{form.number}/").content.decode()
    assert "signature valid" in page and "400.00" in page


def test_stamp_errors_come_back_to_the_page(demo, issued):
    form = issued(line(quantity="2"))
    [only] = line_ids(form)
    client = client_for(demo.officer)
    client.post("/customs/", {"code": form.qr_payload})  # presented at the port
    body = {
        "departure_date": timezone.localdate().isoformat(),
        "traveler_matches": "on",
        f"qty_{only}": "3",
    }
    reply = client.post(f"/customs/forms/{form.number}/", body)
    assert reply.status_code == 422
    assert "presented 3, purchased 2.00" in reply.content.decode()
    reply = client.post(f"/customs/forms/{form.number}/", {**body, f"qty_{only}": "abc"})
    assert reply.status_code == 400
    assert not Verification.objects.exists()


def test_the_refuse_button_rejects(demo, issued):
    form = issued()
    [only] = line_ids(form)
    client = client_for(demo.officer)
    client.post("/customs/", {"code": form.qr_payload})  # presented at the port
    client.post(
        f"/customs/forms/{form.number}/",
        {
            "departure_date": timezone.localdate().isoformat(),
            "traveler_matches": "on",
            f"qty_{only}": "1",
            "action": "reject",
        },
    )
    assert Verification.objects.get(form=form).result == "rejected"


def test_a_scanned_qr_is_checked_again_when_stamping(demo, issued):
    form, other = issued(), issued()
    [only] = line_ids(form)
    client = client_for(demo.officer)
    client.post("/customs/", {"code": form.qr_payload})  # presented at the port
    reply = client.post(
        f"/customs/forms/{form.number}/",
        {
            "qr": other.qr_payload,
            "departure_date": timezone.localdate().isoformat(),
            "traveler_matches": "on",
            f"qty_{only}": "1",
        },
    )
    assert reply.status_code == 422
    assert VerificationAttempt.objects.filter(code="qr_mismatch").exists()


def test_bad_scans_are_refused_and_recorded(demo, issued):
    client = client_for(demo.officer)
    reply = client.post("/customs/", {"code": "RF1" + "0" * 144})
    assert reply.status_code == 400
    assert VerificationAttempt.objects.filter(code="invalid_qr").count() == 1
    reply = client.post("/customs/", {"code": "1234"})
    assert reply.status_code == 400
    assert VerificationAttempt.objects.count() == 1  # typos are not recorded


def test_voided_forms_show_no_stamp_form(demo, issued):
    form = issued()
    from stores.models import RefundForm

    RefundForm.objects.filter(pk=form.pk).update(status="voided", voided_at=timezone.now())
    client = client_for(demo.officer)
    client.post("/customs/", {"code": form.qr_payload})  # presented at the port
    page = client.get(f"/customs/forms/{form.number}/").content.decode()
    assert "cannot be verified" in page and 'id="verify-form"' not in page


def test_today_and_inspection_pages(demo, issued):
    verified, queued = issued(), issued(line(unit_price="10000.00"))
    client = client_for(demo.officer)
    client.post("/customs/", {"code": queued.qr_payload})
    from customs.services import verification_create

    verification_create(
        port=demo.port,
        officer=demo.officer,
        form_number=verified.number,
        departure_date=timezone.localdate(),
    )
    today = client.get("/customs/today/").content.decode()
    assert verified.number in today and queued.number not in today
    queue = client.get("/customs/inspections/").content.decode()
    assert queued.number in queue and "At or over the inspection threshold" in queue


def test_mailbox_pages(demo, issued):
    form = issued()
    client = client_for(demo.officer)
    reply = client.post(
        "/customs/mailbox/", {"drop_date": timezone.localdate().isoformat(), "note": "T2"}
    )
    batch = MailboxBatch.objects.get()
    assert reply["Location"] == f"/customs/mailbox/{batch.pk}/"
    reply = client.post(f"/customs/mailbox/{batch.pk}/", {"code": form.qr_payload})
    assert reply.status_code == 302
    page = client.get(reply["Location"]).content.decode()
    assert 'id="count-scanned">1<' in page and form.number in page
    export = client.get(f"/customs/mailbox/{batch.pk}/export.csv")
    assert export["Content-Type"].startswith("text/csv") and form.number in export.content.decode()
    client.post(f"/customs/mailbox/{batch.pk}/close/")
    batch.refresh_from_db()
    assert batch.status == "closed"
    assert client.post(f"/customs/mailbox/{batch.pk}/", {"code": form.number}).status_code == 409
    old = client.post("/customs/mailbox/", {"drop_date": "2000-01-01"})
    assert old.status_code == 422 and "drop date" in old.content.decode()

"""The standard flow through the services: store issues, customs verifies."""

from decimal import Decimal

from django.utils import timezone

from core.ledger import ledger_verify
from customs.selectors import stamp_is_valid, verification_for
from customs.services import verification_create
from tests.factories import make_form


def test_issue_and_verify_worked_example(demo):
    # given a 200.00 purchase at 13% VAT (SPEC worked example)
    form = make_form(demo.store_sh, demo.clerk)
    # then 22.00 - 4.00 = 18.00
    assert (form.total, form.refundable_vat, form.fee, form.net_refund) == (
        Decimal("200.00"),
        Decimal("22.00"),
        Decimal("4.00"),
        Decimal("18.00"),
    )
    # when customs verifies everything with the scanned QR
    verification = verification_create(
        port=demo.port,
        officer=demo.officer,
        form_number=form.number,
        qr=form.qr_payload,
        departure_date=timezone.localdate(),
    )
    form.refresh_from_db()
    assert form.status == verification.result == "verified"
    loaded = verification_for(form)
    assert loaded is not None and stamp_is_valid(loaded)
    assert ledger_verify().intact

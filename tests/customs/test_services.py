"""Verification service against the database: stamps, ledger, channels, fixed behaviour."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from core.ledger import ledger_verify, record_history
from core.models import LedgerEntry
from customs.exceptions import AlreadyVerified, QrRefused
from customs.models import Verification, VerificationLine
from customs.rules import departure_warnings
from customs.selectors import stamp_is_valid, verification_for, verified_quantities
from customs.services import customs_form_scan, scan_parse, verification_create
from tests.customs.conftest import line_ids
from tests.factories import line


def verify(demo, form, **kwargs):
    kwargs.setdefault("departure_date", timezone.localdate())
    return verification_create(
        port=demo.port, officer=demo.officer, form_number=form.number, **kwargs
    )


def loaded(form) -> Verification:
    found = verification_for(form)
    assert found is not None
    return found


def test_stored_stamp_is_valid_and_tampering_breaks_it(demo, issued):
    form = issued(line(quantity="3", unit_price="100.00"))
    [only] = line_ids(form)
    verify(demo, form, quantities={only: Decimal("2")})
    assert stamp_is_valid(loaded(form))
    assert verified_quantities(loaded(form)) == {only: Decimal("2.00")}

    # a higher verified total written into the database
    Verification.objects.filter(form=form).update(verified_total=Decimal("300.00"))
    assert not stamp_is_valid(loaded(form))
    Verification.objects.filter(form=form).update(verified_total=Decimal("200.00"))
    assert stamp_is_valid(loaded(form))

    # a presented quantity changed
    VerificationLine.objects.filter(form_line_id=only).update(quantity_presented=Decimal("3"))
    assert not stamp_is_valid(loaded(form))
    VerificationLine.objects.filter(form_line_id=only).update(quantity_presented=Decimal("2"))

    # the signature swapped for another valid-looking one
    original = loaded(form).stamp_signature
    forged = ("A" if original[0] != "A" else "B") + original[1:]
    Verification.objects.filter(form=form).update(stamp_signature=forged)
    assert not stamp_is_valid(loaded(form))
    Verification.objects.filter(form=form).update(stamp_signature="not base64!")
    assert not stamp_is_valid(loaded(form))
    Verification.objects.filter(form=form).update(stamp_signature=original)

    # message and rows edited together: the signature no longer covers them
    v = loaded(form)
    Verification.objects.filter(form=form).update(
        stamp_message=v.stamp_message.replace('"departure_date":"', '"departure_date":"1')
    )
    assert not stamp_is_valid(loaded(form))


def test_renaming_the_officer_keeps_the_stamp_valid(demo, issued):
    form = issued()
    verify(demo, form)
    demo.officer.username = "officer-renamed"
    demo.officer.save()
    assert stamp_is_valid(loaded(form))


def test_every_verification_and_refusal_is_in_the_ledger(demo, issued):
    good, partial, refused = issued(), issued(line(quantity="2")), issued()
    verify(demo, good, flight="MU553")
    verify(demo, partial, quantities={line_ids(partial)[0]: Decimal("1")})
    with pytest.raises(AlreadyVerified):
        verify(demo, good)
    with pytest.raises(QrRefused):
        verify(demo, refused, qr=good.qr_payload)
    history = [(e.action, e.from_status, e.to_status) for e in record_history(good)]
    assert history[-1] == ("form_verified", "issued", "verified")
    last = record_history(partial)[-1]
    assert (last.action, last.to_status) == ("form_partially_verified", "partially_verified")
    assert last.payload["verified_total"] == "200.00"
    assert last.payload["stamp_signature"] == loaded(partial).stamp_signature
    refusals = LedgerEntry.objects.filter(action="verification_refused")
    assert sorted(e.payload["code"] for e in refusals) == ["already_verified", "qr_mismatch"]
    assert ledger_verify().intact


def test_departure_warnings_rules():
    from datetime import date

    day = date(2026, 6, 1)
    assert (
        departure_warnings(
            departure_date=day, last_entry_date=date(2026, 1, 1), purchase_date=date(2026, 5, 1)
        )
        == []
    )
    codes = [
        w["code"]
        for w in departure_warnings(
            departure_date=day, last_entry_date=date(2025, 11, 29), purchase_date=date(2026, 3, 1)
        )
    ]
    assert codes == ["stay_over_183_days", "purchase_over_90_days"]


def test_scan_parse_reads_numbers_and_qrs(issued):
    form = issued()
    assert scan_parse(f" {form.number}\n").qr is None
    parsed = scan_parse(form.qr_payload.lower())
    assert (parsed.number, parsed.qr) == (form.number, form.qr_payload)


def test_looking_a_form_up_decides_its_inspection_once(demo, issued):
    form = issued()
    found = customs_form_scan(port=demo.port, officer=demo.officer, code=form.qr_payload)
    assert found.pk == form.pk
    customs_form_scan(port=demo.port, officer=demo.officer, code=form.number)
    assert LedgerEntry.objects.filter(action="inspection_decided").count() == 1

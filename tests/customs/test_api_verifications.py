"""POST /api/v1/customs/verifications/ through the URL: every rule and error code."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import LedgerEntry
from core.numbering import form_number
from customs.models import Verification, VerificationAttempt
from stores.models import RefundForm
from tests.customs.conftest import line_ids, new_port
from tests.factories import line, make_form, staff_user, traveler

URL = "/api/v1/customs/verifications/"


def today() -> str:
    return timezone.localdate().isoformat()


def post(client, body, **headers):
    """Without a QR, the officer types the full document number (SPEC §4): the test traveler's."""
    if isinstance(body, dict) and "qr" not in body and "document_number" not in body:
        body = {**body, "document_number": "18AB12345"}
    return client.post(URL, body, format="json", **headers)


def test_everything_presented_is_verified_and_stamped(demo, api, issued):
    form = issued(line(quantity="2", unit_price="150.00"), line(item="Tea 茶叶", vat_rate="0.09"))
    reply = post(
        api(demo.officer),
        {"form": form.number, "qr": form.qr_payload, "departure_date": today(), "flight": "mu 553"},
    )
    assert reply.status_code == 201, reply.json()
    body = reply.json()
    assert body["form"] == form.number
    assert body["result"] == "verified"
    assert body["verified_total"] == "500.00"
    assert body["flight"] == "MU 553"
    assert [x["quantity_presented"] for x in body["lines"]] == ["2.00", "1.00"]
    assert body["warnings"] == []
    stamp = body["stamp"]
    assert stamp["port"] == "PVG" and stamp["officer"] == "officer"
    assert stamp["algorithm"] == "Ed25519" and stamp["key_id"] and stamp["signed_at"]
    form.refresh_from_db()
    assert form.status == "verified"


def test_partial_verification_totals_the_goods_presented(demo, api, issued):
    # given three items at 100.00
    form = issued(line(quantity="3", unit_price="100.00"))
    [only] = line_ids(form)
    # when two of the three are presented
    reply = post(
        api(demo.officer),
        {
            "form": form.number,
            "departure_date": today(),
            "lines": [{"id": only, "quantity_presented": "2"}],
        },
    )
    # then 200.00 is verified, partially
    assert reply.status_code == 201, reply.json()
    assert reply.json()["result"] == "partially_verified"
    assert reply.json()["verified_total"] == "200.00"
    assert reply.json()["lines"][0]["verified_total"] == "200.00"


def test_lines_left_out_count_as_fully_presented(demo, api, issued):
    form = issued(line(unit_price="300.00"), line(item="Tea", unit_price="100.00"))
    first, _ = line_ids(form)
    reply = post(
        api(demo.officer),
        {
            "form": form.number,
            "departure_date": today(),
            "lines": [{"id": first, "quantity_presented": "0"}],
        },
    )
    assert reply.json()["result"] == "partially_verified"
    assert reply.json()["verified_total"] == "100.00"


def test_nothing_presented_is_rejected(demo, api, issued):
    form = issued()
    [only] = line_ids(form)
    reply = post(
        api(demo.officer),
        {
            "form": form.number,
            "departure_date": today(),
            "lines": [{"id": only, "quantity_presented": "0.00"}],
        },
    )
    assert reply.status_code == 201
    assert (reply.json()["result"], reply.json()["verified_total"]) == ("rejected", "0.00")


def test_traveler_not_matching_rejects_the_form(demo, api, issued):
    form = issued(line(quantity="2"))
    reply = post(
        api(demo.officer),
        {"form": form.number, "departure_date": today(), "traveler_matches": False},
    )
    assert reply.status_code == 201
    body = reply.json()
    assert (body["result"], body["verified_total"], body["traveler_matches"]) == (
        "rejected",
        "0.00",
        False,
    )
    assert all(x["quantity_presented"] == "0.00" for x in body["lines"])
    form.refresh_from_db()
    assert form.status == "rejected"


def test_second_verification_is_409_already_verified(demo, api, issued):
    form = issued()
    client = api(demo.officer)
    assert post(client, {"form": form.number, "departure_date": today()}).status_code == 201
    again = post(client, {"form": form.number, "departure_date": today()})
    assert again.status_code == 409
    assert again.json()["code"] == "already_verified"
    assert set(again.json()) == {"code", "message", "extra"}
    assert Verification.objects.filter(form=form).count() == 1
    assert VerificationAttempt.objects.filter(form_number=form.number, code="already_verified")


def test_voided_form_is_refused(demo, api, issued):
    form = issued()
    RefundForm.objects.filter(pk=form.pk).update(status="voided", voided_at=timezone.now())
    reply = post(api(demo.officer), {"form": form.number, "departure_date": today()})
    assert reply.status_code == 409
    assert reply.json()["code"] == "form_not_verifiable"


def test_quantity_above_purchase_is_422_and_writes_nothing(demo, api, issued):
    form = issued(line(quantity="2"))
    [only] = line_ids(form)
    entries = LedgerEntry.objects.count()
    reply = post(
        api(demo.officer),
        {
            "form": form.number,
            "departure_date": today(),
            "lines": [{"id": only, "quantity_presented": "3"}],
        },
    )
    assert reply.status_code == 422
    assert reply.json()["code"] == "quantity_exceeds_purchase"
    form.refresh_from_db()
    assert form.status == "issued"
    assert not Verification.objects.exists()
    # only the refusal itself is recorded
    assert LedgerEntry.objects.count() == entries + 1
    last = LedgerEntry.objects.last()
    assert last is not None and last.action == "verification_refused"


def test_departure_before_purchase_is_422(demo, api, issued):
    form = issued()
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    reply = post(api(demo.officer), {"form": form.number, "departure_date": yesterday})
    assert reply.status_code == 422
    assert reply.json()["code"] == "departure_before_purchase"


def test_departure_more_than_a_day_in_the_past_is_422(demo, api, issued):
    form = issued(issued_on=timezone.localdate() - timedelta(days=5))
    day = timezone.localdate()
    two_days_ago = (day - timedelta(days=2)).isoformat()
    reply = post(api(demo.officer), {"form": form.number, "departure_date": two_days_ago})
    assert reply.status_code == 422
    assert reply.json()["code"] == "departure_in_past"
    # a day back is still accepted (a flight after midnight)
    yesterday = (day - timedelta(days=1)).isoformat()
    ok = post(api(demo.officer), {"form": form.number, "departure_date": yesterday})
    assert ok.status_code == 201


def test_departure_far_in_the_future_is_422(demo, api, issued):
    form = issued()
    later = (timezone.localdate() + timedelta(days=2)).isoformat()
    reply = post(api(demo.officer), {"form": form.number, "departure_date": later})
    assert reply.status_code == 422
    assert reply.json()["code"] == "departure_in_future"


def test_malformed_bodies_are_400_and_write_nothing(demo, api, issued):
    form = issued()
    [only] = line_ids(form)
    client = api(demo.officer)
    bad_bodies = [
        {},
        {"form": form.number},
        {"form": "12345", "departure_date": today()},
        {
            "form": form.number[:-1] + str((int(form.number[-1]) + 1) % 10),
            "departure_date": today(),
        },
        {"form": form.number, "departure_date": "tomorrow"},
        {"form": form.number, "departure_date": today(), "lines": "all"},
        {"form": form.number, "departure_date": today(), "lines": [{"id": only}]},
        {
            "form": form.number,
            "departure_date": today(),
            "lines": [{"id": only, "quantity_presented": "-1"}],
        },
        {
            "form": form.number,
            "departure_date": today(),
            "lines": [{"id": only, "quantity_presented": "0.001"}],
        },
        {
            "form": form.number,
            "departure_date": today(),
            "lines": [
                {"id": only, "quantity_presented": "1"},
                {"id": only, "quantity_presented": "1"},
            ],
        },
        {"form": form.number, "departure_date": today(), "traveler_matches": "perhaps"},
    ]
    for body in bad_bodies:
        reply = post(client, body)
        assert reply.status_code == 400, (body, reply.json())
        assert reply.json()["code"] == "invalid"
    not_json = client.post(URL, "{not json", content_type="application/json")
    assert not_json.status_code == 400
    assert not_json.json()["code"] == "malformed_request"
    assert not Verification.objects.exists()
    assert not VerificationAttempt.objects.exists()


def test_a_line_of_another_form_is_400_unknown_line(demo, api, issued):
    form, other = issued(), issued()
    reply = post(
        api(demo.officer),
        {
            "form": form.number,
            "departure_date": today(),
            "lines": [{"id": line_ids(other)[0], "quantity_presented": "1"}],
        },
    )
    assert reply.status_code == 400
    assert reply.json()["code"] == "unknown_line"


def test_unknown_form_is_404_and_recorded(demo, api, issued):
    missing = form_number(region_code="31", issued_on=timezone.localdate(), sequence=99_999_999)
    reply = post(api(demo.officer), {"form": missing, "departure_date": today()})
    assert reply.status_code == 404
    assert reply.json()["code"] == "not_found"
    assert VerificationAttempt.objects.filter(form_number=missing, code="not_found").exists()


def test_only_officers_may_verify(demo, api, issued):
    form = issued()
    body = {"form": form.number, "departure_date": today()}
    assert post(api(), body).status_code == 401
    for user in (demo.clerk, demo.agent, demo.admin):
        reply = post(api(user), body)
        assert reply.status_code == 403
        assert set(reply.json()) == {"code", "message", "extra"}
    assert not Verification.objects.exists()


def test_the_port_comes_from_the_officers_membership(demo, api, issued):
    other = new_port("PEK", "11")
    officer = staff_user("officer", other, "pek-officer")
    form = issued()
    # a port in the body is not the client's to choose: an unknown key, refused (400)
    refused = post(api(officer), {"form": form.number, "departure_date": today(), "port": "PVG"})
    assert refused.status_code == 400
    assert refused.json()["extra"]["fields"] == {"port": ["Unknown field."]}
    assert not Verification.objects.exists()
    reply = post(api(officer), {"form": form.number, "departure_date": today()})
    assert reply.status_code == 201
    assert reply.json()["stamp"]["port"] == "PEK"
    assert Verification.objects.get(form=form).port == other


def test_idempotency_key_replays_the_first_answer(demo, api, issued):
    form = issued()
    client = api(demo.officer)
    body = {"form": form.number, "departure_date": today()}
    first = post(client, body, HTTP_IDEMPOTENCY_KEY="verify-1")
    again = post(client, body, HTTP_IDEMPOTENCY_KEY="verify-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    other = post(client, {**body, "traveler_matches": False}, HTTP_IDEMPOTENCY_KEY="verify-1")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Verification.objects.count() == 1


# --- QR ------------------------------------------------------------------------------


def test_qr_of_another_form_is_refused_and_recorded(demo, api, issued):
    form, other = issued(), issued()
    reply = post(
        api(demo.officer),
        {"form": form.number, "qr": other.qr_payload, "departure_date": today()},
    )
    assert reply.status_code == 422
    assert reply.json()["code"] == "qr_mismatch"
    assert set(reply.json()) == {"code", "message", "extra"}
    attempt = VerificationAttempt.objects.get()
    assert (attempt.form_number, attempt.code, attempt.officer) == (
        form.number,
        "qr_mismatch",
        demo.officer,
    )
    assert LedgerEntry.objects.filter(
        record_type="customs.verificationattempt", action="verification_refused"
    ).exists()
    form.refresh_from_db()
    assert form.status == "issued"
    assert not Verification.objects.exists()


def test_forged_qr_signature_is_refused_and_recorded(demo, api, issued):
    form = issued()
    payload = form.qr_payload
    forged = payload[:-5] + ("A" if payload[-5] != "A" else "B") + payload[-4:]
    reply = post(api(demo.officer), {"form": form.number, "qr": forged, "departure_date": today()})
    assert reply.status_code == 422
    assert reply.json()["code"] == "qr_mismatch"
    assert VerificationAttempt.objects.filter(code="qr_mismatch").count() == 1


def test_garbage_qr_is_invalid_qr_and_recorded(demo, api, issued):
    form = issued()
    reply = post(
        api(demo.officer), {"form": form.number, "qr": "HELLO-WORLD", "departure_date": today()}
    )
    assert reply.status_code == 400
    assert reply.json()["code"] == "invalid_qr"
    assert VerificationAttempt.objects.filter(code="invalid_qr").exists()


def test_qr_of_a_changed_record_is_refused(demo, api, issued):
    # given the record changed after the QR was printed (its digest no longer matches)
    form = issued()
    RefundForm.objects.filter(pk=form.pk).update(content_digest="0" * 64)
    reply = post(
        api(demo.officer), {"form": form.number, "qr": form.qr_payload, "departure_date": today()}
    )
    assert reply.status_code == 422
    assert reply.json()["code"] == "qr_mismatch"
    assert "does not match the form on record" in reply.json()["message"]


# --- Warnings --------------------------------------------------------------------------


def test_183_and_90_day_warnings_are_returned_not_refused(demo, api, pvg_policy):
    day = timezone.localdate()
    # entered 185 days ago, bought 100 days ago (both legal at the store)
    who = traveler(last_entry_date=day - timedelta(days=185))
    form = make_form(
        demo.store_sh, demo.clerk, line(), who=who, issued_on=day - timedelta(days=100)
    )
    reply = post(api(demo.officer), {"form": form.number, "departure_date": today()})
    assert reply.status_code == 201
    warnings = {w["code"]: w for w in reply.json()["warnings"]}
    assert set(warnings) == {"stay_over_183_days", "purchase_over_90_days"}
    assert (warnings["stay_over_183_days"]["days"], warnings["stay_over_183_days"]["check"]) == (
        185,
        "D",
    )
    assert (
        warnings["purchase_over_90_days"]["days"],
        warnings["purchase_over_90_days"]["limit"],
    ) == (
        100,
        90,
    )
    assert reply.json()["result"] == "verified"
    assert Verification.objects.get(form=form).warnings == reply.json()["warnings"]


def test_no_warning_at_exactly_the_limits(demo, api, pvg_policy):
    day = timezone.localdate()
    who = traveler(last_entry_date=day - timedelta(days=183))
    form = make_form(demo.store_sh, demo.clerk, line(), who=who, issued_on=day - timedelta(days=90))
    reply = post(api(demo.officer), {"form": form.number, "departure_date": today()})
    assert reply.json()["warnings"] == []


# --- Stamp -----------------------------------------------------------------------------


def test_stamp_verifies_with_only_the_port_public_key(demo, api, issued):
    form = issued(line(quantity="3", unit_price="100.00"))
    [only] = line_ids(form)
    stamp = post(
        api(demo.officer),
        {
            "form": form.number,
            "departure_date": today(),
            "lines": [{"id": only, "quantity_presented": "2"}],
        },
    ).json()["stamp"]
    # an agency knows nothing but the published keys
    keys = api().get("/api/v1/keys/").json()
    port_key = keys["ports"]["PVG"]
    assert port_key["key_id"] == stamp["key_id"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(port_key["public_key"]))
    public.verify(base64.b64decode(stamp["signature"]), stamp["message"].encode())
    signed = json.loads(stamp["message"])
    assert signed["form"] == form.number and signed["port"] == "PVG"
    assert signed["officer"] == "officer" and signed["departure_date"] == today()
    assert signed["lines"] == [{"line": only, "quantity_presented": "2.00"}]
    assert signed["verified_total"] == "200.00"
    # and a changed message does not verify
    import pytest
    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        public.verify(
            base64.b64decode(stamp["signature"]),
            stamp["message"].replace('"2.00"', '"3.00"').encode(),
        )


def test_stamp_does_not_verify_with_another_ports_key(demo, api, issued):
    new_port("SHA")
    form = issued()
    stamp = post(api(demo.officer), {"form": form.number, "departure_date": today()}).json()[
        "stamp"
    ]
    keys = api().get("/api/v1/keys/").json()["ports"]
    assert keys["SHA"]["public_key"] != keys["PVG"]["public_key"]
    other = Ed25519PublicKey.from_public_bytes(base64.b64decode(keys["SHA"]["public_key"]))
    from cryptography.exceptions import InvalidSignature

    try:
        other.verify(base64.b64decode(stamp["signature"]), stamp["message"].encode())
    except InvalidSignature:
        pass
    else:
        raise AssertionError("another port's key must not verify PVG's stamp")


# --- Queries ------------------------------------------------------------------------------


def _queries_to_verify(client, form) -> int:
    with CaptureQueriesContext(connection) as captured:
        reply = post(
            client, {"form": form.number, "qr": form.qr_payload, "departure_date": today()}
        )
    assert reply.status_code == 201, reply.json()
    assert len(reply.json()["lines"]) == form.lines.count()
    return len(captured.captured_queries)


def test_verifying_takes_the_same_number_of_queries_for_1_or_50_lines(demo, api, issued):
    small = issued(line())
    big = issued(*[line(item=f"Item {n}", unit_price="10.00") for n in range(50)])
    client = api(demo.officer)
    client.get("/api/v1/customs/inspections/")  # token and membership warm alike
    one, fifty = _queries_to_verify(client, small), _queries_to_verify(client, big)
    print(f"\nqueries per verification: 1 line={one}, 50 lines={fifty}")
    assert one == fifty
    assert one <= 30


def test_the_form_detail_shows_the_stamp_and_the_lane(demo, api, issued):
    form = issued()
    client = api(demo.officer)
    # A typed number alone is the 404 of a missing form until the form is presented here.
    assert client.get(f"/api/v1/customs/forms/{form.number}/").status_code == 404
    assert client.get(f"/api/v1/customs/forms/{form.qr_payload}/").json()["verification"] is None
    post(client, {"form": form.number, "departure_date": today()})
    customs_view = client.get(f"/api/v1/customs/forms/{form.qr_payload}/").json()
    assert customs_view["status"] == "verified"
    assert customs_view["traveler"]["document_number_masked"] == "1*****345"
    assert customs_view["traveler"]["document_number"] == "18AB12345"
    assert customs_view["traveler"]["nationality_name"] == "FR France"
    assert customs_view["verification"]["stamp"]["port"] == "PVG"
    assert customs_view["inspection"]["lane"] == "green"
    detail = client.get(f"/api/v1/forms/{form.number}/")
    if detail.status_code == 200:  # the stores form detail, with customs' sections
        assert detail.json()["verification"]["result"] == "verified"
        assert detail.json()["inspection"]["lane"] == "green"


def test_the_customs_form_view_refuses_a_bad_qr_and_records_it(demo, api, issued):
    form = issued()
    bad = form.qr_payload[:-2] + ("AA" if form.qr_payload[-2:] != "AA" else "BB")
    reply = api(demo.officer).get(f"/api/v1/customs/forms/{bad}/")
    assert reply.status_code == 422 and reply.json()["code"] == "qr_mismatch"
    assert VerificationAttempt.objects.filter(code="qr_mismatch").count() == 1


def test_todays_verifications_list(demo, api, issued):
    form = issued()
    client = api(demo.officer)
    post(client, {"form": form.number, "departure_date": today()})
    rows = client.get(URL).json()["results"]
    assert [(r["form"], r["result"], r["verified_total"]) for r in rows] == [
        (form.number, "verified", "200.00")
    ]
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert client.get(URL, {"date": yesterday}).json()["results"] == []
    assert client.get(URL, {"date": "nope"}).status_code == 400

"""POST /api/v1/kiosk/lookup/: the traveler's view, one uniform 404, throttled."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from stdnum import luhn

from agencies.services import refund_handover, refund_pay
from customs.models import VerificationChannel
from customs.services import customs_form_scan, verification_create
from kiosk.api.views import LookupView
from kiosk.guards import KioskRateThrottle
from stores.services import refund_form_void
from tests.factories import line, traveler
from tests.kiosk.conftest import DOCUMENT, URL

pytestmark = pytest.mark.django_db


def verify(form: Any, demo: Any, **kwargs: Any) -> None:
    verification_create(
        port=demo.port,
        officer=demo.officer,
        form_number=form.number,
        qr=form.qr_payload,
        departure_date=timezone.localdate(),
        **kwargs,
    )
    form.refresh_from_db()


def test_fresh_issued_form_shape(issued: Any, lookup: Any) -> None:
    form = issued()  # RMB 200 at 13%: 22.00 - 4.00 = 18.00
    response = lookup(form.number, DOCUMENT)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"status", "timeline", "total", "net_refund", "next_step", "payout_options"}
    assert body["status"] == "issued"
    assert body["total"] == "200.00"
    assert body["net_refund"] == "18.00"
    assert body["next_step"]["code"] == "customs"
    assert "customs before check-in" in body["next_step"]["text"]
    assert [e["action"] for e in body["timeline"]] == ["form_issued"]
    assert body["timeline"][0]["text"] == "Form issued by the store"
    options = {o["method"]: o["allowed"] for o in body["payout_options"]}
    assert options == {"cash": True, "bank_card": True, "alipay": True, "wechat": True}
    assert response["Cache-Control"] == "no-store"
    # Nothing about the document is echoed back.
    assert DOCUMENT not in response.content.decode()


def test_qr_payload_and_spaced_lowercase_document(issued: Any, lookup: Any) -> None:
    form = issued()
    assert lookup(form.qr_payload, "18ab 12345").json()["status"] == "issued"
    # A keyboard-wedge scanner may leave a trailing newline.
    assert lookup(form.qr_payload.lower() + "\n", DOCUMENT).status_code == 200


def test_language_chooses_the_words(issued: Any, lookup: Any) -> None:
    form = issued()
    body = lookup(form.number, DOCUMENT, lang="ja").json()
    assert body["lang"] == "ja"
    assert body["next_step"]["text"].startswith("搭乗手続きの前に")
    assert body["status_text"] == "発行済み（税関の確認前）"  # noqa: RUF001
    ar = lookup(form.number, DOCUMENT, lang="ar").json()
    assert ar["timeline"][0]["text"] == "أصدر المتجر الاستمارة"
    # An unknown language falls back to English rather than failing.
    assert lookup(form.number, DOCUMENT, lang="xx").json()["lang"] == "en"


def test_uniform_404_bodies(issued: Any, lookup: Any, api: Any) -> None:
    form = issued()
    body = form.number[:-1]
    body = body[:-1] + str((int(body[-1]) + 1) % 10)
    other = body + luhn.calc_check_digit(body)  # a well-formed number of no form
    tampered_qr = form.qr_payload[:-4] + ("AAAA" if form.qr_payload[-4:] != "AAAA" else "BBBB")
    cases = [
        lookup(form.number, "X9999999"),  # wrong document
        lookup(other, DOCUMENT),  # unknown form
        lookup(tampered_qr, DOCUMENT),  # forged QR
    ]
    assert {r.status_code for r in cases} == {404}
    bodies = {r.content for r in cases}
    assert len(bodies) == 1
    assert cases[0].json()["code"] == "not_found"
    # What the characters alone say is wrong is a 400 per field, in the traveler's language:
    # it depends on nothing stored, so it tells a prober nothing.
    malformed: list[tuple[Any, Any, dict[str, str]]] = [
        (form.number[:-1] + str((int(form.number[-1]) + 1) % 10), DOCUMENT, {"form": "form_check"}),
        ("RF1GARBAGE", DOCUMENT, {"form": "qr_incomplete"}),
        (form.number, "", {"document_number": "document_empty"}),
        (form.number, "X1", {"document_number": "document_malformed"}),
        (12345, DOCUMENT, {"form": "form_empty"}),
        (form.number, ["18AB12345"], {"document_number": "document_empty"}),
        ("1234", DOCUMENT, {"form": "form_malformed"}),
        ("", "", {"form": "form_empty", "document_number": "document_empty"}),
    ]
    for number, document, codes in malformed:
        reply = lookup(number, document, lang="ja")
        assert reply.status_code == 400, (number, document)
        body = reply.json()
        assert (body["code"], body["extra"]["codes"]) == ("invalid", codes)
        assert body["message"] == body["extra"]["fields"][next(iter(codes))][0]
    assert lookup("", "", lang="ja").json()["extra"]["fields"]["form"] == [
        "申請書番号を入力するか、申請書のQRコードをスキャンしてください。"
    ]
    empty_bodies: list[Any] = [{}, [1, 2]]
    for missing in empty_bodies:
        reply = api().post(URL, missing, format="json")
        assert (reply.status_code, reply.json()["extra"]["codes"]) == (
            400,
            {"form": "form_empty", "document_number": "document_empty"},
        )
    # Only a body that is not JSON at all is a 400.
    broken = api().post(URL, "{not json", content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["code"] == "malformed_request"


def test_throttle_429(issued: Any, lookup: Any, settings: Any, monkeypatch: Any) -> None:
    assert LookupView.throttle_classes == [KioskRateThrottle]
    assert "kiosk" in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    # DRF reads throttle rates at class definition: patch them for this test.
    monkeypatch.setattr(KioskRateThrottle, "THROTTLE_RATES", {"kiosk": "3/min"})
    responses = [lookup("0000000000000000", DOCUMENT) for _ in range(4)]
    assert [r.status_code for r in responses] == [404, 404, 404, 429]
    assert responses[-1].json()["code"] == "throttled"


def test_red_and_green_lane(issued: Any, lookup: Any, demo: Any) -> None:
    green = issued()
    customs_form_scan(port=demo.port, officer=demo.officer, code=green.qr_payload)
    assert lookup(green.number).json()["next_step"]["code"] == "green_lane"
    # At or over the threshold: inspected item by item (red lane).
    red = issued(line(unit_price="12000.00"))
    customs_form_scan(port=demo.port, officer=demo.officer, code=red.qr_payload)
    body = lookup(red.number).json()
    assert body["next_step"]["code"] == "red_lane"
    assert "inspect" in body["next_step"]["text"]


def test_verified_then_refunded(issued: Any, lookup: Any, demo: Any) -> None:
    form = issued(line(unit_price="3600.00"))
    verify(form, demo)
    body = lookup(form.number).json()
    assert body["status"] == "verified"
    assert body["next_step"]["code"] == "counter"
    assert body["next_step"]["text"] == "Go to the refund counter with this form and your passport."
    assert body["net_refund"] == "324.00"
    assert [e["action"] for e in body["timeline"]] == ["form_issued", "form_verified"]

    refund = refund_pay(
        form_number=form.number,
        qr=form.qr_payload,
        document_number=DOCUMENT,
        payout_method="cash",
        agent=demo.agent,
        agency=demo.agency,
        port=demo.port,
    )
    refund_handover(refund_id=refund.pk, agent=demo.agent, agency=demo.agency)
    body = lookup(form.number, lang="de").json()
    assert body["status"] == "refunded"
    assert body["net_refund"] == "324.00"
    assert body["next_step"]["text"].startswith("Ihre Erstattung von 324,00 RMB")
    assert body["payout_options"] == []
    assert body["timeline"][-1]["text"] == "Erstattung ausgezahlt"


def test_partially_verified_refund_on_verified_goods(issued: Any, lookup: Any, demo: Any) -> None:
    form = issued(line(quantity="2", unit_price="200.00"))
    line_id = form.lines.get().pk
    verify(form, demo, quantities={line_id: Decimal("1")})
    body = lookup(form.number).json()
    assert body["status"] == "partially_verified"
    assert body["total"] == "400.00"
    assert body["net_refund"] == "18.00"  # only the verified 200.00
    assert body["next_step"]["code"] == "counter_partial"


def test_over_cash_cap_is_transfer_only(issued: Any, lookup: Any) -> None:
    # Net 9% of 230,000 = 20,700 > the RMB 20,000 cap of today's policy.
    form = issued(line(unit_price="230000.00"))
    options = {o["method"]: o for o in lookup(form.number).json()["payout_options"]}
    assert options["cash"]["allowed"] is False
    assert options["cash"]["reason"] == "Over the cash limit of RMB 20,000.00: transfer only"
    assert options["alipay"]["allowed"] is True


def test_mailbox_verified_is_transfer_only(issued: Any, lookup: Any, demo: Any) -> None:
    form = issued()
    verify(form, demo, channel=VerificationChannel.MAILBOX)
    body = lookup(form.number).json()
    assert body["next_step"]["code"] == "mailbox"
    cash = next(o for o in body["payout_options"] if o["method"] == "cash")
    assert cash["allowed"] is False
    assert cash["reason"] == "Mailbox forms are paid by transfer only"


def test_rejected_and_voided_explain(issued: Any, lookup: Any, demo: Any) -> None:
    rejected = issued(who=traveler(document_number=DOCUMENT))
    verify(rejected, demo, traveler_matches=False)
    body = lookup(rejected.number, lang="fr").json()
    assert body["status"] == "rejected"
    assert body["next_step"]["code"] == "rejected"
    assert "refusé" in body["next_step"]["text"]
    assert body["payout_options"] == []

    voided = issued()
    refund_form_void(form=voided, clerk=demo.clerk, reason="sales return")
    body = lookup(voided.number, lang="es").json()
    assert body["status"] == "voided"
    assert body["net_refund"] == "0.00"
    assert body["next_step"]["text"].startswith("La tienda anuló este formulario")
    assert body["timeline"][-1]["action"] == "form_voided"


def test_lookup_reads_a_fixed_number_of_rows(issued: Any, lookup: Any, demo: Any) -> None:
    form = issued(*[line(item=f"Item {n}") for n in range(8)])
    verify(form, demo)
    with CaptureQueriesContext(connection) as queries:
        assert lookup(form.number).json()["status"] == "verified"
    # The throttle and the form lock count in the cache table; the rest reads the form.
    reads = [
        q
        for q in queries.captured_queries
        if "refund_cache" not in q["sql"] and "SAVEPOINT" not in q["sql"]
    ]
    assert len(reads) <= 11  # one more: the trip (same document, same last entry)


def _cache_statements(queries: Any) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "refund_cache" in q["sql"]]


@pytest.mark.django_db(transaction=True)  # committed, as in production (no outer transaction)
def test_throttle_and_form_lock_are_one_cache_read(issued: Any, lookup: Any) -> None:
    form = issued()
    for named in (form.number, form.qr_payload):
        with CaptureQueriesContext(connection) as queries:
            assert lookup(named).status_code == 200
        reads = [sql for sql in _cache_statements(queries) if sql.startswith('SELECT "cache_key"')]
        assert len(reads) == 1, _cache_statements(queries)
        assert "throttle_kiosk" in reads[0] and "kiosk:form-lock" in reads[0]
        # ...and the history written back in one upsert (after Django's count for culling)
        writes = [sql for sql in _cache_statements(queries) if sql.startswith("INSERT")]
        assert len(writes) == 1 and "ON CONFLICT" in writes[0]


def test_lock_read_with_the_throttle_still_locks(issued: Any, lookup: Any, settings: Any) -> None:
    form = issued()
    for _ in range(settings.KIOSK_FORM_LOCK_FAILURES):
        assert lookup(form.number, "WRONG0001").status_code == 404
    # Locked: by number, by QR, and a forged QR naming it is a plain 404 (not this form's).
    assert lookup(form.number).json()["code"] == "form_locked"
    assert lookup(form.qr_payload).json()["code"] == "form_locked"
    forged = form.qr_payload[:-4] + ("AAAA" if not form.qr_payload.endswith("AAAA") else "BBBB")
    assert lookup(forged).status_code == 404


def test_bad_body_is_still_throttled_first(api: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(KioskRateThrottle, "THROTTLE_RATES", {"kiosk": "2/min"})
    replies = [api().post(URL, "{not json", content_type="application/json") for _ in range(3)]
    # counted like any lookup, and over the rate 429 comes before the body's 400
    assert [r.status_code for r in replies] == [400, 400, 429]
    assert replies[-1].json()["code"] == "throttled"

"""stores.scopes: who sees what, presentations, the read audit, the full document number."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import LedgerEntry, StaffMembership
from customs.models import InspectionPolicy
from customs.services import verification_create
from stores.models import FormPresentation, PersonalDataRead
from stores.scopes import forms_in_scope, nationality_label
from tests.factories import line, make_form, traveler

DOCUMENT = "18AB12345"
FORMS = "/api/v1/forms/"


def membership(user: Any) -> StaffMembership:
    return StaffMembership.objects.get(user=user)


def verified_at(demo: Any, port: Any, officer: Any, store: Any = None, clerk: Any = None) -> Any:
    form = make_form(store or demo.store_sh, clerk or demo.clerk, line(), who=traveler())
    verification_create(
        port=port,
        officer=officer,
        form_number=form.number,
        qr=form.qr_payload,
        departure_date=timezone.localdate(),
    )
    form.refresh_from_db()
    return form


def test_scopes_follow_spec_section_3(demo):
    # given: a PVG-verified SH form, a PEK-verified BJ form, an issued SH form
    sh = verified_at(demo, demo.port, demo.officer)
    bj = verified_at(demo, demo.port2, demo.officer2, demo.store_bj, demo.clerk2)
    issued = make_form(demo.store_sh, demo.clerk, line())

    def scope(user: Any) -> set[str]:
        return set(forms_in_scope(membership=membership(user)).values_list("number", flat=True))

    assert scope(demo.clerk) == {sh.number, issued.number}
    assert scope(demo.clerk2) == {bj.number}
    assert scope(demo.officer) == {sh.number}  # verified (so presented) at PVG
    assert scope(demo.officer2) == {bj.number}
    assert scope(demo.agent) == {sh.number, issued.number}  # serves DEMO-SH-001 and PVG
    assert scope(demo.agent2) == {bj.number}
    assert scope(demo.analyst) == {sh.number, bj.number, issued.number}
    assert forms_in_scope(membership=None).count() == 0


def test_a_presentation_at_a_port_brings_the_form_into_that_ports_scope(demo, api):
    form = make_form(demo.store_sh, demo.clerk, line())
    client = api(demo.officer2)
    assert client.get(f"/api/v1/customs/forms/{form.number}/").status_code == 404
    assert client.get(f"{FORMS}{form.number}/").status_code == 404

    # the traveler shows the form at PEK with a damaged QR: number + passport typed
    reply = client.post(
        "/api/v1/customs/presentations/",
        {"form": form.number, "document_number": "18ab 12345"},
        format="json",
    )
    assert reply.status_code == 201, reply.json()
    traveler_out = reply.json()["traveler"]
    assert traveler_out["document_number"] == DOCUMENT
    assert traveler_out["document_number_masked"] == "1*****345"
    assert traveler_out["nationality_name"] == "FR France"
    (presented,) = FormPresentation.objects.filter(form=form)
    assert (presented.how, presented.port, presented.agency, presented.user) == (
        "typed",
        demo.port2,
        None,
        demo.officer2,
    )
    # now PEK reads it (and so does DEMO-AGENCY-2, which serves PEK), PVG still does not
    assert client.get(f"{FORMS}{form.number}/").json()["traveler"]["document_number"] == DOCUMENT
    assert api(demo.agent2).get(f"{FORMS}{form.number}/").status_code == 200
    assert api(demo.officer).get(f"{FORMS}{form.number}/").status_code == 404


def test_a_wrong_document_presents_nothing_and_answers_the_missing_form_404(demo, api):
    form = make_form(demo.store_sh, demo.clerk, line())
    reply = api(demo.officer).post(
        "/api/v1/customs/presentations/",
        {"form": form.number, "document_number": "18AB12346"},
        format="json",
    )
    assert reply.status_code == 404 and reply.json()["code"] == "not_found"
    assert not FormPresentation.objects.exists()
    assert api(demo.officer).get(f"{FORMS}{form.number}/").status_code == 404


def test_the_full_number_only_to_the_officer_or_agent_who_has_it_presented(demo, api):
    form = verified_at(demo, demo.port, demo.officer)  # scanned at PVG
    url = f"{FORMS}{form.number}/"

    def full(user: Any) -> Any:
        return api(user).get(url).json()["traveler"]["document_number"]

    assert full(demo.officer) == DOCUMENT
    # the clerk, the authority and an agent before the traveler is at its counter: masked
    assert full(demo.clerk) is None and full(demo.analyst) is None and full(demo.agent) is None
    api(demo.agent).post(
        "/api/v1/refunds/check/", {"form": form.number, "qr": form.qr_payload}, format="json"
    )
    assert full(demo.agent) == DOCUMENT
    reads = PersonalDataRead.objects.filter(form=form, reason="detail")
    assert set(reads.filter(unmasked=True).values_list("user__username", flat=True)) == {
        "officer",
        "agent",
    }


def test_every_staff_read_is_recorded_with_why(demo, api):
    form = verified_at(demo, demo.port, demo.officer)
    api(demo.clerk).get(f"{FORMS}{form.number}/")
    api(demo.analyst).get(f"{FORMS}{form.number}/")
    api(demo.officer).get(f"/api/v1/customs/forms/{form.qr_payload}/")
    api(demo.officer).get("/api/v1/customs/verifications/")
    api(demo.agent).post(
        "/api/v1/refunds/check/",
        {"form": form.number, "document_number": DOCUMENT},
        format="json",
    )
    rows = {
        (r.user.username, r.role, r.reason)
        for r in PersonalDataRead.objects.filter(form=form).select_related("user")
    }
    assert rows == {
        ("clerk", "clerk", "detail"),
        ("analyst", "analyst", "detail"),
        ("officer", "officer", "scan"),
        ("officer", "officer", "list"),
        ("agent", "agent", "typed"),
    }
    assert all(r.read_at for r in PersonalDataRead.objects.all())


def test_a_list_is_recorded_in_one_insert(demo, api):
    forms = [make_form(demo.store_sh, demo.clerk, line()) for _ in range(12)]
    client = api(demo.clerk)
    with CaptureQueriesContext(connection) as queries:
        reply = client.get(FORMS, {"limit": 50})
    assert reply.json()["count"] == 12
    inserts = [q for q in queries.captured_queries if "INSERT" in q["sql"].upper()]
    audit = [q for q in inserts if "personaldataread" in q["sql"].lower()]
    assert len(audit) == 1, inserts
    recorded = PersonalDataRead.objects.filter(user=demo.clerk, reason="list")
    assert set(recorded.values_list("form_id", flat=True)) == {f.pk for f in forms}


def test_counter_typed_path_checks_pays_and_records_a_manual_entry(demo, api):
    form = verified_at(demo, demo.port, demo.officer)
    client = api(demo.agent)
    # a typed number alone, or with a wrong document, is the missing-form 404
    alone = client.post("/api/v1/refunds/check/", {"form": form.number}, format="json")
    assert alone.status_code == 400
    wrong = client.post(
        "/api/v1/refunds/check/",
        {"form": form.number, "document_number": "ZZ0000000"},
        format="json",
    )
    assert wrong.status_code == 404 and wrong.json()["code"] == "not_found"

    check = client.post(
        "/api/v1/refunds/check/", {"form": form.number, "document_number": DOCUMENT}, format="json"
    )
    assert check.status_code == 200
    body = check.json()
    assert body["passed"] is True
    f_check = next(c for c in body["checks"] if c["code"] == "F")
    assert f_check == {
        "code": "F",
        "passed": True,
        "detail": "The presented form matches the system record.",
    }
    assert body["traveler"]["document_number"] == DOCUMENT

    paid = client.post(
        "/api/v1/refunds/",
        {"form": form.number, "document_number": DOCUMENT, "payout_method": "cash"},
        format="json",
    )
    assert paid.status_code == 201, paid.json()
    entry = LedgerEntry.objects.get(record_type="agencies.refund", action="refund_created")
    assert (entry.payload["entry"], entry.payload["manual"]) == ("typed", True)
    assert set(
        FormPresentation.objects.filter(form=form, agency=demo.agency).values_list("how", flat=True)
    ) == {"typed"}


def test_an_agent_pays_only_forms_verified_at_its_agencys_ports(demo, api):
    pvg = verified_at(demo, demo.port, demo.officer)
    reply = api(demo.agent2).post(
        "/api/v1/refunds/",
        {
            "form": pvg.number,
            "qr": pvg.qr_payload,
            "document_number": DOCUMENT,
            "payout_method": "cash",
        },
        format="json",
    )
    assert reply.status_code == 404 and reply.json()["code"] == "not_found"
    assert not FormPresentation.objects.filter(agency=demo.agency2).exists()
    # the same form at the agency serving PVG
    ok = api(demo.agent).post(
        "/api/v1/refunds/",
        {
            "form": pvg.number,
            "qr": pvg.qr_payload,
            "document_number": DOCUMENT,
            "payout_method": "cash",
        },
        format="json",
    )
    assert ok.status_code == 201


def test_nationality_label():
    assert nationality_label("JP") == "JP Japan"
    assert nationality_label("ZZ") == "ZZ"


def test_page_reads_are_recorded_too(demo):
    from django.test import Client

    form = verified_at(demo, demo.port, demo.officer)

    def as_user(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    clerk = as_user(demo.clerk)
    assert clerk.get("/store/").status_code == 200
    assert clerk.get(f"/store/forms/{form.number}/").status_code == 200
    officer = as_user(demo.officer)
    page = officer.get(f"/customs/forms/{form.number}/").content.decode()
    assert DOCUMENT in page and "FR France" in page  # verified from its QR at PVG
    assert officer.get("/customs/today/").status_code == 200
    # a port that never saw the form: the page of a missing form, nothing read
    assert as_user(demo.officer2).get(f"/customs/forms/{form.number}/").status_code == 404
    rows = {
        (r.user.username, r.reason, r.unmasked)
        for r in PersonalDataRead.objects.filter(form=form).select_related("user")
    }
    assert rows == {
        ("clerk", "list", False),
        ("clerk", "detail", False),
        ("officer", "detail", True),
        ("officer", "list", False),
    }


def test_a_green_lane_verification_is_in_scope_but_not_presented_to_officers(demo, api):
    # no random sample at the port: the green lane is for forms not selected for inspection
    InspectionPolicy.objects.update_or_create(port=demo.port, defaults={"sample_rate": Decimal(0)})
    form = make_form(demo.store_sh, demo.clerk, line())
    verification_create(
        port=demo.port,
        officer=None,
        form_number=form.number,
        qr=form.qr_payload,
        departure_date=timezone.localdate(),
        channel="kiosk",
    )
    assert not FormPresentation.objects.filter(form=form).exists()
    reply = api(demo.officer).get(f"{FORMS}{form.number}/")
    assert reply.status_code == 200  # verified at PVG: in the port's scope
    assert reply.json()["traveler"]["document_number"] is None  # nobody had the passport

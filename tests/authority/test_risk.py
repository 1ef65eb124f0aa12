"""Risk signals: planted cases show with their evidence; customs sees its own port's."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from stdnum import luhn

from authority.models import AuthorityRead, RiskSignalRule
from kiosk.models import KioskFormLock
from tests.authority.helpers import goods, issue, traveler, verify
from tests.factories import StoreFactory, staff_user

RISK = "/api/v1/authority/risk/"
HOPPER = traveler("Ivan Petrov", "RU7654321", "RU")
SPLITTER = traveler("Kim Minsu", "M12345678", "KR")
QUIET = traveler("Anna Schmidt", "C01X00T47", "DE")


@pytest.fixture
def planted(demo, api):
    """Through the API: a store hopper, a splitter, a voiding store, a fast far-port exit."""
    third: Any = StoreFactory(
        code="SH-THIRD", name="Third Store", region_code="31", city="Shanghai"
    )
    clerk3 = staff_user("clerk", third, username="clerk3")
    forms = {}
    # one traveler at three stores on one day
    for name, client in (("h1", api(demo.clerk)), ("h2", api(demo.clerk2)), ("h3", api(clerk3))):
        forms[name] = issue(
            client, HOPPER, goods("Watch", "1", "600.00", "0.13", "jewelry_watches")
        )
    # three forms of 9,500.00 each: just under the 10,000 inspection threshold
    for name in ("s1", "s2", "s3"):
        forms[name] = issue(
            api(demo.clerk), SPLITTER, goods("Bag", "1", "9500.00", "0.13", "bags_shoes")
        )
    # a Shanghai form verified minutes later in Beijing; a Shanghai one verified in Shanghai
    forms["far"] = issue(api(demo.clerk), QUIET, goods("Tea", "1", "300.00", "0.09", "tea_food"))
    verify(api(demo.officer2), forms["far"])
    forms["near"] = issue(api(demo.clerk), SPLITTER, goods("Tea", "1", "300.00", "0.09", None))
    verify(api(demo.officer), forms["near"])
    # Beijing voids one of its two forms (minimum forms lowered to 2 for the demo)
    forms["v"] = issue(api(demo.clerk2), QUIET, goods("Vase", "1", "400.00", "0.13", "arts_crafts"))
    voided = api(demo.clerk2).post(
        f"/api/v1/forms/{forms['v']['number']}/void/", {"reason": "returned"}, format="json"
    )
    assert voided.status_code == 200
    RiskSignalRule.objects.filter(code="store_void_rate").update(parameter=Decimal("2"))
    return forms


def signals(reply):
    assert reply.status_code == 200, reply.json()
    return {s["code"]: s for s in reply.json()["signals"]}


def test_the_analyst_sees_every_planted_case_with_its_evidence(demo, api, planted):
    got = signals(api(demo.analyst).get(RISK))
    hopper = got["many_stores_one_day"]["cases"]
    assert len(hopper) == 1
    assert hopper[0]["subject"].startswith("Ivan Petrov (RU, ")
    assert "RU7654321" not in str(got)  # the document number only ever masked
    assert hopper[0]["stores"] == ["DEMO-BJ-001", "DEMO-SH-001", "SH-THIRD"]
    assert sorted(hopper[0]["forms"]) == sorted(planted[k]["number"] for k in ("h1", "h2", "h3"))

    split = got["just_under_threshold"]["cases"]
    assert [c["subject"].split(" (")[0] for c in split] == ["Kim Minsu"]
    assert sorted(split[0]["forms"]) == sorted(planted[k]["number"] for k in ("s1", "s2", "s3"))
    assert "9500.00, 9500.00, 9500.00" in split[0]["detail"]

    voids = got["store_void_rate"]["cases"]
    assert [(c["stores"], c["detail"]) for c in voids] == [
        (["DEMO-BJ-001"], "1 of 2 forms voided (50.0%)")
    ]

    far = got["far_port_fast"]["cases"]
    assert [(c["forms"], c["ports"]) for c in far] == [([planted["far"]["number"]], ["PEK"])]
    assert "verified at PEK (Beijing)" in far[0]["detail"]

    assert got["kiosk_form_locks"]["pending"] is False and got["kiosk_form_locks"]["cases"] == []
    assert AuthorityRead.objects.filter(what="risk", channel="api").count() == 1


def test_signals_never_refuse_anything(demo, api, planted):
    # the hopper buys at a fourth store the same day: issued as usual
    fourth: Any = StoreFactory(code="SH-FOURTH", city="Shanghai")
    form = issue(
        api(staff_user("clerk", fourth, username="clerk4")),
        HOPPER,
        goods("Pen", "1", "300.00", "0.13", None),
    )
    assert form["status"] == "issued"
    case = signals(api(demo.analyst).get(RISK))["many_stores_one_day"]["cases"][0]
    assert "SH-FOURTH" in case["stores"]


def test_thresholds_come_from_the_admin_rows(demo, api, planted):
    RiskSignalRule.objects.filter(code="many_stores_one_day").update(threshold=Decimal("4"))
    RiskSignalRule.objects.filter(code="far_port_fast").update(enabled=False)
    got = signals(api(demo.analyst).get(RISK))
    assert got["many_stores_one_day"]["cases"] == []
    assert got["far_port_fast"]["cases"] == [] and got["far_port_fast"]["enabled"] is False


def test_an_officer_sees_only_cases_at_their_port(demo, api, planted):
    at_pek = signals(api(demo.officer2).get(RISK))
    assert [c["forms"] for c in at_pek["far_port_fast"]["cases"]] == [[planted["far"]["number"]]]
    assert at_pek["many_stores_one_day"]["cases"] == []  # never presented at PEK
    at_pvg = signals(api(demo.officer).get(RISK))
    assert at_pvg["far_port_fast"]["cases"] == []
    for who in (demo.clerk, demo.agent):
        assert api(who).get(RISK).status_code == 403


def test_the_page_lists_cases_and_exports_them(demo, planted, client):
    client.force_login(demo.analyst)
    html = client.get("/authority/risk/").content.decode()
    assert "Ivan Petrov" in html and planted["far"]["number"] in html
    assert not re.findall(r"<script(?![^>]*\ssrc=)", html)  # no inline script (CSP)
    text = client.get("/authority/risk/", {"format": "csv"}).content.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "signal,date,subject,detail,forms,stores,ports"
    assert {line.split(",")[0] for line in lines[1:]} == {
        "many_stores_one_day",
        "just_under_threshold",
        "store_void_rate",
        "far_port_fast",
    }
    xlsx = client.get("/authority/risk/", {"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def _lock_through_the_kiosk(api, number: str, address: str) -> None:
    """Five wrong document numbers from one address: the kiosk locks the form number."""
    kiosk = api(None)
    for n in range(5):
        wrong = kiosk.post(
            "/api/v1/kiosk/lookup/",
            {"form": number, "document_number": f"Z{n}9999999"},
            format="json",
            REMOTE_ADDR=address,
        )
        assert wrong.status_code == 404
    locked = kiosk.post(
        "/api/v1/kiosk/lookup/",
        {"form": number, "document_number": "Z09999999"},
        format="json",
        REMOTE_ADDR=address,
    )
    assert locked.json()["code"] == "form_locked"
    cache.delete(f"kiosk:form-lock:{number}")  # the 15 minutes pass


def test_repeated_kiosk_locks_are_a_signal_with_their_evidence(demo, api, settings):
    settings.KIOSK_THROTTLE_RATE = "1000/min"
    form = issue(api(demo.clerk), QUIET, goods("Tea", "1", "300.00", "0.09", "tea_food"))
    verify(api(demo.officer2), form)
    once = issue(api(demo.clerk), SPLITTER, goods("Tea", "1", "300.00", "0.09", None))
    unknown = "1131" + "0" * 10 + "4"
    unknown += luhn.calc_check_digit(unknown)
    for address in ("198.51.100.7", "198.51.100.8"):
        _lock_through_the_kiosk(api, form["number"], address)
        _lock_through_the_kiosk(api, unknown, address)
    _lock_through_the_kiosk(api, once["number"], "198.51.100.7")  # once: under the threshold
    # the record keeps the evidence, never the address
    assert KioskFormLock.objects.count() == 5
    assert not KioskFormLock.objects.filter(client__contains="198.51").exists()
    assert KioskFormLock.objects.filter(number=form["number"], form__isnull=False).count() == 2

    got = signals(api(demo.analyst).get(RISK))["kiosk_form_locks"]
    cases = {case["detail"].split()[1]: case for case in got["cases"]}
    assert set(cases) == {form["number"], unknown}
    mine = cases[form["number"]]
    assert mine["subject"].startswith("Anna Schmidt (DE, ")
    assert "C01X00T47" not in str(got)  # the document number only ever masked
    assert mine["forms"] == [form["number"]]
    assert mine["stores"] == ["DEMO-SH-001"] and mine["ports"] == ["PEK"]
    assert "locked 2 times from 2 places" in mine["detail"]
    assert cases[unknown]["subject"] == f"no such form ({unknown})"
    assert cases[unknown]["forms"] == []

    # a higher threshold in the admin: nothing is listed
    RiskSignalRule.objects.filter(code="kiosk_form_locks").update(threshold=Decimal("3"))
    assert signals(api(demo.analyst).get(RISK))["kiosk_form_locks"]["cases"] == []
    RiskSignalRule.objects.filter(code="kiosk_form_locks").update(threshold=Decimal("2"))
    # customs of the port that verified it sees the case; the other port does not
    port_view = signals(api(demo.officer2).get(RISK))["kiosk_form_locks"]["cases"]
    assert [case["forms"] for case in port_view] == [[form["number"]]]
    assert signals(api(demo.officer).get(RISK))["kiosk_form_locks"]["cases"] == []

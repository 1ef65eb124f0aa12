"""The verification reply written by hand (issue 12) is the serializer's, field for field."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from customs.api.serializers import VerificationOut
from customs.models import RiskRule, Verification
from customs.selectors import verification_detail
from tests.customs.conftest import line_ids
from tests.factories import line, make_form, traveler

URL = "/api/v1/customs/verifications/"


def test_the_reply_is_what_the_serializer_gives(demo, api, issued):
    # Given forms that verify fully, partly, not at all (traveler not matching), with
    # warnings, and one drawn by a risk rule (red lane, the rule named in the reply)
    RiskRule.objects.create(port=demo.port, name="Watches", kind="item_keyword", values="watch")
    day = timezone.localdate()
    full = issued(line(unit_price="300.00"), line(item="Scarf", unit_price="500.00"))
    partial = issued(line(quantity="3", unit_price="100.00"), line(item="Tea"))
    rejected = issued()
    warned = make_form(
        demo.store_sh,
        demo.clerk,
        line(),
        who=traveler(last_entry_date=day - timedelta(days=185)),
        issued_on=day - timedelta(days=100),
    )
    ruled = issued(line(item="Swiss watch", unit_price="2000.00"))
    bodies = [
        {"form": full.number, "qr": full.qr_payload, "flight": "mu501"},
        {
            "form": partial.number,
            "qr": partial.qr_payload,
            "lines": [{"id": line_ids(partial)[0], "quantity_presented": "1.50"}],
        },
        {"form": rejected.number, "qr": rejected.qr_payload, "traveler_matches": False},
        {"form": warned.number, "qr": warned.qr_payload},
        {"form": ruled.number, "qr": ruled.qr_payload},
    ]
    client = api(demo.officer)
    results = []
    for body in bodies:
        # When each is verified through the API
        reply = client.post(URL, {**body, "departure_date": day.isoformat()}, format="json")
        assert reply.status_code == 201, reply.json()
        # Then the reply is exactly VerificationOut over the stored verification
        stored = verification_detail(pk=Verification.objects.get(form__number=body["form"]).pk)
        expected = json.loads(json.dumps(VerificationOut(stored).data))
        assert reply.json() == expected
        results.append(reply.json())
    assert [r["result"] for r in results] == [
        "verified",
        "partially_verified",
        "rejected",
        "verified",
        "verified",
    ]
    assert results[1]["verified_total"] == "350.00"  # 1.5 x 100.00 + the tea (200.00)
    assert results[3]["warnings"] and results[4]["inspection"]["rule"] == "Watches"

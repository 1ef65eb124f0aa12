"""Inspection selection: threshold, seeded random sample, risk rules; decided once, exposed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.models import LedgerEntry
from customs.exceptions import InspectionRequired
from customs.models import InspectionDecision, InspectionPolicy, RiskRule, VerificationAttempt
from customs.rules import sample_draw
from customs.selectors import inspection_for, inspection_queue
from customs.services import inspection_decide, verification_create
from tests.customs.conftest import SEED, new_port
from tests.factories import line, make_form, traveler


def decide(form, demo):
    return inspection_decide(form=form, port=demo.port)


def test_at_the_threshold_the_form_is_inspected_item_by_item(demo, issued):
    at = issued(line(quantity="10", unit_price="1000.00"))
    below = issued(line(quantity="1", unit_price="9999.99"))
    decision = decide(at, demo)
    assert (decision.selected, decision.reason, decision.lane) == (True, "threshold", "red")
    assert "10,000.00" in decision.detail or "10000.00" in decision.detail
    assert decide(below, demo).reason == "not_selected"
    assert decide(below, demo).lane == "green"


def test_threshold_is_configurable_per_port(demo, issued, pvg_policy):
    pvg_policy.threshold = Decimal("500.00")
    pvg_policy.save()
    form = issued(line(unit_price="600.00"))
    assert decide(form, demo).reason == "threshold"
    other = new_port("CAN", "44")
    # another port keeps the default 10,000 threshold
    second = issued(line(unit_price="600.00"))
    assert inspection_decide(form=second, port=other).reason != "threshold"


def test_the_random_draw_is_derived_from_the_seed_and_the_form_number():
    assert sample_draw("s", "3126000000000017") == sample_draw("s", "3126000000000017")
    assert sample_draw("s", "3126000000000017") != sample_draw("t", "3126000000000017")
    draws = [sample_draw("seed-a", f"31260000{n:08d}") for n in range(4000)]
    assert all(Decimal(0) <= d < 1 for d in draws)
    share = sum(1 for d in draws if d < Decimal("0.10")) / len(draws)
    assert 0.08 < share < 0.12  # seeded, so the same share every run


def test_random_sample_selects_exactly_the_forms_whose_draw_is_under_the_rate(demo, issued):
    InspectionPolicy.objects.filter(port=demo.port).update(sample_rate=Decimal("0.5"))
    forms = [issued() for _ in range(12)]
    decisions = [decide(form, demo) for form in forms]
    for form, decision in zip(forms, decisions, strict=True):
        expected = sample_draw(SEED, form.number) < Decimal("0.5")
        assert decision.selected is expected
        assert decision.reason == ("random_sample" if expected else "not_selected")
        assert decision.draw == sample_draw(SEED, form.number)
    assert {d.selected for d in decisions} == {True, False}


def test_rate_one_samples_everything_and_zero_nothing(demo, issued):
    InspectionPolicy.objects.filter(port=demo.port).update(sample_rate=Decimal("1"))
    assert decide(issued(), demo).reason == "random_sample"
    InspectionPolicy.objects.filter(port=demo.port).update(sample_rate=Decimal("0"))
    assert decide(issued(), demo).reason == "not_selected"


def test_decided_once_and_then_always_the_same(demo, issued):
    form = issued()
    first = decide(form, demo)
    # the rules change afterwards...
    InspectionPolicy.objects.filter(port=demo.port).update(threshold=Decimal("1.00"))
    again = decide(form, demo)
    # ...the form keeps its decision
    assert again.pk == first.pk and again.reason == "not_selected"
    assert InspectionDecision.objects.filter(form=form).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        InspectionDecision.objects.create(
            form=form,
            port=demo.port,
            selected=False,
            reason="not_selected",
            detail="x",
            draw=0,
            threshold=1,
            sample_rate=0,
            decided_at=timezone.now(),
        )
    entries = LedgerEntry.objects.filter(action="inspection_decided", record_id=str(first.pk))
    assert entries.count() == 1


def test_a_port_without_a_policy_gets_the_defaults(demo):
    port = new_port("XMN", "35")
    form = make_form(demo.store_sh, demo.clerk, line(quantity="10", unit_price="1000.00"))
    decision = inspection_decide(form=form, port=port)
    policy = InspectionPolicy.objects.get(port=port)
    assert (policy.threshold, policy.sample_rate) == (Decimal("10000.00"), Decimal("0.1000"))
    assert len(policy.seed) == 32
    assert decision.reason == "threshold"


# --- Risk rules ----------------------------------------------------------------------


def rule(demo, kind, name="Rule", amount=None, values="", port="pvg", **extra):
    return RiskRule.objects.create(
        port=demo.port if port == "pvg" else port,
        name=name,
        kind=kind,
        amount=amount,
        values=values,
        **extra,
    )


def test_item_keyword_rule_forces_inspection(demo, issued):
    rule(demo, "item_keyword", "High-value categories", values="手表, watch\ngold")
    watch = issued(line(item="Swiss WATCH 手表"))
    scarf = issued(line(item="Silk scarf"))
    decision = decide(watch, demo)
    assert (decision.selected, decision.reason) == (True, "risk_rule")
    assert decision.rule.name == "High-value categories"
    assert "watch" in decision.detail.lower()
    assert decide(scarf, demo).selected is False


def test_nationality_rule(demo, issued):
    rule(
        demo, "nationality", "Listed nationalities", values="RU\uff0cUS"
    )  # a full-width comma, as typed in Chinese
    assert decide(issued(who=traveler(nationality="US", document_number="US1")), demo).selected
    assert not decide(issued(who=traveler(nationality="FR", document_number="FR1")), demo).selected


def test_store_rule(demo, issued):
    rule(demo, "store", "Watched store", values="demo-sh-001")
    assert decide(issued(), demo).reason == "risk_rule"


def test_line_total_rule(demo, issued):
    rule(demo, "line_total", "Expensive line", amount=Decimal("5000"))
    assert decide(issued(line(unit_price="5000.00")), demo).reason == "risk_rule"
    assert decide(issued(line(unit_price="4999.99")), demo).reason == "not_selected"


def test_many_forms_for_one_document_in_a_day(demo, issued):
    rule(demo, "forms_per_document_day", "Many forms one day", amount=Decimal("3"))
    # the first form, looked up alone, is not flagged (and keeps that decision)
    first = issued()
    assert decide(first, demo).reason == "not_selected"
    _second, third = issued(), issued()
    other_traveler = issued(who=traveler(document_number="ZZ999999"))
    assert decide(third, demo).reason == "risk_rule"
    assert decide(first, demo).reason == "not_selected"
    assert "3 forms" in decide(third, demo).detail
    assert decide(other_traveler, demo).reason == "not_selected"


def test_splitting_under_the_threshold_is_caught_by_the_open_total_rule(demo, issued):
    rule(demo, "document_open_total", "Open total", amount=Decimal("10000"))
    forms = [issued(line(quantity="1", unit_price="5000.00")) for _ in range(2)]
    assert decide(forms[1], demo).reason == "risk_rule"


def test_inactive_and_other_ports_rules_do_not_apply(demo, issued):
    rule(demo, "store", "Inactive", values="DEMO-SH-001", active=False)
    rule(demo, "store", "Elsewhere", values="DEMO-SH-001", port=new_port("CTU"))
    assert decide(issued(), demo).reason == "not_selected"
    rule(demo, "store", "Everywhere", values="DEMO-SH-001", port=None)
    assert decide(issued(), demo).reason == "risk_rule"


def test_threshold_is_reported_before_risk_rules(demo, issued):
    rule(demo, "store", "Watched store", values="DEMO-SH-001")
    assert decide(issued(line(unit_price="12000.00")), demo).reason == "threshold"


def test_a_rule_needs_its_parameter(demo):
    with pytest.raises(ValidationError):
        RiskRule(port=demo.port, name="x", kind="line_total").full_clean()
    with pytest.raises(ValidationError):
        RiskRule(port=demo.port, name="x", kind="item_keyword", values=" , ").full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        RiskRule.objects.create(port=demo.port, name="x", kind="nationality", values="")


# --- Exposure --------------------------------------------------------------------------


def test_the_form_customs_view_shows_the_decision(demo, api, issued):
    form = issued(line(unit_price="10000.00"))
    reply = api(demo.officer).get(f"/api/v1/customs/forms/{form.qr_payload}/")
    assert reply.status_code == 200
    inspection = reply.json()["inspection"]
    assert (inspection["selected"], inspection["lane"], inspection["reason"]) == (
        True,
        "red",
        "threshold",
    )
    decision = inspection_for(form)
    assert decision is not None and decision.selected is True
    assert [d.form_id for d in inspection_queue(port=demo.port)] == [form.pk]
    # the queue through the API
    queue = api(demo.officer).get("/api/v1/customs/inspections/").json()["results"]
    assert [row["form"] for row in queue] == [form.number]


def test_verified_forms_leave_the_inspection_queue(demo, api, issued):
    form = issued(line(unit_price="10000.00"))
    verification_create(
        port=demo.port,
        officer=demo.officer,
        form_number=form.number,
        departure_date=timezone.localdate(),
    )
    decision = inspection_for(form)
    assert decision is not None and decision.reason == "threshold"  # decided at verification
    assert not inspection_queue(port=demo.port).exists()


def test_the_kiosk_green_lane_refuses_forms_selected_for_inspection(demo, issued):
    red = issued(line(unit_price="10000.00"))
    green = issued()
    with pytest.raises(InspectionRequired):
        verification_create(
            port=demo.port,
            officer=None,
            form_number=red.number,
            departure_date=timezone.localdate(),
            channel="kiosk",
        )
    red.refresh_from_db()
    assert red.status == "issued"
    decision = inspection_for(red)
    assert decision is not None and decision.selected  # the decision stays recorded
    assert VerificationAttempt.objects.filter(code="inspection_required", channel="kiosk")
    verification = verification_create(
        port=demo.port,
        officer=None,
        form_number=green.number,
        departure_date=timezone.localdate(),
        channel="kiosk",
    )
    assert (verification.result, verification.channel) == ("verified", "kiosk")

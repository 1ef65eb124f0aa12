"""The rules engine against SPEC §2 and the FAQ's worked examples (pure: no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core import rules
from core.rules import (
    AgencyFacts,
    Dated,
    InvoiceFacts,
    LineFacts,
    NoPolicyInForce,
    Policy,
    TravelerFacts,
    agency_checks,
    compute_refund,
    form_violations,
    in_force,
    payout_allowed,
)

D = Decimal

# The three policy periods of SPEC §2, as the data migration seeds them.
P2015 = Policy(
    effective_from=date(2015, 1, 1),
    minimum_amount=D("500.00"),
    cash_cap=D("10000.00"),
    refund_rates={
        D("0.17"): D("0.11"),
        D("0.16"): D("0.11"),
        D("0.11"): D("0.11"),
        D("0.10"): D("0.11"),
    },
)
P2019 = Policy(
    effective_from=date(2019, 4, 1),
    minimum_amount=D("500.00"),
    cash_cap=D("10000.00"),
    refund_rates={D("0.13"): D("0.11"), D("0.09"): D("0.08")},
)
P2025 = Policy(
    effective_from=date(2025, 4, 27),
    minimum_amount=D("200.00"),
    cash_cap=D("20000.00"),
    refund_rates={D("0.13"): D("0.11"), D("0.09"): D("0.08")},
)
POLICIES = [P2025, P2015, P2019]  # order must not matter
FEE = D("0.02")
ZERO = D("0")


# --- Computation (FAQ Q36, SPEC worked examples) ---------------------------------------


@pytest.mark.parametrize(
    ("total", "vat_rate", "policy", "refundable", "fee", "net"),
    [
        # SPEC: RMB 200 at 13% -> 22.00 - 4.00 = 18.00
        ("200.00", "0.13", P2025, "22.00", "4.00", "18.00"),
        # SPEC: RMB 3,600 at 13% -> 396.00 - 72.00 = 324.00
        ("3600.00", "0.13", P2025, "396.00", "72.00", "324.00"),
        # 9% VAT goods are refunded at 8%: 1,000 -> 80.00 - 20.00 = 60.00
        ("1000.00", "0.09", P2019, "80.00", "20.00", "60.00"),
        ("1000.00", "0.09", P2025, "80.00", "20.00", "60.00"),
        # 2015 policy: 11% flat whatever the VAT rate of the day
        ("1000.00", "0.17", P2015, "110.00", "20.00", "90.00"),
        ("1000.00", "0.16", P2015, "110.00", "20.00", "90.00"),
        ("1000.00", "0.10", P2015, "110.00", "20.00", "90.00"),
        ("1000.00", "0.11", P2015, "110.00", "20.00", "90.00"),
        # half-up at the cent: 333.33 x 11% = 36.6663 -> 36.67; x 2% = 6.6666 -> 6.67
        ("333.33", "0.13", P2025, "36.67", "6.67", "30.00"),
        # exact half cent rounds up: 0.50 x 11% = 0.055 -> 0.06; 0.25 x 2% = 0.005 -> 0.01
        ("0.50", "0.13", P2025, "0.06", "0.01", "0.05"),
    ],
)
def test_computation_worked_examples(total, vat_rate, policy, refundable, fee, net):
    result = compute_refund(
        [LineFacts(vat_rate=D(vat_rate), total=D(total))], policy=policy, fee_rate=FEE
    )
    assert (result.refundable, result.fee, result.net) == (D(refundable), D(fee), D(net))
    assert result.total == D(total)


def test_computation_groups_by_vat_rate_and_rounds_each_group():
    # given two 13% lines and one 9% line
    lines = [
        LineFacts(vat_rate=D("0.13"), total=D("100.05")),
        LineFacts(vat_rate=D("0.130"), total=D("100.05")),  # same rate written differently
        LineFacts(vat_rate=D("0.09"), total=D("50.05")),
    ]
    result = compute_refund(lines, policy=P2025, fee_rate=FEE)
    # then one group per VAT rate, highest first, each rounded on its own
    assert [(g.vat_rate, g.refund_rate, g.total) for g in result.groups] == [
        (D("0.13"), D("0.11"), D("200.10")),
        (D("0.09"), D("0.08"), D("50.05")),
    ]
    assert result.groups[0].refundable == D("22.01")  # 200.10 x 11% = 22.011
    assert result.groups[0].fee == D("4.00")  # 200.10 x 2% = 4.002
    assert result.groups[1].refundable == D("4.00")  # 50.05 x 8% = 4.004
    assert result.groups[1].fee == D("1.00")  # 50.05 x 2% = 1.001
    assert (result.total, result.refundable, result.fee, result.net) == (
        D("250.15"),
        D("26.01"),
        D("5.00"),
        D("21.01"),
    )


def test_computation_refuses_a_rate_without_refund_rate():
    with pytest.raises(ValueError, match="no refund rate"):
        compute_refund([LineFacts(vat_rate=D("0.06"), total=D("100"))], policy=P2025, fee_rate=FEE)


def test_fee_rate_is_a_parameter():
    result = compute_refund(
        [LineFacts(vat_rate=D("0.13"), total=D("1000"))], policy=P2025, fee_rate=D("0.015")
    )
    assert (result.refundable, result.fee, result.net) == (D("110.00"), D("15.00"), D("95.00"))


# --- Policy in force ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2015, 1, 1), P2015),
        (date(2019, 3, 31), P2015),
        (date(2019, 4, 1), P2019),
        (date(2025, 4, 26), P2019),
        (date(2025, 4, 27), P2025),
        (date(2031, 1, 1), P2025),
    ],
)
def test_policy_picked_by_date_at_each_boundary(day, expected):
    assert in_force(POLICIES, day) == expected


def test_nothing_in_force_before_the_first_policy():
    with pytest.raises(NoPolicyInForce):
        in_force(POLICIES, date(2014, 12, 31))


def test_in_force_works_for_dated_values():
    rows = [Dated(date(2015, 1, 1), D("0.02")), Dated(date(2026, 1, 1), D("0.015"))]
    assert in_force(rows, date(2025, 12, 31)).value == D("0.02")
    assert in_force(rows, date(2026, 1, 1)).value == D("0.015")


def test_refund_rate_lookup_ignores_trailing_zeros():
    assert P2025.refund_rate_for(D("0.1300")) == D("0.11")
    assert P2025.refund_rate_for(D("0.09")) == D("0.08")
    assert P2025.refund_rate_for(D("0.06")) is None
    assert P2015.refund_rate_for(D("0.1")) == D("0.11")


# --- Payout -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "net", "policy", "mailbox", "allowed"),
    [
        ("cash", "10000.00", P2019, False, True),
        ("cash", "10000.01", P2019, False, False),
        ("cash", "10000.01", P2025, False, True),
        ("cash", "20000.00", P2025, False, True),
        ("cash", "20000.01", P2025, False, False),
        ("cash", "10.00", P2025, True, False),  # mailbox: transfer only
        ("bank_card", "20000.01", P2025, False, True),
        ("alipay", "50000.00", P2025, True, True),
        ("wechat", "1.00", P2025, False, True),
        ("cheque", "1.00", P2025, False, False),
    ],
)
def test_payout_allowed_by_cash_cap(method, net, policy, mailbox, allowed):
    assert (
        payout_allowed(method=method, net_refund=D(net), cash_cap=policy.cash_cap, mailbox=mailbox)
        is allowed
    )


# --- Form violations (Measures art. 10) ---------------------------------------------

ENTRY = date(2025, 6, 1)
TRAVELER = TravelerFacts(document_type="passport", nationality="FR", last_entry_date=ENTRY)


def invoice(
    number: str = "25312000000000000001",
    issued_on: date = date(2025, 6, 10),
    total: str = "200.00",
    vat_rate: str = "0.13",
    store_id: int = 1,
    **extra: bool,
) -> InvoiceFacts:
    return InvoiceFacts(
        number=number,
        issued_on=issued_on,
        lines=[LineFacts(vat_rate=D(vat_rate), total=D(total), item="丝巾")],
        store_id=store_id,
        **extra,
    )


def codes(traveler=TRAVELER, invoices=None, policy=P2025, earlier=ZERO) -> list[str]:
    found = form_violations(
        traveler=traveler,
        invoices=invoices if invoices is not None else [invoice()],
        policy=policy,
        earlier_same_day_total=earlier,
    )
    return [v.code for v in found]


def test_a_valid_form_has_no_violations():
    assert codes() == []


@pytest.mark.parametrize(
    ("document_type", "nationality", "entry"),
    [
        ("passport", "CN", ENTRY),  # mainland resident
        ("passport", "cn", ENTRY),
        ("identity_card", "FR", ENTRY),  # not a valid document
        ("hk_macao_permit", "FR", ENTRY),  # permit of someone it is not issued to
        ("taiwan_permit", "HK", ENTRY),
        ("passport", "FR", None),  # last entry date unknown
    ],
)
def test_traveler_not_eligible(document_type, nationality, entry):
    traveler = TravelerFacts(
        document_type=document_type, nationality=nationality, last_entry_date=entry
    )
    assert codes(traveler=traveler) == ["traveler_not_eligible"]


@pytest.mark.parametrize(
    ("document_type", "nationality"),
    [
        ("hk_macao_permit", "HK"),
        ("hk_macao_permit", "MO"),
        ("taiwan_permit", "TW"),
        ("passport", "JP"),
    ],
)
def test_eligible_documents(document_type, nationality):
    traveler = TravelerFacts(
        document_type=document_type, nationality=nationality, last_entry_date=ENTRY
    )
    assert codes(traveler=traveler) == []


def test_invoice_already_used_or_reversed():
    assert codes(invoices=[invoice(already_used=True)]) == ["invoice_already_used"]
    assert codes(invoices=[invoice(reversed=True)]) == ["invoice_already_used"]


def test_invoices_from_two_stores_or_days():
    other_store = invoice(number="25312000000000000002", store_id=2)
    other_day = invoice(number="25312000000000000003", issued_on=date(2025, 6, 11))
    assert codes(invoices=[invoice(), other_store]) == ["invoices_not_same_store_day"]
    assert "invoices_not_same_store_day" in codes(invoices=[invoice(), other_day])


def test_invoice_before_entry():
    assert codes(invoices=[invoice(issued_on=ENTRY - timedelta(days=1))]) == [
        "invoice_before_entry"
    ]
    assert codes(invoices=[invoice(issued_on=ENTRY)]) == []


@pytest.mark.parametrize(("days", "expected"), [(183, []), (184, ["stay_over_183_days"])])
def test_purchase_at_most_183_days_after_entry(days, expected):
    assert codes(invoices=[invoice(issued_on=ENTRY + timedelta(days=days))]) == expected


@pytest.mark.parametrize(
    ("vat_rate", "policy", "expected"),
    [
        ("0.06", P2025, ["goods_not_eligible"]),  # services rate: no refund rate
        ("0", P2025, ["goods_not_eligible"]),  # VAT-exempt goods
        ("0.17", P2025, ["goods_not_eligible"]),  # old rate under the new policy
        ("0.13", P2015, ["goods_not_eligible"]),
        ("0.09", P2025, []),
        ("0.17", P2015, []),
    ],
)
def test_goods_not_eligible(vat_rate, policy, expected):
    day = policy.effective_from + timedelta(days=5)
    traveler = replace(TRAVELER, last_entry_date=day)
    found = codes(
        traveler=traveler,
        invoices=[invoice(issued_on=day, vat_rate=vat_rate, total="900")],
        policy=policy,
    )
    assert found == expected


def test_goods_not_eligible_names_the_item():
    found = form_violations(
        traveler=TRAVELER, invoices=[invoice(vat_rate="0.06", total="900")], policy=P2025
    )
    assert found[0].extra == {"invoice": "25312000000000000001", "item": "丝巾", "vat_rate": "0.06"}


@pytest.mark.parametrize(
    ("policy", "total", "earlier", "expected"),
    [
        (P2025, "200.00", "0", []),
        (P2025, "199.99", "0", ["below_minimum"]),
        (P2025, "150.00", "50.00", []),  # earlier forms that day count toward the minimum
        (P2025, "150.00", "49.99", ["below_minimum"]),
        (P2019, "500.00", "0", []),
        (P2019, "499.99", "0", ["below_minimum"]),
        (P2019, "200.00", "0", ["below_minimum"]),  # 200 was not enough before 2025-04-27
    ],
)
def test_minimum_per_store_per_day(policy, total, earlier, expected):
    day = policy.effective_from + timedelta(days=3)
    traveler = replace(TRAVELER, last_entry_date=day)
    found = codes(
        traveler=traveler,
        invoices=[invoice(issued_on=day, total=total)],
        policy=policy,
        earlier=D(earlier),
    )
    assert found == expected


def test_below_minimum_reports_the_day_total_and_minimum():
    found = form_violations(traveler=TRAVELER, invoices=[invoice(total="120.5")], policy=P2025)
    assert found[0].code == "below_minimum"
    assert found[0].extra == {"day_total": "120.50", "minimum": "200.00"}


def test_traveler_failure_is_reported_alone():
    # an ineligible traveler is the most basic failure; the invoices are not looked at
    traveler = replace(TRAVELER, nationality="CN")
    assert codes(traveler=traveler, invoices=[invoice(total="1", already_used=True)]) == [
        "traveler_not_eligible"
    ]


def test_every_violation_of_a_form_is_listed():
    bad = [
        invoice(issued_on=ENTRY - timedelta(days=2), vat_rate="0.06", total="10", already_used=True)
    ]
    assert codes(invoices=bad) == [
        "invoice_already_used",
        "invoice_before_entry",
        "goods_not_eligible",
        "below_minimum",
    ]


# --- Agency checks A-F (FAQ Q37(3)) ---------------------------------------------------

DEPARTURE = date(2025, 9, 1)
GOOD = AgencyFacts(
    missing_fields=(),
    document_type_matches=True,
    document_number_matches=True,
    customs_verified=True,
    customs_signature_valid=True,
    departure_date=DEPARTURE,
    last_entry_date=DEPARTURE - timedelta(days=30),
    purchase_dates=(DEPARTURE - timedelta(days=10),),
    qr_signature_valid=True,
    qr_digest_matches=True,
    voided=False,
    already_refunded=False,
)


def outcome(facts: AgencyFacts) -> dict[str, bool]:
    return {check.code: check.passed for check in agency_checks(facts)}


def failed(facts: AgencyFacts) -> list[str]:
    return [code for code, passed in outcome(facts).items() if not passed]


def test_all_checks_pass_in_letter_order():
    checks = agency_checks(GOOD)
    assert [c.code for c in checks] == ["A", "B", "C", "D", "E", "F"]
    assert all(c.passed for c in checks)
    assert checks[0].as_dict() == {"code": "A", "passed": True, "detail": checks[0].detail}


@pytest.mark.parametrize(
    ("change", "letter"),
    [
        ({"missing_fields": ("nationality",)}, "A"),
        ({"document_type_matches": False}, "B"),
        ({"document_number_matches": False}, "B"),
        ({"customs_verified": False}, "C"),
        ({"customs_signature_valid": False}, "C"),
        ({"qr_signature_valid": False}, "F"),
        ({"qr_digest_matches": False}, "F"),
        ({"voided": True}, "F"),
        ({"already_refunded": True}, "F"),
    ],
)
def test_each_check_fails_alone(change, letter):
    assert failed(replace(GOOD, **change)) == [letter]


def test_failure_details_say_what_is_wrong():
    details = {
        c.code: c.detail for c in agency_checks(replace(GOOD, missing_fields=("name", "store")))
    }
    assert details["A"] == "Missing: name, store."
    b = {c.code: c.detail for c in agency_checks(replace(GOOD, document_number_matches=False))}
    assert "(number)" in b["B"]
    f = {
        c.code: c.detail for c in agency_checks(replace(GOOD, voided=True, qr_digest_matches=False))
    }
    assert "voided" in f["F"] and "does not match the record" in f["F"]


@pytest.mark.parametrize(("days", "passed"), [(183, True), (184, False)])
def test_check_d_departure_at_most_183_days_after_entry(days, passed):
    facts = replace(GOOD, last_entry_date=DEPARTURE - timedelta(days=days))
    assert outcome(facts)["D"] is passed
    assert failed(facts) == ([] if passed else ["D"])


@pytest.mark.parametrize(("days", "passed"), [(90, True), (91, False)])
def test_check_e_purchase_at_most_90_days_before_departure(days, passed):
    facts = replace(GOOD, purchase_dates=(DEPARTURE - timedelta(days=days),))
    assert outcome(facts)["E"] is passed
    assert failed(facts) == ([] if passed else ["E"])


def test_check_e_uses_the_oldest_purchase():
    facts = replace(
        GOOD, purchase_dates=(DEPARTURE - timedelta(days=5), DEPARTURE - timedelta(days=91))
    )
    assert failed(facts) == ["E"]


def test_no_departure_date_fails_d_and_e():
    assert failed(replace(GOOD, departure_date=None, customs_verified=False)) == ["C", "D", "E"]


def test_rules_module_is_pure():
    # the engine never reaches for the database: it imports neither Django nor models
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(rules))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in imported if m.startswith(("django", "core.models", "core.selectors"))}

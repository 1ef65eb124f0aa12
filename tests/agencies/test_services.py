"""refund_pay against the database: checks A-F, amounts on verified goods, payout rules, ledger."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from agencies.exceptions import (
    AlreadyRefunded,
    CashLimitExceeded,
    ChecksFailed,
    InvalidCardNumber,
    InvalidPayoutAccount,
    InvalidPayoutMethod,
    InvalidQr,
    MailboxTransferOnly,
    NothingToRefund,
)
from agencies.models import Refund, RefundAttempt, SandboxTransfer
from agencies.services import payout_choice_parse, refund_check, refund_handover, refund_pay
from core.ledger import ledger_verify, record_history
from core.models import LedgerEntry
from core.signing import make_form_qr
from customs.models import Verification
from stores.exceptions import FormNotFound
from stores.models import FormPresentation, RefundForm
from stores.services import business_today
from tests.agencies.conftest import DOCUMENT, GOOD_CARD, verify
from tests.factories import line, make_form, traveler


def pay(form: RefundForm, demo: Any, **overrides: Any) -> Refund:
    """refund_pay with the presented form's own QR and document, by bank card unless told."""
    kwargs: dict[str, Any] = {
        "form_number": form.number,
        "qr": form.qr_payload,
        "document_number": DOCUMENT,
        "payout_method": "bank_card",
        "payout_account": GOOD_CARD,
        "agent": demo.agent,
        "agency": demo.agency,
    }
    kwargs.update(overrides)
    return refund_pay(**kwargs)


def snapshot() -> tuple[int, int, int, int]:
    return (
        Refund.objects.count(),
        RefundAttempt.objects.count(),
        SandboxTransfer.objects.count(),
        LedgerEntry.objects.count(),
    )


def failing(error: pytest.ExceptionInfo[ChecksFailed]) -> list[str]:
    return [c["code"] for c in error.value.extra["checks"] if not c["passed"]]


# --- Amounts (FAQ Q36) ----------------------------------------------------------------


def test_worked_example_3600_at_13_percent_pays_324(demo, verified_form):
    # given RMB 3,600 at 13% VAT, verified in full
    form = verified_form(line(unit_price="3600.00"))
    # when the agent pays it to a bank card
    refund = pay(form, demo)
    # then 396.00 - 72.00 = 324.00 is paid, and the form is refunded
    assert refund.status == "paid"
    assert (refund.refundable_vat, refund.fee, refund.net_refund) == (
        Decimal("396.00"),
        Decimal("72.00"),
        Decimal("324.00"),
    )
    assert refund.payout_account_masked == "6222 **** **** 1234"
    assert refund.payout_reference.startswith("SBX-")
    form.refresh_from_db()
    assert form.status == "refunded"
    assert [c["code"] for c in refund.checks if c["passed"]] == ["A", "B", "C", "D", "E", "F"]


def test_partial_verification_pays_on_the_verified_quantities(demo, verified_form):
    # given 2 x 1,800 at 13% and 1 x 1,000 at 9%, of which customs saw 1 scarf and the tea
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line("丝巾 Silk scarf", quantity="2", unit_price="1800.00", vat_rate="0.13"),
        line("茶叶 Tea", quantity="1", unit_price="1000.00", vat_rate="0.09"),
    )
    scarf = form.lines.get(position=1)
    form = verify(form, demo, quantities={scarf.pk: Decimal("1")})
    assert form.status == "partially_verified"
    # when paid
    refund = pay(form, demo, payout_method="cash", payout_account="")
    # then 13%: 1800 x 11% = 198.00, fee 36.00; 9%: 1000 x 8% = 80.00, fee 20.00
    assert refund.verified_total == Decimal("2800.00")
    assert (refund.refundable_vat, refund.fee, refund.net_refund) == (
        Decimal("278.00"),
        Decimal("56.00"),
        Decimal("222.00"),
    )
    assert {g["vat_rate"]: g["net"] for g in refund.groups} == {"0.13": "162.00", "0.09": "60.00"}
    # and not the form's unverified amounts
    assert form.net_refund != refund.net_refund


def test_fee_rate_in_force_on_the_refund_date_applies(demo, verified_form):
    # given the agency raised its fee to 3% from today (form was issued at 2%)
    form = verified_form(line(unit_price="1000.00"))
    demo.agency.fee_rates.create(effective_from=business_today(), rate=Decimal("0.03"))
    refund = pay(form, demo)
    assert refund.fee_rate == Decimal("0.0300")
    assert (refund.refundable_vat, refund.fee, refund.net_refund) == (
        Decimal("110.00"),
        Decimal("30.00"),
        Decimal("80.00"),
    )


# --- Checks A-F, each failing alone --------------------------------------------------


def test_all_checks_pass_in_check_only_mode_without_writing(demo, verified_form):
    form = verified_form()
    before = snapshot()
    assessment = refund_check(
        form_number=form.number, qr=form.qr_payload, document_number=DOCUMENT, agency=demo.agency
    )
    assert assessment.passed
    assert assessment.amounts()["net_refund"] == "18.00"
    assert snapshot() == before


def test_check_a_fails_alone_when_the_record_is_incomplete(demo, verified_form):
    # the store's taxpayer id is printed on the form but not part of its signed digest
    form = verified_form()
    type(demo.store_sh).objects.filter(pk=demo.store_sh.pk).update(taxpayer_id="")
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo)
    assert failing(error) == ["A"]
    assert error.value.extra["checks"][0]["detail"] == "Missing: store_taxpayer_id."


def test_check_b_fails_alone_on_another_document_number(demo, verified_form):
    form = verified_form()
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo, document_number="E99999999")
    assert failing(error) == ["B"]
    assert "(number)" in error.value.extra["checks"][1]["detail"]


def test_check_b_fails_alone_on_another_document_type(demo, verified_form):
    form = verified_form()
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo, document_type="hk_macao_permit")
    assert failing(error) == ["B"]
    assert "(type)" in error.value.extra["checks"][1]["detail"]


def test_document_number_matches_whatever_the_spacing_and_case(demo, verified_form):
    form = verified_form()
    refund = pay(form, demo, document_number=" 18ab-12345 ", document_type="passport")
    assert refund.status == "paid"


def test_check_c_fails_alone_when_the_stamp_signature_is_forged(demo, verified_form):
    form = verified_form()
    forged = "A" * 86 + "=="
    Verification.objects.filter(form=form).update(stamp_signature=forged)
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo)
    assert failing(error) == ["C"]
    assert "signature is not valid" in error.value.extra["checks"][2]["detail"]


def test_unverified_form_fails_c_d_and_e(demo):
    form = make_form(demo.store_sh, demo.clerk)
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo)
    assert failing(error) == ["C", "D", "E"]
    assert error.value.extra["checks"][2]["detail"] == "Customs has not verified this form."


def test_check_d_fails_alone_when_departure_is_184_days_after_entry(demo):
    today = business_today()
    who = traveler(last_entry_date=today - timedelta(days=184))
    form = make_form(demo.store_sh, demo.clerk, who=who, issued_on=today - timedelta(days=1))
    form = verify(form, demo, departure=today)
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo)
    assert failing(error) == ["D"]
    assert "184 days" in error.value.extra["checks"][3]["detail"]


def test_check_e_fails_alone_when_purchase_is_91_days_before_departure(demo):
    today = business_today()
    who = traveler(last_entry_date=today - timedelta(days=100))
    form = make_form(demo.store_sh, demo.clerk, who=who, issued_on=today - timedelta(days=91))
    form = verify(form, demo, departure=today)
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo)
    assert failing(error) == ["E"]
    assert "91 days" in error.value.extra["checks"][4]["detail"]


def test_check_f_fails_alone_on_the_qr_of_another_form(demo, verified_form):
    form = verified_form()
    other = make_form(demo.store_sh, demo.clerk)
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo, qr=other.qr_payload)
    assert failing(error) == ["F"]
    assert "QR signature" in error.value.extra["checks"][5]["detail"]


def test_check_f_fails_alone_on_a_forged_qr_signature(demo, verified_form):
    form = verified_form()
    # the last Base32 character carries signature bits: change it and the signature breaks
    last = form.qr_payload[-1]
    forged = form.qr_payload[:-1] + ("A" if last != "A" else "B")
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo, qr=forged)
    assert failing(error) == ["F"]
    assert "QR signature is not valid" in error.value.extra["checks"][5]["detail"]


def test_check_f_fails_alone_on_a_qr_signed_over_other_content(demo, verified_form):
    form = verified_form()
    stale = make_form_qr(form.number, "00" * 32)
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo, qr=stale)
    assert failing(error) == ["F"]
    assert "does not match the record" in error.value.extra["checks"][5]["detail"]


def test_check_f_fails_alone_when_the_record_was_altered(demo, verified_form):
    # given someone edited a goods line in the database after the QR was signed
    form = verified_form()
    form.lines.update(item="Gold bar")
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo)
    assert failing(error) == ["F"]


def test_voided_form_fails_f(demo):
    form = make_form(demo.store_sh, demo.clerk)
    RefundForm.objects.filter(pk=form.pk).update(
        status="voided", voided_at=form.issued_at, void_reason="return"
    )
    with pytest.raises(ChecksFailed) as error:
        pay(form, demo)
    assert "F" in failing(error)
    assert "voided" in error.value.extra["checks"][5]["detail"]


def test_failed_checks_pay_nothing_and_are_ledgered(demo, verified_form):
    form = verified_form()
    refunds, _, transfers, entries = snapshot()
    with pytest.raises(ChecksFailed):
        pay(form, demo, document_number="X0000000")
    # nothing paid, the form unchanged
    assert (Refund.objects.count(), SandboxTransfer.objects.count()) == (refunds, transfers)
    form.refresh_from_db()
    assert form.status == "verified"
    # the refusal is recorded with its checks, and in the ledger
    attempt = RefundAttempt.objects.get()
    assert (attempt.code, attempt.form_id, attempt.agent_id) == (
        "checks_failed",
        form.pk,
        demo.agent.pk,
    )
    entry = record_history(attempt)[0]
    assert entry.action == "refund_refused"
    assert entry.payload["failed_checks"] == ["B"]
    assert LedgerEntry.objects.count() == entries + 1


# --- Payout rules -----------------------------------------------------------------------


def test_cash_over_the_20000_cap_is_refused_but_a_transfer_pays(demo, verified_form):
    # given RMB 250,000 at 13%: net 27,500 - 5,000 = 22,500 > 20,000 (policy 2025-04-27)
    form = verified_form(line("腕表 Watch", unit_price="250000.00"))
    with pytest.raises(CashLimitExceeded) as error:
        pay(form, demo, payout_method="cash", payout_account="")
    assert error.value.code == "cash_limit_exceeded"
    assert error.value.extra["cash_cap"] == "20000.00"
    assert error.value.extra["net_refund"] == "22500.00"
    assert not Refund.objects.exists()
    assert RefundAttempt.objects.get().code == "cash_limit_exceeded"
    # when paid by Alipay instead
    refund = pay(form, demo, payout_method="alipay", payout_account="13812345678")
    assert (refund.status, refund.net_refund) == ("paid", Decimal("22500.00"))
    assert refund.payout_account_masked == "138****5678"


def test_a_refused_refund_still_records_the_forms_presentation(demo, verified_form):
    # given a form the agent scans, then types (damaged QR), and the refund is refused
    form = verified_form(line("腕表 Watch", unit_price="250000.00"))
    with pytest.raises(CashLimitExceeded):
        pay(form, demo, payout_method="cash", payout_account="")
    with pytest.raises(CashLimitExceeded):
        pay(form, demo, qr="", payout_method="cash", payout_account="")
    # then the agency had it presented both times (the refused transaction rolled back)
    assert list(
        FormPresentation.objects.filter(form=form, agency=demo.agency, user=demo.agent)
        .order_by("pk")
        .values_list("how", flat=True)
    ) == ["scan", "typed"]
    assert list(RefundAttempt.objects.values_list("form_id", flat=True)) == [form.pk, form.pk]


def test_cash_within_the_cap_pays_without_the_gateway(demo, verified_form):
    form = verified_form(line(unit_price="3600.00"))
    waiting = pay(form, demo, payout_method="cash", payout_account=None)
    # cash is paid only once the agent confirms it left the drawer
    assert (waiting.status, waiting.paid_at) == ("awaiting_handover", None)
    form.refresh_from_db()
    assert form.status == "verified"
    refund = refund_handover(refund_id=waiting.pk, agent=demo.agent, agency=demo.agency)
    assert (refund.handed_over_by, refund.paid_at) == (demo.agent, refund.handed_over_at)
    assert refund_handover(refund_id=waiting.pk, agent=demo.agent, agency=demo.agency) == refund
    assert (refund.status, refund.payout_account_masked, refund.payout_reference) == (
        "paid",
        "",
        "",
    )
    assert not SandboxTransfer.objects.exists()


def test_mailbox_form_is_paid_by_transfer_only(demo, verified_form):
    form = verified_form(channel="mailbox")
    assessment = refund_check(
        form_number=form.number, qr=form.qr_payload, document_number=DOCUMENT, agency=demo.agency
    )
    assert assessment.mailbox and not assessment.option("cash").allowed  # type: ignore[union-attr]
    with pytest.raises(MailboxTransferOnly) as error:
        pay(form, demo, payout_method="cash", payout_account="")
    assert error.value.code == "mailbox_transfer_only"
    refund = pay(form, demo, payout_method="wechat", payout_account="marie_dupont88")
    assert refund.status == "paid"
    assert refund.payout_account_masked == "ma********nt88"


@pytest.mark.parametrize(
    ("method", "account", "error"),
    [
        ("bank_card", "6222020000031235", InvalidCardNumber),  # Luhn check digit off by one
        ("bank_card", "1234", InvalidCardNumber),
        ("bank_card", "", InvalidPayoutAccount),
        ("alipay", "not an account", InvalidPayoutAccount),
        ("wechat", "12", InvalidPayoutAccount),
        ("cash", "6222020000031234", InvalidPayoutAccount),
        ("paypal", "marie@example.com", InvalidPayoutMethod),
    ],
)
def test_bad_payout_input_is_400_and_writes_nothing(demo, verified_form, method, account, error):
    form = verified_form()
    before = snapshot()
    with pytest.raises(error) as raised:
        pay(form, demo, payout_method=method, payout_account=account)
    assert raised.value.status_code == 400
    assert snapshot() == before


def test_malformed_qr_and_unknown_form_write_nothing(demo, verified_form):
    form = verified_form()
    before = snapshot()
    with pytest.raises(InvalidQr):
        pay(form, demo, qr="HELLO")
    with pytest.raises(FormNotFound):
        pay(form, demo, form_number="3126000000000999")
    assert snapshot() == before
    form.refresh_from_db()
    assert form.status == "verified"


def test_payout_accounts_are_normalized_and_masked():
    assert payout_choice_parse(method="bank_card", account="6222 0200 0003 1234").account == (
        "6222020000031234"
    )
    assert payout_choice_parse(method="alipay", account="marie@example.com").masked == (
        "m***@example.com"
    )
    assert payout_choice_parse(method="alipay", account="2088123456780002").masked == (
        "20**********0002"
    )


# --- Exactly once (sequential; the concurrent proofs are in test_concurrency) ------------


def test_second_refund_is_409_already_refunded(demo, verified_form):
    form = verified_form()
    first = pay(form, demo)
    with pytest.raises(AlreadyRefunded) as error:
        pay(form, demo, payout_method="cash", payout_account="")
    assert error.value.status_code == 409
    assert error.value.extra == {"refund": first.pk, "status": "paid"}
    assert Refund.objects.count() == 1
    assert SandboxTransfer.objects.count() == 1
    assert RefundAttempt.objects.get().code == "already_refunded"


def test_database_allows_one_live_refund_per_form(demo, verified_form):
    from django.db import IntegrityError, transaction

    form = verified_form()
    refund = pay(form, demo)
    duplicate = Refund.objects.get(pk=refund.pk)
    duplicate.pk = None
    duplicate.uid = None  # type: ignore[assignment]
    duplicate.payout_key = "another-key"
    duplicate.status = "pending"
    duplicate.paid_at = None
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_every_step_is_in_the_ledger_and_the_chains_verify(demo, verified_form):
    form = verified_form()
    refund = pay(form, demo)
    assert [(e.action, e.from_status, e.to_status) for e in record_history(refund)] == [
        ("refund_created", "", "pending"),
        ("refund_paid", "pending", "paid"),
    ]
    paid = record_history(refund)[1]
    assert paid.payload["payout_reference"] == refund.payout_reference
    assert paid.payload["payout_account"] == "6222 **** **** 1234"
    assert GOOD_CARD not in str(paid.payload)
    last = record_history(form)[-1]
    assert (last.action, last.from_status, last.to_status) == (
        "form_refunded",
        "verified",
        "refunded",
    )
    assert ledger_verify().intact


def test_agents_may_refund_forms_of_any_store(demo):
    # DEMO-BJ-001 is served by no agency; the port agency still pays its forms
    form = make_form(demo.store_bj, demo.clerk2)
    form = verify(form, demo)
    refund = pay(form, demo)
    assert (refund.status, refund.form.store.code) == ("paid", "DEMO-BJ-001")


def test_a_fee_above_the_refund_rate_refuses_instead_of_paying_a_negative_net(demo, verified_form):
    # given 9% VAT goods (refund rate 8%) and an agency fee misconfigured at 10%
    form = verified_form(line("茶叶 Tea", unit_price="1000.00", vat_rate="0.09"))
    demo.agency.fee_rates.create(effective_from=business_today(), rate=Decimal("0.10"))
    with pytest.raises(NothingToRefund) as error:
        pay(form, demo)
    assert error.value.extra["net_refund"] == "-20.00"
    assert not Refund.objects.exists()
    assert RefundAttempt.objects.get().code == "nothing_to_refund"

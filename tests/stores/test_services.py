"""Store services against the real database: invoices, forms, voids, ledger entries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.exceptions import BadRequest, StateConflict
from core.ledger import record_history
from stores.exceptions import FormNotVoidable, FormRuleViolation, InvoiceNotFound
from stores.models import FormStatus, InvoiceKind, RefundForm, VatInvoice
from stores.services import (
    RED_INVOICE_REASON,
    business_today,
    refund_form_issue,
    refund_form_void,
    register_void_guard,
)
from tests.factories import line, make_form, make_invoice, traveler

pytestmark = pytest.mark.django_db


def test_void_issues_one_negative_red_invoice_per_original(demo):
    # given a form over two invoices, one of them with two lines
    first = make_invoice(
        demo.store_sh,
        demo.clerk,
        line(quantity="2", unit_price="100.00"),
        line(item="茶叶 Tea", unit_price="50.00", vat_rate="0.09"),
    )
    second = make_invoice(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    form = refund_form_issue(
        store=demo.store_sh,
        clerk=demo.clerk,
        traveler=traveler(),
        invoice_numbers=[first.number, second.number],
    )

    # when the clerk voids it
    reds = refund_form_void(form=form, clerk=demo.clerk, reason="Goods returned")

    # then the form is voided with time and reason
    form.refresh_from_db()
    assert form.status == FormStatus.VOIDED
    assert form.voided_at is not None
    assert form.void_reason == "Goods returned"
    # and each original has one red-ink invoice mirroring it with negative amounts
    assert sorted(VatInvoice.objects.get(red_invoice=r).number for r in reds) == sorted(
        [first.number, second.number]
    )
    for red in reds:
        original = VatInvoice.objects.get(red_invoice=red)
        assert original.status == VatInvoice.Status.REVERSED
        assert red.kind == InvoiceKind.RED
        assert red.reason == RED_INVOICE_REASON
        assert red.form is None
        assert len(red.number) == 20 and red.number.isdigit()
        assert red.number[2:4] == "31"
        assert red.issued_on == business_today()
        assert (red.total, red.total_vat, red.total_excl_vat) == (
            -original.total,
            -original.total_vat,
            -original.total_excl_vat,
        )
        red_lines = list(red.lines.order_by("position"))
        original_lines = list(original.lines.order_by("position"))
        assert len(red_lines) == len(original_lines)
        for red_line, line_ in zip(red_lines, original_lines, strict=True):
            assert red_line.item == line_.item
            assert red_line.quantity == -line_.quantity
            assert red_line.unit_price == line_.unit_price
            assert red_line.amount == -line_.amount
            assert red_line.vat_amount == -line_.vat_amount
            assert red_line.total == -line_.total
    # numbers come from the same sequence as ordinary invoices: consecutive after them
    assert sorted(int(r.number[-15:]) for r in reds) == [
        int(second.number[-15:]) + 1,
        int(second.number[-15:]) + 2,
    ]


def test_void_writes_ledger_entries_for_form_originals_and_reds(demo):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    original = form.invoices.get()

    (red,) = refund_form_void(form=form, clerk=demo.clerk, reason="Returned")

    form_last = record_history(form)[-1]
    assert (form_last.action, form_last.from_status, form_last.to_status) == (
        "form_voided",
        "issued",
        "voided",
    )
    assert form_last.actor_label == "clerk"
    assert form_last.payload["red_invoices"] == [red.number]
    original_last = record_history(original)[-1]
    assert (original_last.action, original_last.from_status, original_last.to_status) == (
        "invoice_reversed",
        "issued",
        "reversed",
    )
    (red_entry,) = record_history(red)
    assert red_entry.action == "invoice_issued"
    assert red_entry.payload["original"] == original.number
    assert red_entry.payload["total"] == "-500.00"


@pytest.mark.parametrize("status", ["verified", "partially_verified", "rejected", "refunded"])
def test_only_an_issued_form_can_be_voided(demo, status):
    form = make_form(demo.store_sh, demo.clerk)
    RefundForm.objects.filter(pk=form.pk).update(status=status)

    with pytest.raises(FormNotVoidable) as caught:
        refund_form_void(form=form, clerk=demo.clerk, reason="Returned")

    assert caught.value.status_code == 409
    assert caught.value.code == "form_not_voidable"
    assert VatInvoice.objects.filter(kind="red").count() == 0
    assert form.invoices.get().status == "issued"


def test_a_voided_form_cannot_be_voided_again(demo):
    form = make_form(demo.store_sh, demo.clerk)
    refund_form_void(form=form, clerk=demo.clerk, reason="Returned")

    with pytest.raises(FormNotVoidable):
        refund_form_void(form=form, clerk=demo.clerk, reason="Again")

    assert VatInvoice.objects.filter(kind="red").count() == 1


def test_void_needs_a_reason(demo):
    form = make_form(demo.store_sh, demo.clerk)

    with pytest.raises(BadRequest):
        refund_form_void(form=form, clerk=demo.clerk, reason="   ")

    form.refresh_from_db()
    assert form.status == "issued"


def test_reversed_invoice_cannot_go_on_a_new_form(demo):
    form = make_form(demo.store_sh, demo.clerk)
    original = form.invoices.get()
    refund_form_void(form=form, clerk=demo.clerk, reason="Returned")

    with pytest.raises(FormRuleViolation) as caught:
        refund_form_issue(
            store=demo.store_sh,
            clerk=demo.clerk,
            traveler=traveler(),
            invoice_numbers=[original.number],
        )
    assert caught.value.code == "invoice_already_used"


def test_red_invoice_cannot_go_on_a_form(demo):
    form = make_form(demo.store_sh, demo.clerk)
    (red,) = refund_form_void(form=form, clerk=demo.clerk, reason="Returned")

    with pytest.raises(InvoiceNotFound) as caught:
        refund_form_issue(
            store=demo.store_sh, clerk=demo.clerk, traveler=traveler(), invoice_numbers=[red.number]
        )
    assert caught.value.code == "invoice_not_found"


def test_a_registered_void_guard_blocks_buy_and_refund_voids(demo):
    # given a Buy & Refund form and a guard such as the prepayment will register
    form = make_form(demo.store_sh, demo.clerk, buy_and_refund=True)

    def prepayment_not_returned(candidate: RefundForm) -> None:
        raise StateConflict("The prepayment has not been returned.", "form_not_voidable")

    from stores import services

    register_void_guard(prepayment_not_returned)
    try:
        with pytest.raises(StateConflict):
            refund_form_void(form=form, clerk=demo.clerk, reason="Returned")
    finally:
        services._void_guards.remove(prepayment_not_returned)

    form.refresh_from_db()
    assert form.status == "issued"
    # without the guard the same form voids
    refund_form_void(form=form, clerk=demo.clerk, reason="Returned")
    form.refresh_from_db()
    assert form.status == "voided"


def test_voided_form_frees_the_same_day_minimum(demo):
    # a voided form's invoices no longer count toward the same-day total
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    refund_form_void(form=form, clerk=demo.clerk, reason="Returned")
    small = make_invoice(demo.store_sh, demo.clerk, line(unit_price="100.00"))

    with pytest.raises(FormRuleViolation) as caught:
        refund_form_issue(
            store=demo.store_sh,
            clerk=demo.clerk,
            traveler=traveler(),
            invoice_numbers=[small.number],
        )
    assert caught.value.code == "below_minimum"
    assert Decimal(caught.value.extra["day_total"]) == Decimal("100.00")

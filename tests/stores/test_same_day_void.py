"""A void may not leave the traveler's other same-day forms below the minimum (Measures art. 10)."""

import pytest

from core.exceptions import BadRequest
from stores.exceptions import FormNotVoidable
from stores.services import invoice_issue, refund_form_issue, refund_form_void
from tests.factories import line, make_invoice, traveler


def _form(demo, unit_price):
    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price=unit_price))
    return refund_form_issue(
        store=demo.store_sh,
        clerk=demo.clerk,
        traveler=traveler(),
        invoice_numbers=[invoice.number],
    )


def test_earlier_form_cannot_be_voided_while_a_later_one_needs_it(demo):
    # given form A (300.00) and form B (50.00), which only reached the RMB 200 minimum with A
    first = _form(demo, "300.00")
    second = _form(demo, "50.00")
    # when the store voids A
    with pytest.raises(FormNotVoidable) as refused:
        refund_form_void(form=first, clerk=demo.clerk, reason="returned")
    # then it is refused, naming B; nothing changed
    assert refused.value.extra["dependent_forms"] == [second.number]
    first.refresh_from_db()
    assert first.status == "issued"
    # voiding B first, then A, works
    refund_form_void(form=second, clerk=demo.clerk, reason="returned")
    refund_form_void(form=first, clerk=demo.clerk, reason="returned")
    first.refresh_from_db()
    assert first.status == "voided"


def test_a_form_that_stands_alone_voids_even_with_other_forms_that_day(demo):
    first = _form(demo, "300.00")
    second = _form(demo, "250.00")
    refund_form_void(form=first, clerk=demo.clerk, reason="returned")
    second.refresh_from_db()
    assert second.status == "issued"


def test_a_line_whose_total_rounds_to_zero_is_a_400_not_a_500(demo):
    with pytest.raises(BadRequest) as refused:
        invoice_issue(
            store=demo.store_sh,
            clerk=demo.clerk,
            buyer_name="Marie",
            lines=[line(unit_price="300.00"), line(quantity="0.40", unit_price="0.01")],
        )
    assert "0.00" in refused.value.message

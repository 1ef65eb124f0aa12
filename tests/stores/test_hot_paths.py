"""The form and invoice issue's hand-written SQL and shared serializers (issue 12)."""

from __future__ import annotations

from typing import Any

from stores.api.serializers import (
    FormCreateSerializer,
    FormIssuedSerializer,
    InvoiceSerializer,
    represent,
)
from stores.api.serializers import _plan_of as plan_of
from stores.models import RefundForm, Traveler, VatInvoice
from tests.factories import line, make_invoice
from tests.stores.helpers import FORMS, days_ago, form_body, traveler_body


def test_shared_renderer_gives_what_a_fresh_serializer_gives(demo: Any, api: Any) -> None:
    client = api(demo.clerk)
    numbers = [
        make_invoice(demo.store_sh, demo.clerk, line(unit_price="300.00"), line(item="Tea")).number
        for _ in range(2)
    ]
    reply = client.post(FORMS, form_body(numbers), format="json")
    assert reply.status_code == 201, reply.json()
    form = RefundForm.objects.prefetch_related("lines").get(number=reply.json()["number"])
    assert represent(FormIssuedSerializer, form) == FormIssuedSerializer(form).data
    invoice = VatInvoice.objects.prefetch_related("lines").get(number=numbers[0])
    assert represent(InvoiceSerializer, invoice) == InvoiceSerializer(invoice).data
    # both render through their plan (no DRF walk), and what DRF would skip it still skips
    assert plan_of(FormIssuedSerializer) is not None
    assert plan_of(InvoiceSerializer) is not None
    form.traveler_name = None  # type: ignore[assignment]
    form.issued_at = None  # type: ignore[assignment]
    assert represent(FormIssuedSerializer, form) == FormIssuedSerializer(form).data
    assert represent(FormIssuedSerializer, form)["issued_at"] is None


def test_shared_fields_keep_no_state_between_bodies() -> None:
    bad = FormCreateSerializer(data={"traveler": {"name": 3}, "invoice_numbers": ["1"], "x": 1})
    assert not bad.is_valid()
    good = FormCreateSerializer(data=form_body(["1" * 20]))
    assert good.is_valid(), good.errors
    assert good.validated_data["traveler"]["name"] == "Marie Dupont"
    again = FormCreateSerializer(data={"invoice_numbers": []})
    assert not again.is_valid()
    assert set(again.errors) == {"traveler", "invoice_numbers"}
    assert "x" in bad.errors and "traveler" in bad.errors


def test_traveler_upsert_refreshes_the_row_and_moves_updated_at_only_on_change(
    demo: Any, api: Any
) -> None:
    client = api(demo.clerk)

    def issue(**traveler: Any) -> None:
        invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="500.00"))
        body = form_body([invoice.number], traveler=traveler_body(**traveler))
        assert client.post(FORMS, body, format="json").status_code == 201

    issue(document_expires_on="2031-05-01")
    first = Traveler.objects.get()
    issue()  # the same data, the expiry not given: nothing changes
    same = Traveler.objects.get()
    assert (same.updated_at, str(same.document_expires_on)) == (first.updated_at, "2031-05-01")
    issue(name="Marie Curie", last_entry_date=days_ago(5).isoformat())
    changed = Traveler.objects.get()
    assert (changed.name, changed.last_entry_date) == ("Marie Curie", days_ago(5))
    assert str(changed.document_expires_on) == "2031-05-01"
    assert changed.updated_at > first.updated_at
    assert RefundForm.objects.filter(traveler=changed).count() == 3


def test_same_day_live_total_is_exact_to_the_cent(demo: Any, api: Any) -> None:
    from decimal import Decimal

    from stores.selectors import same_day_live_total

    client = api(demo.clerk)
    numbers = [
        make_invoice(demo.store_sh, demo.clerk, line(unit_price=price)).number
        for price in ("200.10", "0.10", "0.20")
    ]
    reply = client.post(FORMS, form_body(numbers), format="json")
    assert reply.status_code == 201, reply.json()
    form = RefundForm.objects.get(number=reply.json()["number"])
    total = same_day_live_total(
        store_id=demo.store_sh.pk, document_hash=form.document_hash, day=form.purchase_date
    )
    # SQLite adds the decimals as floats (0.1 + 0.2): read back as the ORM reads them.
    assert isinstance(total, Decimal) and str(total) == "200.40"
    assert same_day_live_total(
        store_id=demo.store_sh.pk, document_hash="nope", day=form.purchase_date
    ) == Decimal("0")


def test_new_instance_is_what_the_model_constructor_makes(demo: Any) -> None:
    import pytest

    from stores.models import RefundFormLine, VatInvoiceLine
    from stores.sql import new_instance

    invoice = make_invoice(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    invoice_line = VatInvoiceLine.objects.get(invoice=invoice)
    form = RefundForm(pk=41, number="x")
    values = {
        "position": 1,
        "invoice_line": invoice_line,
        "item": invoice_line.item,
        "quantity": invoice_line.quantity,
        "unit_price": invoice_line.unit_price,
        "vat_rate": invoice_line.vat_rate,
        "refund_rate": invoice_line.vat_rate,
        "total": invoice_line.total,
    }
    made = new_instance(RefundFormLine, form=form, **values)
    expected = RefundFormLine(form=form, **values)

    def columns(obj: Any) -> dict[str, Any]:
        return {f.attname: getattr(obj, f.attname) for f in RefundFormLine._meta.concrete_fields}

    assert columns(made) == columns(expected)  # defaults (spec, unit, category) included
    assert (made.form_id, made.invoice_line_id) == (41, invoice_line.pk)
    assert made.form is form and made.invoice_line is invoice_line  # cached: no query
    assert made._state.adding and made._state.db is None
    with pytest.raises(TypeError):
        new_instance(RefundFormLine, form=form, colour="red")

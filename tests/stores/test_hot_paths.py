"""The form and invoice issue's hand-written SQL and shared serializers (issue 12)."""

from __future__ import annotations

from typing import Any

from stores.api.serializers import (
    FormCreateSerializer,
    FormIssuedSerializer,
    InvoiceSerializer,
    represent,
)
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

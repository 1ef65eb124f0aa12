"""Shared helpers of the store API tests."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from core.models import IdempotencyRecord, LedgerEntry, NumberSequence
from stores.models import RefundForm, RefundFormLine, Traveler, VatInvoice, VatInvoiceLine
from stores.services import business_today

FORMS = "/api/v1/forms/"


def traveler_body(**overrides: Any) -> dict[str, Any]:
    """A traveler as the POS sends it (entered ten days ago)."""
    data: dict[str, Any] = {
        "name": "Marie Dupont",
        "document_type": "passport",
        "document_number": "18AB12345",
        "nationality": "FR",
        "last_entry_date": (business_today() - timedelta(days=10)).isoformat(),
    }
    data.update(overrides)
    return data


def form_body(numbers: list[str], **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"traveler": traveler_body(), "invoice_numbers": numbers}
    data.update(overrides)
    return data


def days_ago(days: int) -> date:
    return business_today() - timedelta(days=days)


def snapshot() -> dict[str, int]:
    """Row counts a refused request must leave as they were."""
    return {
        "forms": RefundForm.objects.count(),
        "form_lines": RefundFormLine.objects.count(),
        "travelers": Traveler.objects.count(),
        "invoices": VatInvoice.objects.count(),
        "invoice_lines": VatInvoiceLine.objects.count(),
        "invoices_on_forms": VatInvoice.objects.filter(form__isnull=False).count(),
        "reversed": VatInvoice.objects.filter(status="reversed").count(),
        "ledger": LedgerEntry.objects.count(),
        "form_sequences": NumberSequence.objects.filter(key__startswith="form:").count(),
        "idempotency_complete": IdempotencyRecord.objects.filter(status="complete").count(),
    }


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The shared error shape with this status and code."""
    data: dict[str, Any] = response.json()
    assert response.status_code == status, data
    assert set(data) == {"code", "message", "extra"}, data
    assert data["code"] == code, data
    assert isinstance(data["message"], str) and data["message"]
    return data

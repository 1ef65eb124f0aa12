"""Build demo data through the public API, as a POS and customs would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

STATS = "/api/v1/authority/statistics/"


def traveler(name: str, document: str, nationality: str) -> dict[str, Any]:
    return {
        "name": name,
        "document_type": "passport",
        "document_number": document,
        "nationality": nationality,
        "last_entry_date": (timezone.localdate() - timedelta(days=10)).isoformat(),
    }


def issue(client: Any, who: dict[str, Any], *lines: dict[str, Any]) -> dict[str, Any]:
    """POST an invoice with ``lines`` then a form for it; the form's reply."""
    invoice = client.post(
        "/api/v1/invoices/", {"buyer_name": who["name"], "lines": list(lines)}, format="json"
    )
    assert invoice.status_code == 201, invoice.json()
    form = client.post(
        "/api/v1/forms/",
        {"traveler": who, "invoice_numbers": [invoice.json()["number"]]},
        format="json",
    )
    assert form.status_code == 201, form.json()
    body: dict[str, Any] = form.json()
    return body


def goods(item: str, quantity: str, price: str, rate: str, category: str | None) -> dict[str, Any]:
    data = {"item": item, "quantity": quantity, "unit_price": price, "vat_rate": rate}
    if category is not None:
        data["category"] = category
    return data


def verify(client: Any, form: dict[str, Any]) -> None:
    reply = client.post(
        "/api/v1/customs/verifications/",
        {
            "form": form["number"],
            "qr": form["qr"],
            "departure_date": timezone.localdate().isoformat(),
        },
        format="json",
    )
    assert reply.status_code == 201, reply.json()

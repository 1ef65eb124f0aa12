"""The OpenAPI schema describes the store endpoints, and they add no warnings to it."""

from __future__ import annotations

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

STORE_OPERATIONS = {
    ("/api/v1/invoices/", "post"): "InvoiceCreateRequest",
    ("/api/v1/forms/", "post"): "FormCreateRequest",
    ("/api/v1/forms/{number}/void/", "post"): "VoidRequest",
}

STORE_VIEWS = [
    "InvoiceCreateView",
    "InvoiceDetailView",
    "FormListCreateView",
    "FormDetailView",
    "FormVoidView",
]


def test_schema_describes_store_endpoints_without_warnings():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = [
        message
        for message in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
        if "stores/" in message or any(f"[{view}" in message for view in STORE_VIEWS)
    ]
    assert problems == []

    paths = schema["paths"]
    for (path, method), request in STORE_OPERATIONS.items():
        operation = paths[path][method]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].endswith(request)
        assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    assert set(paths["/api/v1/forms/"]["get"]["responses"]) >= {"200", "401", "403"}
    filters = {p["name"] for p in paths["/api/v1/forms/"]["get"]["parameters"]}
    assert {"status", "purchase_date", "issued_on", "limit"} <= filters
    # never a document number in a URL: it is searched by POST /forms/search/
    assert "document_number" not in filters
    search = paths["/api/v1/forms/search/"]["post"]["requestBody"]["content"]["application/json"]
    assert search["schema"]["$ref"].endswith("FormSearchRequest")
    assert "document_number" in schema["components"]["schemas"]["FormSearchRequest"]["properties"]
    assert "404" in paths["/api/v1/forms/{number}/"]["get"]["responses"]
    assert "409" in paths["/api/v1/forms/{number}/void/"]["post"]["responses"]
    issued = schema["components"]["schemas"]["FormIssued"]["properties"]
    assert {
        "number",
        "status",
        "store",
        "purchase_date",
        "lines",
        "total",
        "refundable_vat",
        "fee",
        "net_refund",
        "qr",
    } <= set(issued)


@pytest.mark.django_db
def test_schema_endpoint_serves_openapi(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/forms/{number}/void/" in response.json()["paths"]

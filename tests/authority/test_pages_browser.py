"""The authority portal in Chromium: statistics and charts, registry, ledger proof, risk, reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from authority.services import store_filing_change
from core.ledger import ledger_seal
from tests.authority.helpers import goods, issue, traveler, verify
from tests.browser import login, screenshot
from tests.factories import StoreFactory, staff_user

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_proof.py"


@pytest.mark.browser
def test_the_analyst_reads_the_national_figures_and_checks_a_proof(demo, api, page, tmp_path):
    from django.utils import timezone

    third: Any = StoreFactory(code="SH-THIRD", name="Third Store 第三商店", city="Shanghai")
    clerk3 = staff_user("clerk", third, username="clerk3")
    hopper = traveler("Ivan Petrov", "RU7654321", "RU")
    shoppers = [
        (api(demo.clerk), traveler("Marie Dupont", "18AB12345", "FR"), "clothing", "1800.00"),
        (api(demo.clerk), traveler("Sato Hanako", "TK1234567", "JP"), "cosmetics", "2600.00"),
        (api(demo.clerk2), traveler("John Smith", "US5550001", "US"), "electronics", "5200.00"),
        (api(demo.clerk2), traveler("Kim Minsu", "M12345678", "KR"), "tea_food", "900.00"),
        (api(demo.clerk), hopper, "jewelry_watches", "3000.00"),
        (api(demo.clerk2), hopper, "bags_shoes", "1200.00"),
        (api(clerk3), hopper, "arts_crafts", "700.00"),
    ]
    forms = [
        issue(c, who, goods("Goods", "1", price, "0.13", cat)) for c, who, cat, price in shoppers
    ]
    verify(api(demo.officer), forms[0])
    verify(api(demo.officer2), forms[1])  # a Shanghai form verified in Beijing minutes later
    ledger_seal()
    store_filing_change(
        store=third,
        status="suspended",
        rating="M",
        effective_from=timezone.localdate(),
        note="Inspection pending",
    )

    login(page, "analyst")
    assert page.url.endswith("/authority/statistics/")
    assert page.locator("#kpi-forms").inner_text() == "7"
    assert page.locator("#kpi-travelers").inner_text() == "5"
    page.select_option("select[name=by]", "nationality")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#stats-table tbody tr").count() == 5
    assert page.locator("svg.hbar").count() == 2
    screenshot(page, "authority-statistics-nationality")
    with page.expect_download() as download:
        page.click("#csv-link")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[-1] == "TOTAL,7,5,15400.00,1694.00,308.00,1386.00"
    page.select_option("select[name=by]", "category")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#stats-table tbody tr").count() == 7
    screenshot(page, "authority-statistics-category")

    page.click("text=Registry 备案")
    page.wait_for_load_state("networkidle")
    assert page.locator("#registry-table tbody tr").count() == 3
    page.select_option("select[name=status]", "suspended")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#registry-table tbody tr").count() == 1
    screenshot(page, "authority-registry-suspended")
    page.click("a:has-text('SH-THIRD')")
    page.wait_for_load_state("networkidle")
    assert "Inspection pending" in page.locator("#filing-history").inner_text()
    screenshot(page, "authority-registry-store")

    page.click("text=Ledger 账本")
    page.fill("input[name=id]", forms[1]["number"])
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#entries-table tbody tr").count() == 2
    screenshot(page, "authority-ledger-record")
    with page.expect_download() as download:
        page.click("#proof-link")
    proof = tmp_path / "proof.json"
    download.value.save_as(proof)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(api().get("/api/v1/keys/").json()))
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(SCRIPT), str(proof), "--keys", str(keys)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    page.click("text=Risk 风险")
    page.wait_for_load_state("networkidle")
    hopper_cases = page.locator("#signal-many_stores_one_day table.cases tbody tr")
    assert hopper_cases.count() == 1 and "Ivan Petrov" in hopper_cases.inner_text()
    assert page.locator("#signal-far_port_fast table.cases tbody tr").count() == 1
    screenshot(page, "authority-risk")

    page.click("text=Reads 查阅")
    page.wait_for_load_state("networkidle")
    assert page.locator("#reads-table tbody tr").count() >= 8
    screenshot(page, "authority-reads")

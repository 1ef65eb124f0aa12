"""The store's form detail and today list in a real browser: what happened (issue 10 item 7)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from buyrefund.services import guarantees_sweep
from tests.agencies.conftest import verify
from tests.browser import login, screenshot
from tests.buyrefund.test_guarantees import br_form, pay
from tests.factories import line, make_form, traveler
from tests.stores.test_form_outcome_pages import partly_verified_and_paid


@pytest.fixture(autouse=True)
def policies(transactional_db: None) -> None:
    """Live-server tests run on a flushed database: put back the policies the migration seeds."""
    from django.apps import apps

    importlib.import_module("core.migrations.0002_seed_policies").forwards(apps, None)


@pytest.mark.browser
def test_clerk_sees_verified_goods_refund_paid_and_void_only_when_possible(
    demo: Any, page: Any
) -> None:
    paid = partly_verified_and_paid(demo)
    prepaid = br_form(demo)
    pay(demo, prepaid, card_holder_name="DUPONT MARIE")
    released = make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="1200.00"),
        who=traveler(name="John Smith", document_number="E1234567", nationality="GB"),
        buy_and_refund=True,
    )
    pay(demo, released, card_holder_name="SMITH JOHN")
    verify(released, demo)
    guarantees_sweep(today=timezone.localdate())
    fresh = make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="500.00"),
        who=traveler(name="Anna Berg", document_number="SE7654321", nationality="SE"),
    )

    login(page, "clerk")
    # Today's list: 实退 is what was paid (72.00 + 324.00 + 108.00), never the estimate.
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#refunded-total")).to_have_text("RMB 504.00")
    expect(page.locator("tr", has_text=paid.number).locator("td.refunded")).to_have_text("72.00")
    expect(page.locator("tr", has_text=fresh.number).locator("td.refunded")).to_have_text("—")
    screenshot(page, "stores-today-refunded")

    page.goto(f"{page.base_url}/store/forms/{paid.number}/")
    expect(page.locator("#refunded")).to_have_text("RMB 72.00")
    expect(page.locator("#customs-state")).to_contain_text("Partially verified")
    expect(page.locator("#refund-state")).to_contain_text("Bank card")
    expect(page.locator("#void-link")).to_have_count(0)
    expect(page.get_by_role("note")).to_contain_text("The refund was paid")
    screenshot(page, "stores-detail-partly-verified-refunded")

    page.goto(f"{page.base_url}/store/forms/{prepaid.number}/")
    expect(page.locator("#guarantee-state")).to_contain_text("Card hold in place")
    expect(page.locator("#refunded")).to_have_text("RMB 324.00")
    expect(page.locator("#void-link")).to_have_count(0)
    expect(page.get_by_role("note")).to_contain_text("it must be returned first")
    screenshot(page, "stores-detail-prepaid-guarantee")

    page.goto(f"{page.base_url}/store/forms/{released.number}/")
    expect(page.locator("#guarantee-state")).to_contain_text("Released")
    expect(page.locator("#customs-state")).to_contain_text("Verified")
    screenshot(page, "stores-detail-guarantee-released")

    page.goto(f"{page.base_url}/store/forms/{fresh.number}/")
    expect(page.locator("#void-link")).to_be_visible()
    expect(page.locator("#customs-state")).to_contain_text("Not yet presented to customs")
    screenshot(page, "stores-detail-issued-voidable")

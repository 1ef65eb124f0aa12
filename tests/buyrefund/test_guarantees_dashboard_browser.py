"""The guarantees dashboard in Chromium: the agent opens Guarantees and sees a due guarantee."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.agencies.conftest import verify
from tests.browser import login, screenshot
from tests.buyrefund.test_guarantees import br_form, guarantee_of, pay
from tests.factories import line


@pytest.mark.browser
def test_agent_opens_guarantees_and_sees_the_due_one(demo, page):
    due_form = br_form(demo, line(item="手提包 Handbag", unit_price="3600.00"))
    pay(demo, due_form)
    verify(due_form, demo)
    open_form = br_form(demo)
    pay(demo, open_form, "tok_short_hold")
    guarantee = guarantee_of(open_form)

    login(page, "agent")
    page.get_by_role("link", name="Guarantees · 担保").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/agency/guarantees/")
    due = page.locator("section#due")
    assert due.locator("tr", has_text=due_form.number).is_visible()
    assert "Verified by customs: hold to release" in due.inner_text()
    assert open_form.number not in due.inner_text()
    assert page.locator("section#open tr", has_text=open_form.number).is_visible()
    screenshot(page, "agency-guarantees")

    # Preview the sweep after the open one's grace: it becomes due for capture.
    page.fill("input[name=today]", (guarantee.grace_until + timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Preview 预览").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("status").is_visible()
    row = page.locator("section#due tr", has_text=open_form.number).inner_text()
    assert "to capture" in row and "lapsed" in row  # its short hold ran out before the sweep
    screenshot(page, "agency-guarantees-preview")

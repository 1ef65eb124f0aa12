"""Agency pages read as words and grouped figures; a bad month is an error, not this month."""

from __future__ import annotations

import pytest

from tests.agencies.conftest import GOOD_CARD
from tests.agencies.test_pages import client_for, start_visit, text
from tests.factories import line


def test_refund_page_shows_grouped_amounts_and_history_in_words(demo, verified_form):
    form = verified_form(line("手表 Watch", "1", "10527.00"))
    client = client_for(demo.agent)
    url = start_visit(client, form)
    paid = client.post(url + "pay/", {"payout_method": "bank_card", "card_number": GOOD_CARD})
    page = text(client.get(paid["Location"]))
    assert "Verified amount incl. VAT 核验含税金额 10,527.00" in page
    assert "Refund created — pending · 退税已创建 — 处理中" in page
    assert "Refund paid" in page
    assert "refund_created" not in page and "→" not in page


@pytest.mark.parametrize("month", ["2026-13", "abc", "9999-12", "2014-12", "2026-1"])
@pytest.mark.parametrize("path", ["/agency/settlement/", "/agency/refunds/"])
def test_a_bad_month_is_a_400_that_says_why(demo, path, month):
    response = client_for(demo.agent).get(path, {"month": month})
    assert response.status_code == 400
    assert "month" in text(response).lower()
    assert 'id="month-error"' in response.content.decode()


def test_a_good_month_still_shows(demo):
    client = client_for(demo.agent)
    assert client.get("/agency/settlement/", {"month": "2026-01"}).status_code == 200
    assert client.get("/agency/settlement/").status_code == 200

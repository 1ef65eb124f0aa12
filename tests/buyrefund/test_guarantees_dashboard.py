"""The Buy & Refund guarantees dashboard (/agency/guarantees/): who sees what, in which section."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.models import Guarantee, GuaranteeStatus, OperationKind
from buyrefund.selectors import guarantees_dashboard
from buyrefund.services import guarantee_due, guarantees_sweep
from tests.agencies.conftest import verify
from tests.buyrefund.test_guarantees import br_form, guarantee_of, pay
from tests.factories import AgencyFactory, line, staff_user

URL = "/agency/guarantees/"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def section(response: Any, key: str) -> str:
    """The text of one section of the page (tags stripped)."""
    html = response.content.decode()
    match = re.search(rf'<section class="card" id="{key}".*?</section>', html, re.S)
    assert match is not None, f"no section {key}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(0))).split())


def paid_guarantee(demo: Any, token: str = "tok_visa", *lines: Any) -> Guarantee:
    form = br_form(demo, *lines)
    pay(demo, form, token)
    return guarantee_of(form)


@pytest.mark.parametrize("role", ["clerk", "officer"])
def test_non_agents_get_403(demo, role):
    response = client_for(getattr(demo, role)).get(URL)
    assert response.status_code == 403


def test_anonymous_goes_to_login(db):
    response = Client().get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_nav_links_the_dashboard_and_another_agency_sees_none(demo):
    guarantee = paid_guarantee(demo)
    mine = client_for(demo.agent).get(URL)
    assert mine.status_code == 200
    assert "Guarantees · 担保" in mine.content.decode()
    assert guarantee.form.number in section(mine, "open")

    other_agent = staff_user("agent", AgencyFactory())
    theirs = client_for(other_agent).get(URL)
    assert theirs.status_code == 200
    assert guarantee.form.number not in theirs.content.decode()
    assert "Open · 未结担保 0" in section(theirs, "open")


def test_verified_and_partially_verified_are_due_for_release_today(demo):
    verified = paid_guarantee(demo)
    verify(verified.form, demo)
    partial = paid_guarantee(demo, "tok_visa", line(quantity="2", unit_price="1800.00"))
    verify(partial.form, demo, quantities={partial.form.lines.get().pk: Decimal("1")})
    untouched = paid_guarantee(demo)

    response = client_for(demo.agent).get(URL)
    due = section(response, "due")
    assert verified.form.number in due and "Verified by customs: hold to release" in due
    assert partial.form.number in due and "Partially verified: difference to capture" in due
    assert untouched.form.number not in due
    assert "Due today · 今日到期 2" in due
    assert "RMB 648.00" in due  # 324.00 + 324.00
    assert untouched.form.number in section(response, "open")


def test_preview_after_grace_lists_the_unverified_guarantee_to_capture(demo):
    guarantee = paid_guarantee(demo)
    client = client_for(demo.agent)
    assert guarantee.form.number not in section(client.get(URL), "due")

    after_grace = guarantee.grace_until + timedelta(days=1)
    response = client.get(URL, {"today": after_grace.isoformat()})
    due = section(response, "due")
    assert guarantee.form.number in due
    assert "Past deadline and grace, not verified: to capture" in due
    assert "Preview of the sweep on" in response.content.decode()
    # Read-only: the preview changed nothing.
    guarantee.refresh_from_db()
    assert guarantee.status == GuaranteeStatus.AUTHORIZED
    # On the grace day itself it is not due yet (the sweep captures the day after).
    on_grace = client.get(URL, {"today": guarantee.grace_until.isoformat()})
    assert guarantee.form.number not in section(on_grace, "due")


def test_hold_expiring_within_two_days_is_listed_for_reauthorization(demo):
    guarantee = paid_guarantee(demo, "tok_short_hold")
    assert guarantee.hold_expires_at is not None
    expiry = timezone.localdate(guarantee.hold_expires_at)
    client = client_for(demo.agent)
    early = client.get(URL, {"today": (expiry - timedelta(days=3)).isoformat()})
    assert guarantee.form.number not in section(early, "expiring")
    close = client.get(URL, {"today": (expiry - timedelta(days=2)).isoformat()})
    expiring = section(close, "expiring")
    assert guarantee.form.number in expiring and "Hold to re-authorize" in expiring
    assert "Holds expiring · 担保即将到期 1" in expiring


def test_settled_this_month_shows_status_and_captured_amounts(demo):
    released = paid_guarantee(demo)
    verify(released.form, demo)
    partial = paid_guarantee(demo, "tok_visa", line(quantity="2", unit_price="1800.00"))
    verify(partial.form, demo, quantities={partial.form.lines.get().pk: Decimal("1")})
    guarantees_sweep(today=timezone.localdate())

    response = client_for(demo.agent).get(URL)
    settled = section(response, "settled")
    assert released.form.number in settled and "Released" in settled
    assert partial.form.number in settled and "Partially captured" in settled
    assert "Settled this month · 本月已结 2" in settled
    assert "captured 已扣 RMB 162.00" in settled
    assert released.form.number not in section(response, "due")
    assert partial.form.number not in section(response, "open")


def test_bad_preview_day_falls_back_to_today(demo):
    response = client_for(demo.agent).get(URL, {"today": "not-a-day"})
    assert response.status_code == 200
    assert "Preview of the sweep" not in response.content.decode()


def _queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(URL).status_code == 200
    return len(ctx.captured_queries)


def test_query_count_is_the_same_for_one_and_ten_guarantees(demo):
    client = client_for(demo.agent)
    first = paid_guarantee(demo)
    verify(first.form, demo)  # due, with its verification shown
    one = _queries(client)
    for index in range(9):
        guarantee = paid_guarantee(demo)
        if index % 2:
            verify(guarantee.form, demo)
    settled = paid_guarantee(demo)
    verify(settled.form, demo)
    guarantees_sweep(today=timezone.localdate())  # some released this month
    assert Guarantee.objects.count() == 11
    assert _queries(client) == one


@pytest.mark.parametrize("offset", [-20, 0, 1, 30])
def test_due_section_agrees_with_the_sweeps_guarantee_due(demo, offset):
    """Due rows are exactly the guarantees the sweep releases or captures on that day."""
    verified = paid_guarantee(demo)
    verify(verified.form, demo)
    partial = paid_guarantee(demo, "tok_visa", line(quantity="2", unit_price="1800.00"))
    verify(partial.form, demo, quantities={partial.form.lines.get().pk: Decimal("1")})
    paid_guarantee(demo)
    paid_guarantee(demo, "tok_short_hold")
    day = verified.grace_until + timedelta(days=offset)

    board = guarantees_dashboard(agency_id=demo.agency.pk, day=day)
    due_ids = {row.guarantee.pk for row in board.due.rows}
    expected = set()
    for guarantee in Guarantee.objects.select_related("prepayment", "form"):
        action = guarantee_due(guarantee, form=guarantee.form, day=day)
        if action is not None and action.kind != OperationKind.REAUTHORIZE:
            expected.add(guarantee.pk)
    assert due_ids == expected
    assert {verified.pk, partial.pk} <= due_ids

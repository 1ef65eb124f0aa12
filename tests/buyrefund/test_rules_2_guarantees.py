"""Rules 2.0 for Buy & Refund (issue 10 items 2-4): windows, working days, any port, names."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from agencies.models import GuaranteeStatus, Prepayment
from buyrefund.services import CardHolderMismatch, add_working_days, guarantees_sweep
from core.models import BuyAndRefundWindow, WorkingDayOverride
from core.selectors import buy_and_refund_days, buy_and_refund_window
from customs.services import verification_create
from tests.buyrefund.test_guarantees import br_form, guarantee_of, pay

pytestmark = pytest.mark.django_db


# --- 2. Windows, effective-dated (the migration's rows, edited as in the admin) ----------


def test_the_migration_seeds_shanghai_17_and_nationwide_28_from_2026_07_01(demo: Any) -> None:
    assert buy_and_refund_days(region_code="31", day=date(2026, 6, 30)) == 17
    assert buy_and_refund_days(region_code="31", day=date(2026, 7, 1)) == 28
    assert buy_and_refund_days(region_code="11", day=date(2026, 6, 30)) is None
    assert buy_and_refund_days(region_code="11", day=date(2026, 7, 1)) == 28
    nationwide = buy_and_refund_window(region_code="44", day=date(2026, 12, 1))
    assert nationwide is not None and nationwide.region_code is None
    row = BuyAndRefundWindow.objects.get(region_code__isnull=True)
    assert row.source.startswith("Reported") and "not yet read in a primary text" in row.source


def test_a_regional_row_added_later_overrides_the_nationwide_window(demo: Any) -> None:
    BuyAndRefundWindow.objects.create(region_code="31", effective_from=date(2026, 9, 1), days=21)
    assert buy_and_refund_days(region_code="31", day=date(2026, 8, 31)) == 28
    assert buy_and_refund_days(region_code="31", day=date(2026, 9, 1)) == 21
    assert buy_and_refund_days(region_code="11", day=date(2026, 9, 1)) == 28


def test_one_nationwide_row_per_date(demo: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        BuyAndRefundWindow.objects.create(
            region_code=None, effective_from=date(2026, 7, 1), days=30
        )


def test_the_purchase_date_picks_the_window_of_the_guarantee(demo: Any) -> None:
    # An admin changes the nationwide figure from tomorrow on: today's purchase keeps 28.
    BuyAndRefundWindow.objects.create(
        region_code=None, effective_from=timezone.localdate() + timedelta(days=1), days=40
    )
    form = br_form(demo)
    guarantee = pay(demo, form).guarantee
    assert guarantee.deadline == form.purchase_date + timedelta(days=28)


# --- 3. Working days: the grace follows the calendar and the admin's overrides ---------------


def test_grace_uses_the_official_calendar_and_admin_overrides() -> None:
    # National Day 2026: a deadline on Sep 30 ends its grace on the adjusted Saturday Oct 10.
    assert add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    # A year the package does not know: Monday to Friday until the admin adds the holidays.
    assert add_working_days(date(2099, 9, 30), 3) == date(2099, 10, 5)
    for day in (date(2099, 10, 1), date(2099, 10, 2), date(2099, 10, 5)):
        WorkingDayOverride.objects.create(day=day, is_working_day=False, note="国庆节")
    WorkingDayOverride.objects.create(day=date(2099, 10, 3), is_working_day=True, note="调休")
    assert add_working_days(date(2099, 9, 30), 3) == date(2099, 10, 7)


def test_grace_recorded_on_the_guarantee_skips_holidays(demo: Any) -> None:
    # Every day after today is a holiday for a week, by the admin's hand.
    today = timezone.localdate()
    for offset in range(1, 8):
        WorkingDayOverride.objects.update_or_create(
            day=today + timedelta(days=28 + offset), defaults={"is_working_day": False}
        )
    form = br_form(demo)
    guarantee = pay(demo, form).guarantee
    assert guarantee.deadline == today + timedelta(days=28)
    assert guarantee.grace_until > guarantee.deadline + timedelta(days=7)
    # the sweep does not charge during the holiday that follows the deadline
    report = guarantees_sweep(today=guarantee.deadline + timedelta(days=7))
    assert report.captured == []
    assert guarantee_of(form).status == GuaranteeStatus.AUTHORIZED


# --- 2. Any Buy & Refund port in any city ---------------------------------------------------------


def test_leaving_through_a_buy_and_refund_port_in_another_city_releases_the_guarantee(
    demo: Any,
) -> None:
    form = br_form(demo)  # bought in Shanghai
    pay(demo, form)
    assert demo.port2.city != demo.store_sh.city and demo.port2.buy_and_refund_designated
    verification_create(
        port=demo.port2,  # Beijing Capital
        officer=demo.officer2,
        form_number=form.number,
        qr=form.qr_payload,
        departure_date=timezone.localdate(),
        quantities=None,
        channel="counter",
    )
    report = guarantees_sweep(today=timezone.localdate())
    guarantee = guarantee_of(form)
    assert guarantee.pk in report.released
    assert guarantee.status == GuaranteeStatus.RELEASED
    assert guarantee.captured_amount == 0


# --- 4. Card holder name --------------------------------------------------------------------------


def test_card_holder_name_in_any_order_is_accepted(demo: Any) -> None:
    form = br_form(demo)  # traveler "Marie Dupont"
    prepayment = pay(demo, form, card_holder_name="DUPONT MARIE")
    assert prepayment.guarantee.status == GuaranteeStatus.AUTHORIZED


def test_card_holder_mismatch_names_both_names_and_the_word(demo: Any, api: Any) -> None:
    form = br_form(demo)
    with pytest.raises(CardHolderMismatch) as caught:
        pay(demo, form, card_holder_name="DURAND MARIE")
    assert caught.value.extra["unmatched_words"] == ["DURAND"]

    response = api(demo.clerk).post(
        f"/api/v1/forms/{form.number}/prepayment/",
        {"card_token": "tok_visa", "card_holder_name": "DURAND MARIE", "payout_method": "cash"},
        format="json",
    )
    data = response.json()
    assert response.status_code == 422 and data["code"] == "card_holder_mismatch"
    assert data["extra"]["card_holder_name"] == "DURAND MARIE"
    assert data["extra"]["traveler_name"] == "Marie Dupont"
    assert data["extra"]["unmatched_words"] == ["DURAND"]
    assert "'DURAND MARIE' does not match the traveler 'Marie Dupont'" in data["message"]
    assert not Prepayment.objects.exists()

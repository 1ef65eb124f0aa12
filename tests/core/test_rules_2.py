"""Rules 2.0 (issue 10): valid document, effective-dated windows, names, working days.

Pure functions only: no database.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import workdays
from core.rules import (
    InvoiceFacts,
    LineFacts,
    TravelerFacts,
    Window,
    agency_checks,
    document_expired,
    form_violations,
    name_words_unmatched,
    names_match,
    window_in_force,
)
from tests.core.test_rules import GOOD, P2025

D = Decimal
PURCHASE = date(2026, 3, 2)


def traveler(expires_on: date | None) -> TravelerFacts:
    return TravelerFacts(
        document_type="passport",
        nationality="FR",
        last_entry_date=PURCHASE - timedelta(days=5),
        document_expires_on=expires_on,
    )


def invoice(day: date = PURCHASE) -> InvoiceFacts:
    return InvoiceFacts(
        number="26311000000000000001",
        issued_on=day,
        store_id=1,
        lines=[LineFacts(vat_rate=D("0.13"), total=D("3600.00"))],
    )


# --- 1. Valid document -----------------------------------------------------------------


def test_a_document_expired_before_the_purchase_date_is_refused() -> None:
    found = form_violations(
        traveler=traveler(PURCHASE - timedelta(days=1)), invoices=[invoice()], policy=P2025
    )
    assert [v.code for v in found] == ["document_expired"]
    assert found[0].extra == {
        "document_expires_on": "2026-03-01",
        "purchase_date": "2026-03-02",
    }
    assert "expired on 2026-03-01" in found[0].message


def test_a_document_is_valid_through_its_expiry_date() -> None:
    assert form_violations(traveler=traveler(PURCHASE), invoices=[invoice()], policy=P2025) == []
    assert not document_expired(PURCHASE, PURCHASE)
    assert document_expired(PURCHASE, PURCHASE + timedelta(days=1))


def test_an_unknown_expiry_is_not_refused() -> None:
    # Forms from before expiry dates were recorded, and API callers without it.
    assert form_violations(traveler=traveler(None), invoices=[invoice()], policy=P2025) == []
    assert not document_expired(None, PURCHASE)


def test_check_b_fails_when_the_document_expired_on_the_refund_day() -> None:
    facts = replace(GOOD, document_expires_on=date(2026, 3, 10), refund_date=date(2026, 3, 11))
    b = next(c for c in agency_checks(facts) if c.code == "B")
    assert not b.passed
    assert b.detail == (
        "The document expired on 2026-03-10: an expired document is not valid for a refund."
    )


def test_check_b_passes_on_the_expiry_day_and_when_the_expiry_is_unknown() -> None:
    on_the_day = replace(GOOD, document_expires_on=date(2026, 3, 10), refund_date=date(2026, 3, 10))
    unknown = replace(GOOD, document_expires_on=None, refund_date=date(2026, 3, 10))
    for facts in (on_the_day, unknown):
        b = next(c for c in agency_checks(facts) if c.code == "B")
        assert b.passed, b.detail


# --- 2. Buy & Refund windows, effective-dated --------------------------------------------

SHANGHAI = Window(effective_from=date(2025, 4, 27), days=17, region_code="31")
NATIONWIDE = Window(effective_from=date(2026, 7, 1), days=28, region_code=None)
ROWS = [SHANGHAI, NATIONWIDE]


@pytest.mark.parametrize(
    ("region", "purchase", "days"),
    [
        ("31", date(2026, 6, 30), 17),  # before 2.0: the Shanghai pilot's window
        ("31", date(2026, 7, 1), 28),  # from 2026-07-01 the nationwide row supersedes it
        ("11", date(2026, 6, 30), None),  # Beijing had no window before
        ("11", date(2026, 7, 1), 28),
        ("44", date(2027, 1, 15), 28),
    ],
)
def test_the_purchase_date_picks_the_window(region: str, purchase: date, days: int | None) -> None:
    window = window_in_force(ROWS, region_code=region, on=purchase)
    assert (window.days if window else None) == days


def test_a_later_regional_row_overrides_the_nationwide_one_and_wins_a_tie() -> None:
    later = Window(effective_from=date(2026, 9, 1), days=21, region_code="31")
    same_day = Window(effective_from=date(2026, 7, 1), days=30, region_code="44")
    rows = [*ROWS, later, same_day]
    assert window_in_force(rows, region_code="31", on=date(2026, 8, 31)) == NATIONWIDE
    assert window_in_force(rows, region_code="31", on=date(2026, 9, 1)) == later
    assert window_in_force(rows, region_code="44", on=date(2026, 7, 1)) == same_day
    assert window_in_force(rows, region_code="11", on=date(2026, 9, 1)) == NATIONWIDE


# --- 4. Card holder name ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("holder", "traveler_name"),
    [
        ("SMITH JOHN", "John Smith"),
        ("john  smith", "JOHN SMITH"),
        ("SMITH, JOHN", "John Smith"),
        ("DUPONT MARIE CLAIRE", "Marie-Claire Dupont"),
        ("MARIEDUPONT", "Marie Dupont"),
        ("ZHANG SANFENG", "Zhang San Feng"),
        ("JOSE GARCIA", "José García"),
    ],
)
def test_names_match_as_words_whatever_their_order_case_and_spacing(
    holder: str, traveler_name: str
) -> None:
    assert names_match(holder, traveler_name)
    assert names_match(traveler_name, holder)


@pytest.mark.parametrize(
    ("holder", "traveler_name"),
    [
        ("Marie Durand", "Marie Dupont"),
        ("JOHN", "John Smith"),
        ("SMITH JOHN PETER", "John Smith"),
        ("", "John Smith"),
    ],
)
def test_other_names_do_not_match(holder: str, traveler_name: str) -> None:
    assert not names_match(holder, traveler_name)


def test_the_words_that_did_not_match_are_named() -> None:
    assert name_words_unmatched("SMYTH JOHN", "John Smith") == ["smyth"]
    assert name_words_unmatched("JOHN SMITH", "John Smith") == []


# --- 3. Working days on the Chinese calendar ------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # 2025 Spring Festival: Jan 28 - Feb 4 off; Sunday Jan 26 and Saturday Feb 8 worked.
        (date(2025, 1, 26), True),
        (date(2025, 1, 28), False),
        (date(2025, 2, 4), False),
        (date(2025, 2, 8), True),
        # 2025 Labour Day: May 1-5 off; Sunday Apr 27 worked.
        (date(2025, 4, 27), True),
        (date(2025, 5, 5), False),
        # 2025 National Day and Mid-Autumn: Oct 1-8 off; Sep 28 and Oct 11 worked.
        (date(2025, 9, 28), True),
        (date(2025, 10, 8), False),
        (date(2025, 10, 11), True),
        # 2026 Spring Festival: Feb 15-23 off; Saturdays Feb 14 and Feb 28 worked.
        (date(2026, 2, 14), True),
        (date(2026, 2, 16), False),
        (date(2026, 2, 23), False),
        (date(2026, 2, 28), True),
        # 2026 Labour Day: May 1-5 off; Saturday May 9 worked.
        (date(2026, 5, 4), False),
        (date(2026, 5, 9), True),
        # 2026 National Day: Oct 1-7 off; Sunday Sep 20 and Saturday Oct 10 worked.
        (date(2026, 9, 20), True),
        (date(2026, 10, 5), False),
        (date(2026, 10, 10), True),
    ],
)
def test_the_official_calendar_knows_holidays_and_adjusted_working_days(
    day: date, working: bool
) -> None:
    assert workdays.is_working_day(day) is working


@pytest.mark.parametrize(
    ("deadline", "grace_until"),
    [
        # A deadline before the holiday: the grace runs past it, not through it.
        (date(2025, 1, 24), date(2025, 2, 5)),  # Fri; Sun 26 + Mon 27 worked, then Feb 5
        (date(2025, 4, 29), date(2025, 5, 7)),  # Tue; Wed 30, then May 6, 7
        (date(2025, 9, 29), date(2025, 10, 10)),  # Mon; Tue 30, then Oct 9, 10
        (date(2026, 2, 12), date(2026, 2, 24)),  # Thu; Fri 13, Sat 14 worked, then Feb 24
        (date(2026, 4, 29), date(2026, 5, 7)),  # Wed; Thu 30, then May 6, 7 (May 1-5 off)
        (date(2026, 9, 29), date(2026, 10, 9)),  # Tue; Wed 30, then Oct 8, 9
        # An adjusted working Saturday counts: Oct 8, 9, then Saturday Oct 10.
        (date(2026, 9, 30), date(2026, 10, 10)),
        (date(2026, 2, 25), date(2026, 2, 28)),  # Wed; Thu 26, Fri 27, Saturday 28 worked
    ],
)
def test_grace_of_three_working_days_over_the_holidays(deadline: date, grace_until: date) -> None:
    assert workdays.add_working_days(deadline, 3) == grace_until


def test_a_year_the_package_does_not_know_falls_back_to_monday_to_friday() -> None:
    assert not workdays.calendar_knows(date(2099, 10, 1))
    assert workdays.is_working_day(date(2099, 10, 1))  # a Thursday
    assert not workdays.is_working_day(date(2099, 10, 3))  # a Saturday
    assert workdays.add_working_days(date(2099, 10, 1), 3) == date(2099, 10, 6)


def test_overrides_win_over_the_package_and_the_fallback() -> None:
    overrides = {
        date(2099, 10, 1): False,
        date(2099, 10, 2): False,
        date(2099, 10, 3): True,  # an adjusted Saturday
        date(2026, 10, 10): False,  # a correction of a known year
    }
    assert workdays.add_working_days(date(2099, 9, 30), 3, overrides) == date(2099, 10, 6)
    assert workdays.add_working_days(date(2026, 9, 30), 3, overrides) == date(2026, 10, 12)


# --- Properties --------------------------------------------------------------------------

words = st.lists(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8), min_size=1, max_size=4
)


@given(words, st.randoms(use_true_random=False))
def test_names_match_whatever_the_order_case_and_spacing(name: list[str], random: Any) -> None:
    shuffled = list(name)
    random.shuffle(shuffled)
    assert names_match(" ".join(name), "  ".join(w.lower() for w in shuffled))
    assert names_match(" ".join(shuffled), " ".join(name))


@given(st.dates(min_value=date(2004, 1, 1), max_value=date(2030, 12, 31)), st.integers(0, 10))
def test_working_days_land_on_a_working_day_after_the_start(day: date, count: int) -> None:
    result = workdays.add_working_days(day, count)
    assert result >= day
    if count:
        assert result > day and workdays.is_working_day(result)
        assert workdays.add_working_days(day, count - 1) < result

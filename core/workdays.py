"""Working days on the official Chinese calendar (SPEC §2 Buy & Refund 4).

Public holidays are not working days; the adjusted weekend working days (调休)
are. The State Council's yearly arrangement comes from the maintained
``chinese-calendar`` package; for a year it does not know yet (it raises
NotImplementedError), Monday to Friday is assumed, and the administrator's
overrides (``core.models.WorkingDayOverride``) win over both.

Pure functions: the overrides are passed in; ``core.selectors`` reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import chinese_calendar

# No arrangement in the world has this many days off in a row: a guard against a loop.
MAX_DAYS_OFF_IN_A_ROW = 60


def calendar_knows(day: date) -> bool:
    """Whether the package has the official arrangement for ``day``'s year."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_working_day(day: date, overrides: Mapping[date, bool] | None = None) -> bool:
    """An override if the administrator set one, else the official calendar, else Mon-Fri."""
    if overrides and day in overrides:
        return overrides[day]
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def add_working_days(day: date, count: int, overrides: Mapping[date, bool] | None = None) -> date:
    """``day`` plus ``count`` working days: the ``count``-th working day after ``day``."""
    if count < 0:
        raise ValueError("count must not be negative")
    current = day
    added = 0
    off_in_a_row = 0
    while added < count:
        current += timedelta(days=1)
        if is_working_day(current, overrides):
            added += 1
            off_in_a_row = 0
        else:
            off_in_a_row += 1
            if off_in_a_row > MAX_DAYS_OFF_IN_A_ROW:
                raise ValueError(f"no working day for {MAX_DAYS_OFF_IN_A_ROW} days after {day}")
    return current

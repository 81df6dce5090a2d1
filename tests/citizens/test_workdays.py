"""Working-day deadlines: weekends and Greek public holidays (Orthodox Easter too) skipped."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.errors import InvalidInput
from core.workdays import add_working_days, due_date, is_working_day, working_days_between


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 4, 10), False),  # Good Friday (Orthodox)
        (date(2026, 4, 13), False),  # Easter Monday
        (date(2026, 6, 1), False),  # Holy Spirit Monday (Αγίου Πνεύματος)
        (date(2026, 8, 15), False),  # Dormition, a Saturday anyway
        (date(2025, 8, 15), False),  # Dormition on a Friday
        (date(2026, 2, 23), False),  # Clean Monday
        (date(2026, 11, 21), False),  # Saturday
        (date(2026, 11, 23), True),  # an ordinary Monday
        (date(2026, 4, 14), True),  # Tuesday after Easter
    ],
)
def test_is_working_day(day, expected):
    assert is_working_day(day) is expected


def test_easter_week_is_skipped():
    # Thursday 9 April 2026 + 1: Good Friday, the weekend and Easter Monday are not counted.
    assert add_working_days(date(2026, 4, 9), 1) == date(2026, 4, 14)
    # Catholic Easter Monday (6 April 2026) is an ordinary working day in Greece.
    assert is_working_day(date(2026, 4, 6))


def test_holy_spirit_monday_is_skipped():
    assert add_working_days(date(2026, 5, 29), 1) == date(2026, 6, 2)


def test_15_august_on_a_weekday_is_skipped():
    assert add_working_days(date(2025, 8, 14), 1) == date(2025, 8, 18)


def test_year_end_skips_christmas_and_new_year():
    # Wed 23 Dec 2026 + 5: 24 Thu, (25 Fri, 26-27 weekend), 28 Mon, 29, 30, 31, (1 Jan holiday), 4 Jan
    assert add_working_days(date(2026, 12, 23), 5) == date(2026, 12, 31)
    assert add_working_days(date(2026, 12, 23), 6) == date(2027, 1, 4)
    # Epiphany (6 Jan) is skipped as well.
    assert add_working_days(date(2027, 1, 5), 1) == date(2027, 1, 7)


def test_zero_days_is_today_or_the_next_working_day():
    assert add_working_days(date(2026, 11, 23), 0) == date(2026, 11, 23)
    assert add_working_days(date(2026, 11, 21), 0) == date(2026, 11, 23)


def test_negative_days_are_refused():
    with pytest.raises(InvalidInput, match="0 or more"):
        add_working_days(date(2026, 1, 2), -1)


def test_due_date_counts_in_athens_and_returns_utc():
    # 22:30 UTC on Friday 10 April 2026 is already Saturday 01:30 in Athens (UTC+3, summer).
    submitted = datetime(2026, 4, 10, 22, 30, tzinfo=UTC)
    due = due_date(submitted, 1)
    assert due.tzinfo == UTC
    # Athens Saturday 11 April + 1 working day: Sunday, Easter Monday skipped -> Tuesday 14th,
    # end of day 23:59:59 Athens = 20:59:59 UTC.
    assert due == datetime(2026, 4, 14, 20, 59, 59, tzinfo=UTC)


def test_due_date_in_winter_uses_utc_plus_two():
    due = due_date(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), 10)
    assert due == datetime(2026, 12, 7, 21, 59, 59, tzinfo=UTC)


def test_naive_datetimes_are_refused():
    with pytest.raises(InvalidInput, match="time zone"):
        due_date(datetime(2026, 1, 5, 9, 0), 1)


def test_working_days_between_is_the_inverse():
    start = date(2026, 4, 1)
    for n in range(30):
        assert working_days_between(start, add_working_days(start, n)) == n

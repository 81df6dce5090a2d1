"""Working days in Greece: legal deadlines count weekdays that are not public holidays.

Deadlines are set by people in Athens, so the counting happens on Europe/Athens calendar
dates; results are returned in UTC because that is what we store.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays

from core.clock import ATHENS
from core.errors import InvalidInput

#: A deadline ends at the close of its last working day, Athens time.
END_OF_DAY = time(23, 59, 59)


@lru_cache(maxsize=64)
def _greek_holidays(year: int) -> holidays.HolidayBase:
    # One calendar per year, cached: building it computes Orthodox Easter and its moving feasts.
    return holidays.country_holidays("GR", years=year)


def is_holiday(day: date) -> bool:
    """Whether ``day`` is a Greek public holiday (Orthodox Easter and its feasts included)."""
    return day in _greek_holidays(day.year)


def is_working_day(day: date) -> bool:
    """Whether ``day`` is a weekday that is not a Greek public holiday."""
    return day.weekday() < 5 and not is_holiday(day)


def add_working_days(start: date, working_days: int) -> date:
    """The date ``working_days`` working days after ``start`` (``start`` itself not counted).

    With 0 the answer is ``start`` if it is a working day, else the next working day.
    """
    if working_days < 0:
        raise InvalidInput(f"A deadline needs 0 or more working days, not {working_days}.")
    day = start
    if working_days == 0:
        while not is_working_day(day):
            day += timedelta(days=1)
        return day
    remaining = working_days
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def athens_date(moment: datetime) -> date:
    """The Athens calendar date of an aware ``moment``."""
    if moment.tzinfo is None:
        raise InvalidInput("Times must carry a time zone (Polis stores UTC); got a naive datetime.")
    return moment.astimezone(ATHENS).date()


def due_date(submitted_at_utc: datetime, working_days: int) -> datetime:
    """When a request submitted at ``submitted_at_utc`` is due: the end (Athens) of the
    ``working_days``-th working day after the submission day, as an aware UTC datetime."""
    last_day = add_working_days(athens_date(submitted_at_utc), working_days)
    return datetime.combine(last_day, END_OF_DAY, tzinfo=ATHENS).astimezone(UTC)


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 if ``end`` <= ``start``)."""
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count

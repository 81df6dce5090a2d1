"""Time as Polis keeps it: aware UTC in storage, the Athens calendar for people and series.

Yearly series (case numbers, protocol numbers) follow the calendar year in Athens: a case
opened at 23:30 on 31 December Athens time (21:30 UTC) belongs to that year, and one opened
at 00:10 on 1 January Athens time (22:10 UTC the day before) to the new one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

ATHENS = ZoneInfo("Europe/Athens")


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def athens_year(moment: datetime) -> int:
    """The Athens calendar year of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("athens_year needs an aware datetime (UTC in storage)")
    return moment.astimezone(ATHENS).year

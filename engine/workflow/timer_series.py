"""When a timer start event fires: Camunda's timer literals as a series of occurrences.

What a timer start event may say (as Camunda Modeler writes it):

* ``timeDate``: one occurrence at that moment (``2027-01-04T08:00:00+02:00``; a date
  without a zone is Athens time);
* ``timeDuration``: one occurrence that long after the deployment (``PT10M``, ``P1D``);
* ``timeCycle``: an ISO 8601 repeating interval ``R[n]/[start/]duration`` (``R/P1D``,
  ``R5/PT1H``, ``R/2027-01-01T08:00:00+02:00/P1W``; without a start the first occurrence
  is one period after the deployment, as in Camunda), or a cron expression in Camunda's
  (Quartz) form, seconds first: ``0 0 8 ? * MON-FRI``.

The calendar parts of a period (years, months, weeks, days) are added in Europe/Athens
wall-clock time and the clock parts (hours, minutes, seconds) as elapsed time, so
``R/2027-01-01T08:00:00+02:00/P1D`` fires at 08:00 Athens time in summer too, as Camunda
does on a server that runs in Athens time (Java adds such periods to a Calendar). Cron
expressions are read in Athens time as well. Occurrence *k* is computed from the series'
first occurrence, never from the previous firing, so late firings do not drift.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from dateutil.relativedelta import relativedelta
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from core.clock import ATHENS

KINDS = ("timeDate", "timeDuration", "timeCycle")
#: A cron expression: six fields, seconds first (Quartz, as Camunda takes them).
_CRON_FIELDS = 6
_MAX_CRON_STEPS = 100_000
EXAMPLES = "R/P1D, R5/PT1H, R/2027-01-01T08:00:00+02:00/P1W or a cron expression like 0 0 8 ? * MON-FRI"


class TimerExpressionError(ValueError):
    """A timer start expression that Polis cannot schedule; the message says why."""


@dataclass(frozen=True)
class Period:
    """An ISO 8601 duration split into calendar parts (wall clock) and clock parts (elapsed)."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: float = 0
    clock: timedelta = timedelta(0)

    def times(self, k: int) -> tuple[relativedelta, timedelta]:
        """``k`` periods: the calendar part and the elapsed part."""
        calendar = relativedelta(years=k * self.years, months=k * self.months, weeks=k * self.weeks)
        return calendar + timedelta(days=k * self.days), k * self.clock

    def approx_seconds(self) -> float:
        """The length in seconds, months counted as 30.44 days (to estimate an index)."""
        days = self.years * 365.25 + self.months * 30.44 + self.weeks * 7 + self.days
        return days * 86400 + self.clock.total_seconds()


@dataclass(frozen=True)
class Step:
    """Where a series stands after a firing: the next occurrence and what is left."""

    next_due: datetime | None
    #: Occurrences still to come, the next one included; None for a series without end.
    remaining: int | None
    #: Occurrences that came due while no worker fired them, besides the one that fired.
    missed: int


@dataclass(frozen=True)
class TimerSeries:
    """The occurrences of one timer start event, all derived from its first one."""

    kind: str
    expression: str
    first: datetime  # UTC; for cron, the moment the search starts from (the deployment)
    total: int | None = None  # occurrences in all; None = no end
    period: Period | None = None
    cron: str | None = None

    def occurrence(self, k: int) -> datetime:
        """The ``k``-th occurrence (0-based) of an ISO series, in UTC."""
        if self.period is None or k == 0:
            return self.first
        calendar, clock = self.period.times(k)
        # relativedelta keeps the wall-clock time (same tzinfo), the UTC offset follows DST.
        local: datetime = self.first.astimezone(ATHENS) + calendar
        return local.astimezone(UTC) + clock

    def initial(self, now: datetime) -> Step:
        """The state at deployment: a single occurrence stands even if it is already past
        (it fires at once, as in Camunda); a cycle starts at its first occurrence from now."""
        if self.total == 1 and self.period is None and self.cron is None:
            return Step(self.first, 1, 0)
        if self.cron is not None:
            return Step(self._cron_after(self.first - timedelta(seconds=1)), None, 0)
        return self.after(now - timedelta(microseconds=1), due=None)

    def after(self, now: datetime, due: datetime | None) -> Step:
        """The state after firing at ``now`` the occurrence that was due at ``due``.

        Catch-up policy: however many occurrences passed while no worker ran, one case
        was started for them; the series goes on at its first occurrence after ``now``,
        and the ones skipped count as used (the series keeps its calendar).
        """
        if self.cron is not None:
            return self._cron_step(now, due)
        if self.period is None:
            return Step(None, 0, 0)
        k = self._index_after(now)
        missed = 0 if due is None else max(0, k - self._index_after(due))
        if self.total is not None and k >= self.total:
            return Step(None, 0, missed)
        return Step(self.occurrence(k), None if self.total is None else self.total - k, missed)

    def _index_after(self, moment: datetime) -> int:
        """The index of the first occurrence strictly after ``moment``."""
        assert self.period is not None
        elapsed = (moment - self.first).total_seconds()
        if elapsed < 0:
            return 0
        k = max(0, math.floor(elapsed / self.period.approx_seconds()) - 2)
        while k > 0 and self.occurrence(k - 1) > moment:
            k -= 1
        while self.occurrence(k) <= moment:
            k += 1
        return k

    def _cron_after(self, moment: datetime) -> datetime:
        assert self.cron is not None
        found: datetime = croniter(self.cron, moment.astimezone(ATHENS), second_at_beginning=True).get_next(
            datetime
        )
        return found.astimezone(UTC)

    def _cron_step(self, now: datetime, due: datetime | None) -> Step:
        missed = 0
        if due is not None:
            moment = self._cron_after(due)
            while moment <= now and missed < _MAX_CRON_STEPS:
                missed += 1
                moment = self._cron_after(moment)
        return Step(self._cron_after(now), None, missed)


def parse_timer(kind: str, text: str, deployed_at: datetime, first: datetime | None = None) -> TimerSeries:
    """The series a timer start event describes; ``first`` restores a stored series.

    Raises TimerExpressionError with the reason when the text cannot be scheduled.
    """
    expression = " ".join(text.split())
    if not expression:
        raise TimerExpressionError(f"the {kind} is empty; write e.g. {EXAMPLES}")
    if expression.startswith(("${", "#{")):
        raise TimerExpressionError(
            f"'{expression}' is an expression, but a timer start event has no case data to read "
            f"it from; write a literal such as {EXAMPLES}"
        )
    if kind == "timeDate":
        return TimerSeries(kind, expression, first or _moment(expression), total=1)
    if kind == "timeDuration":
        period = _period(expression)
        return TimerSeries(kind, expression, first or _add(deployed_at, period), total=1)
    if kind != "timeCycle":
        raise TimerExpressionError(f"unknown timer kind {kind}; use one of {', '.join(KINDS)}")
    if len(expression.split(" ")) > 1:
        return TimerSeries(kind, expression, first or deployed_at, cron=_cron(expression))
    return _cycle(expression, deployed_at, first)


def _cycle(expression: str, deployed_at: datetime, first: datetime | None) -> TimerSeries:
    parts = expression.split("/")
    match = re.fullmatch(r"R(\d*)", parts[0].upper())
    if match is None or len(parts) not in (2, 3):
        raise TimerExpressionError(
            f"'{expression}' is neither an ISO 8601 repeating interval nor a cron expression; "
            f"write e.g. {EXAMPLES}"
        )
    total = int(match.group(1)) if match.group(1) else None
    if total == 0:
        raise TimerExpressionError(f"'{expression}' repeats zero times; write R1/... or more, or R/... ")
    if len(parts) == 2:
        period = _period(parts[1])
        start = first or _add(deployed_at, period)
    else:
        if parts[1].upper().startswith("P"):
            raise TimerExpressionError(
                f"'{expression}': a cycle that ends at a date is not supported; "
                "write it from its start, R[n]/start/duration"
            )
        period = _period(parts[2])
        start = first or _moment(parts[1])
    return TimerSeries("timeCycle", expression, start, total=total, period=period)


def _period(text: str) -> Period:
    try:
        parsed: dict[str, Any] = TimerEventDefinition.parse_iso_duration(text.upper())
    except Exception:
        parsed = {}
    if not text.upper().startswith("P") or not parsed:
        raise TimerExpressionError(f"'{text}' is not an ISO 8601 duration; write e.g. P1D, PT1H or P1W")
    years, months = parsed.get("years", 0), parsed.get("months", 0)
    if years != int(years) or months != int(months):
        raise TimerExpressionError(f"'{text}': years and months must be whole numbers")
    period = Period(
        years=int(years),
        months=int(months),
        weeks=int(parsed.get("weeks", 0)),
        days=parsed.get("days", 0),
        clock=timedelta(
            hours=parsed.get("hours", 0), minutes=parsed.get("minutes", 0), seconds=parsed.get("seconds", 0)
        ),
    )
    if period.approx_seconds() < 1:
        raise TimerExpressionError(f"'{text}' is shorter than a second; a cycle needs a period")
    return period


def _add(moment: datetime, period: Period) -> datetime:
    return TimerSeries("timeCycle", "", moment, period=period).occurrence(1)


def _moment(text: str) -> datetime:
    try:
        if "W" in text.upper():
            return TimerEventDefinition.parse_iso_week(text).astimezone(UTC)  # type: ignore[no-any-return]
        moment = datetime.fromisoformat(text)
    except (ValueError, AttributeError):
        raise TimerExpressionError(
            f"'{text}' is not an ISO 8601 date and time; write e.g. 2027-01-04T08:00:00+02:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ATHENS)  # people write Athens time
    return moment.astimezone(UTC)


def _cron(expression: str) -> str:
    fields = expression.split(" ")
    if len(fields) != _CRON_FIELDS:
        raise TimerExpressionError(
            f"'{expression}' is neither an ISO 8601 repeating interval nor a cron expression (which "
            f"has six fields, seconds first: second minute hour day-of-month month day-of-week); "
            f"write e.g. {EXAMPLES}"
        )
    if any(ch.isdigit() for ch in fields[5]):
        # Quartz counts days 1=SUN..7=SAT, Unix cron 0=SUN..6=SAT: names cannot be misread.
        raise TimerExpressionError(
            f"'{expression}': write the days of the week by name (MON-FRI, SAT,SUN), not by number"
        )
    if not croniter.is_valid(expression, second_at_beginning=True):
        raise TimerExpressionError(
            f"'{expression}' is not a valid cron expression; write e.g. 0 0 8 ? * MON-FRI"
        )
    return expression

"""Fire due timer start events: each occurrence starts one case, exactly once.

The worker's sweep (engine.workflow.jobs, every minute) calls :func:`fire_due_timer_start` in a
transaction of its own per occurrence: the schedule row is locked with ``FOR UPDATE SKIP
LOCKED`` (a second worker passes over it instead of waiting, and once the first commits
the row is no longer due), the case is started through ``engine.workflow.commands.start_case``
(actor "system", its ``case_started`` audit event carries the occurrence it was started
for), and the row moves to its next occurrence — all in that one transaction, so a crash
before the commit starts nothing and leaves the occurrence due.

Catch-up policy: when several occurrences passed while no worker ran, ONE case is started
for the whole missed period, and the schedule goes on with the first occurrence after
now; the skipped ones count as used (an ``R5/PT1H`` series ends when its calendar says).
BPMN 2.0 leaves catch-up open; this is what Camunda settled on (camunda/camunda pull
request 10054, "Avoid timer cycle with start time triggering multiple times": after a
restart the overdue timer triggers once and the next one is scheduled in the future),
rather than replaying every missed occurrence: a burst of identical daily report cases
after a weekend outage helps nobody, and the case records how many occurrences it stands
for (``missed_occurrences``). A process that must account for every period reads
``scheduled_for`` and ``missed_occurrences`` from its case data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import utcnow
from core.errors import ConfigurationError
from core.workdays import athens_date, is_working_day
from engine.workflow.commands import start_case
from engine.workflow.directory import directory
from engine.workflow.models import TimerSchedule
from engine.workflow.schedules import series_of
from engine.workflow.timer_series import Step

log = logging.getLogger(__name__)
#: A schedule whose case could not start is tried again this much later (with its error shown).
RETRY_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class TimerStartFired:
    """One occurrence that started a case."""

    process_id: str
    case_id: Any
    case_number: str
    version: int
    due_at: datetime
    missed: int


@dataclass(frozen=True)
class TimerStartSkipped:
    """One occurrence passed over: it fell on a non-working day of a working-days schedule."""

    process_id: str
    due_at: datetime


def fire_due_timer_start(
    session: Session, now: datetime | None = None, current: list[str] | None = None
) -> TimerStartFired | TimerStartSkipped | None:
    """Start the case of the earliest due, unlocked schedule in ``session`` (the caller commits).

    A schedule with ``working_days_only`` passes over an occurrence on a weekend or a Greek
    public holiday (Europe/Athens date) without a case; after an outage the one catch-up
    case still starts whatever the day. None when nothing is due. ``current`` receives the
    process id as it is taken, so a caller whose transaction failed knows which schedule to
    postpone.
    """
    now = now or utcnow()
    schedule = session.scalars(
        select(TimerSchedule)
        .where(TimerSchedule.next_due_at <= now, TimerSchedule.paused.is_(False))
        .order_by(TimerSchedule.next_due_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if schedule is None:
        return None
    if current is not None:
        current.append(schedule.process_id)
    due = schedule.next_due_at
    assert due is not None
    step = series_of(schedule).after(now, due)
    if schedule.working_days_only and not step.missed and not is_working_day(athens_date(due)):
        # A weekend or a public holiday: this occurrence starts nothing; the series goes on.
        log.info("timer start of %s: %s is not a working day, no case", schedule.process_id, due)
        _move_on(session, schedule, step, now)
        return TimerStartSkipped(schedule.process_id, due)
    department_id = _department(session, schedule)
    data: dict[str, Any] = {"scheduled_for": due.isoformat(), "timer_start": schedule.element_id}
    if step.missed:
        data["missed_occurrences"] = step.missed
    case = start_case(session, schedule.process_id, department_id=department_id, data=data)
    if case.definition.id != schedule.definition_id:  # deploy moves the row with the version
        log.warning("timer start of %s: schedule and newest version disagree", schedule.process_id)
    schedule.last_fired_at, schedule.last_case_id = now, case.id
    _move_on(session, schedule, step, now)
    return TimerStartFired(
        schedule.process_id, case.id, case.number, case.definition.version, due, step.missed
    )


def _move_on(session: Session, schedule: TimerSchedule, step: Step, now: datetime) -> None:
    """Put the schedule on its next occurrence; the one just handled went fine."""
    schedule.next_due_at, schedule.remaining = step.next_due, step.remaining
    schedule.last_error = None
    schedule.updated_at = now
    session.flush()


def _department(session: Session, schedule: TimerSchedule) -> Any:
    if schedule.department is None:
        return None
    department_id = directory().unit_by_code(session, schedule.department)
    if department_id is None:
        raise ConfigurationError(
            f"process {schedule.process_id} starts its cases in department {schedule.department}, "
            "which does not exist; create it, or change the start event's department property and "
            "deploy again."
        )
    return department_id


def fire_due_timer_starts(
    factory: sessionmaker[Session], now: datetime | None = None, limit: int = 100
) -> int:
    """Fire due schedules, one transaction each, until none is due; return how many started a case.

    A failing one (its department is missing, the process cannot start) keeps its
    occurrence, shows the error in ``polis processes schedules`` and is tried again later.
    """
    started = 0
    for _ in range(limit):
        current: list[str] = []
        try:
            with factory.begin() as session:
                fired = fire_due_timer_start(session, now, current)
                if fired is None:
                    break
            if isinstance(fired, TimerStartFired):
                started += 1
        except Exception as exc:
            log.exception("timer start of %s failed", current[-1] if current else "?")
            # Without a schedule to blame, or unable to record it, the next sweep tries again.
            if not current or not postpone_schedule(factory, current[-1], exc, now):
                break
    return started


def postpone_schedule(
    factory: sessionmaker[Session], process_id: str, exc: BaseException, now: datetime | None = None
) -> bool:
    """Record why a schedule's case did not start and retry after RETRY_AFTER; False if that failed."""
    now = now or utcnow()
    try:
        with factory.begin() as session:
            session.execute(
                update(TimerSchedule)
                .where(TimerSchedule.process_id == process_id, TimerSchedule.next_due_at.is_not(None))
                .values(
                    next_due_at=now + RETRY_AFTER, last_error=f"{type(exc).__name__}: {exc}", updated_at=now
                )
            )
    except Exception:
        log.exception("could not postpone the timer start of %s", process_id)
        return False
    return True

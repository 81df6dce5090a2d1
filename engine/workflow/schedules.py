"""Schedules of timer start events: written at deploy, listed, paused.

engine.workflow.timer_starts fires them.

One row per process. Deploying a version of a process with a timer start event puts the
row on that version; a version without one removes the row. When the new version keeps
the same timer expression the row keeps its place in the series (next occurrence,
repetitions left): redeploying a fixed form does not restart an ``R5/…`` count or move a
daily start (Camunda reschedules on every version, which its own issue 6515 found
surprising). A changed expression starts afresh from the deployment, as in Camunda.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import NotFound
from engine.workflow.bpmn.timer_start import TimerStart
from engine.workflow.models import ProcessDefinition, TimerSchedule
from engine.workflow.timer_series import TimerSeries, parse_timer


def series_of(schedule: TimerSchedule) -> TimerSeries:
    """The stored schedule's series (its first occurrence as stored, not recomputed)."""
    return parse_timer(schedule.kind, schedule.expression, schedule.first_at, first=schedule.first_at)


def replace_schedule(
    session: Session, definition: ProcessDefinition, timer: TimerStart | None, now: datetime | None = None
) -> TimerSchedule | None:
    """Point the process's schedule at ``definition`` (just deployed, the newest version)."""
    now = now or utcnow()
    # Waits for a firing in progress (which holds the row), so no occurrence is lost or doubled.
    existing = session.get(TimerSchedule, definition.process_id, with_for_update=True)
    if timer is None:
        if existing is not None:
            session.delete(existing)
            session.flush()
        return None
    if existing is not None and (existing.kind, existing.expression) == (timer.kind, timer.expression):
        schedule = existing
    else:
        series = parse_timer(timer.kind, timer.expression, now)
        step = series.initial(now)
        schedule = existing or TimerSchedule(process_id=definition.process_id, paused=False)
        schedule.kind, schedule.expression = timer.kind, timer.expression
        schedule.first_at, schedule.next_due_at, schedule.remaining = (
            series.first,
            step.next_due,
            step.remaining,
        )
        schedule.last_error = None
    schedule.definition_id = definition.id
    schedule.element_id, schedule.element_name = timer.element_id, timer.name
    schedule.department = timer.department
    schedule.working_days_only = timer.working_days_only
    schedule.updated_at = now
    session.add(schedule)
    session.flush()
    return schedule


def list_schedules(session: Session) -> list[tuple[TimerSchedule, int]]:
    """Every schedule with the version it starts, soonest first (finished ones last)."""
    rows = session.execute(
        select(TimerSchedule, ProcessDefinition.version)
        .join(ProcessDefinition, ProcessDefinition.id == TimerSchedule.definition_id)
        .order_by(TimerSchedule.next_due_at.asc().nulls_last(), TimerSchedule.process_id)
    ).all()
    return [(row[0], row[1]) for row in rows]


def set_paused(session: Session, process_id: str, paused: bool) -> TimerSchedule:
    """Pause or resume a process's timer start; a resumed series goes on from now."""
    schedule = session.get(TimerSchedule, process_id, with_for_update=True)
    if schedule is None:
        raise NotFound(
            f"process '{process_id}' has no timer start schedule; list them with `polis processes schedules`."
        )
    now = utcnow()
    if schedule.paused and not paused and schedule.next_due_at is not None and schedule.next_due_at < now:
        # Occurrences that fell in the pause are not caught up: pausing means "start none".
        step = series_of(schedule).after(now, None)
        schedule.next_due_at, schedule.remaining = step.next_due, step.remaining
    schedule.paused = paused
    schedule.updated_at = now
    session.flush()
    return schedule

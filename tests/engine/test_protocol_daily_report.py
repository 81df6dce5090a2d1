"""protocol_daily_report.bpmn: the clock starts it every working day at 08:00 (Athens) and a
Protocol clerk finishes it; saved and restored through PostgreSQL at every step."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import ATHENS
from core.workdays import is_working_day
from engine.people.models import Department, User
from engine.workflow import cache as workflow_cache
from engine.workflow.audit import verify_audit
from engine.workflow.commands import claim_task, complete_task
from engine.workflow.errors import FormInvalid
from engine.workflow.models import Case, CaseTask, TimerSchedule
from engine.workflow.timer_starts import TimerStartFired, TimerStartSkipped, fire_due_timer_start
from tests.engine.conftest import Org

PROCESS = "protocol_daily_report"


def protocol_office(session: Session) -> tuple[Department, User]:
    """The PROT department the start event names, with a protocol clerk."""
    office = session.scalar(select(Department).where(Department.code == "PROT"))
    if office is None:
        office = Department(code="PROT", name_el="Γραφείο Πρωτοκόλλου", name_en="Protocol Office")
        session.add(office)
        session.flush()
    clerk = User(
        username=f"prot-{uuid.uuid4().hex[:8]}",
        full_name="Protocol Clerk",
        department_id=office.id,
        roles=["protocol_clerk"],
    )
    session.add(clerk)
    session.flush()
    return office, clerk


def schedule(session: Session) -> TimerSchedule:
    session.expire_all()
    row = session.get(TimerSchedule, PROCESS)
    assert row is not None
    return row


def only_task(session: Session, case_id: uuid.UUID) -> CaseTask:
    workflow_cache.clear()  # the next command restores the workflow from the database
    session.expire_all()
    [task] = session.scalars(select(CaseTask).where(CaseTask.case_id == case_id)).all()
    return task


def test_daily_report_runs_every_working_day_to_completion(db_session: Session, org: Org) -> None:
    office, clerk = protocol_office(db_session)
    due = schedule(db_session).next_due_at
    assert due is not None
    local = due.astimezone(ATHENS)
    assert (local.hour, local.minute) == (8, 0) and local.weekday() < 5
    assert fire_due_timer_start(db_session, due - timedelta(seconds=1)) is None

    fired = fire_due_timer_start(db_session, due + timedelta(seconds=30))
    while isinstance(fired, TimerStartSkipped):  # a Greek public holiday: no report that day
        assert not is_working_day(local.date())
        due = schedule(db_session).next_due_at
        assert due is not None
        local = due.astimezone(ATHENS)
        fired = fire_due_timer_start(db_session, due + timedelta(seconds=30))
    assert isinstance(fired, TimerStartFired) and fired.process_id == PROCESS
    task = only_task(db_session, fired.case_id)
    assert (task.bpmn_id, task.role, task.department_id) == (
        "check_unregistered",
        "protocol_clerk",
        office.id,
    )

    claim_task(db_session, task.task_id, clerk)
    task = only_task(db_session, fired.case_id)
    with pytest.raises(FormInvalid):
        complete_task(db_session, task.task_id, {"unregistered_count": -1}, clerk)
    complete_task(db_session, task.task_id, {"unregistered_count": 3, "note": "three letters"}, clerk)
    workflow_cache.clear()
    db_session.expire_all()
    case = db_session.get(Case, fired.case_id)
    assert case is not None and case.status == "completed" and case.milestone == "Checked"
    assert case.data["unregistered_count"] == 3
    assert verify_audit(db_session, case.id) == []

    # The next start is the next working day at 08:00; Friday's is followed by Monday's.
    following = schedule(db_session).next_due_at
    assert following is not None
    expected = local + timedelta(days=3 if local.weekday() == 4 else 1)
    assert following.astimezone(ATHENS) == expected  # holidays are passed over when they come
    assert schedule(db_session).working_days_only

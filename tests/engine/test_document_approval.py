"""document_approval.bpmn run to completion, saved and restored through PostgreSQL at every step."""

from __future__ import annotations

import uuid

import pytest
import time_machine
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.workflow.audit import case_history, verify_audit
from engine.workflow.commands import claim_task, complete_task, start_case
from engine.workflow.errors import TaskForbidden
from engine.workflow.models import Case, CaseTask, Wakeup
from engine.workflow.task_index import my_tasks
from engine.workflow.timers import fire_due_wakeups_in
from tests.engine.conftest import Org


def open_tasks(session: Session, case_id: uuid.UUID) -> list[CaseTask]:
    return list(session.scalars(select(CaseTask).where(CaseTask.case_id == case_id)))


def only_task(session: Session, case_id: uuid.UUID) -> CaseTask:
    session.expire_all()  # every step reads back what the database holds
    tasks = open_tasks(session, case_id)
    assert len(tasks) == 1, tasks
    return tasks[0]


def test_prepare_return_then_approve(db_session: Session, org: Org) -> None:
    case = start_case(
        db_session,
        "document_approval",
        department_id=org.department.id,
        started_by=org.clerk,
    )
    prepare = only_task(db_session, case.id)
    assert (prepare.bpmn_id, prepare.role, prepare.department_id) == (
        "Task_Prepare",
        "clerk",
        org.department.id,
    )
    claim_task(db_session, prepare.task_id, org.clerk)
    complete_task(db_session, prepare.task_id, {"title": "Άδεια", "body": "..."}, org.clerk)

    review = only_task(db_session, case.id)
    assert (review.bpmn_id, review.role) == ("Task_Review", "head")
    assert review.due_at is not None  # the SLA timer gives the due date
    complete_task(
        db_session,
        review.task_id,
        {"decision": "return", "comment": "fix the title"},
        org.head,
    )

    prepare = only_task(db_session, case.id)
    assert prepare.bpmn_id == "Task_Prepare"
    complete_task(db_session, prepare.task_id, {"title": "Άδεια (v2)"}, org.clerk2)
    review = only_task(db_session, case.id)
    complete_task(db_session, review.task_id, {"decision": "approve"}, org.head)

    row = db_session.get(Case, case.id)
    assert row is not None
    db_session.refresh(row)
    assert (row.status, row.milestone) == ("completed", "Approved")
    assert row.closed_at is not None and row.number.startswith(f"{row.created_at.year}/")
    assert open_tasks(db_session, case.id) == []
    assert db_session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).all() == []
    actions = [e.action for e in case_history(db_session, case.id)]
    assert actions == [
        "case_started", "task_claimed", "task_completed", "task_completed",
        "task_completed", "task_completed", "case_completed",
    ]  # fmt: skip
    assert verify_audit(db_session, case.id) == []


def test_reject(db_session: Session, org: Org) -> None:
    case = start_case(db_session, "document_approval", department_id=org.department.id)
    complete_task(db_session, only_task(db_session, case.id).task_id, {"title": "x"}, org.clerk)
    complete_task(
        db_session,
        only_task(db_session, case.id).task_id,
        {"decision": "reject"},
        org.head,
    )
    row = db_session.get(Case, case.id)
    assert row is not None
    db_session.refresh(row)
    assert (row.status, row.milestone) == ("completed", "Rejected")


def test_sla_escalates_to_the_substitute(db_session: Session, org: Org) -> None:
    case = start_case(db_session, "document_approval", department_id=org.department.id)
    complete_task(db_session, only_task(db_session, case.id).task_id, {"title": "x"}, org.clerk)
    review = only_task(db_session, case.id)
    assert review.due_at is not None
    assert fire_due_wakeups_in(db_session) == 0  # not due yet
    with time_machine.travel(review.due_at.timestamp() + 60, tick=False):
        assert fire_due_wakeups_in(db_session) == 1
        assert fire_due_wakeups_in(db_session) == 0  # fires once
    substitute_task = only_task(db_session, case.id)
    assert substitute_task.bpmn_id == "Task_SubstituteReview"
    assert substitute_task.assignee_id == org.substitute.id
    complete_task(db_session, substitute_task.task_id, {"decision": "approve"}, org.substitute)
    row = db_session.get(Case, case.id)
    assert row is not None
    db_session.refresh(row)
    assert row.status == "completed"
    assert "timer_fired" in [e.action for e in case_history(db_session, case.id)]
    assert verify_audit(db_session, case.id) == []


def test_a_substitute_without_the_head_role_never_receives_the_approval(
    db_session: Session, org: Org
) -> None:
    # The four-eyes hole: the department names a plain clerk as substitute head.
    org.department.substitute_user_id = org.clerk2.id
    db_session.flush()
    case = start_case(db_session, "document_approval", department_id=org.department.id)
    complete_task(db_session, only_task(db_session, case.id).task_id, {"title": "x"}, org.clerk)
    review = only_task(db_session, case.id)
    assert review.due_at is not None
    with time_machine.travel(review.due_at.timestamp() + 60, tick=False):
        assert fire_due_wakeups_in(db_session) == 1
    escalated = only_task(db_session, case.id)
    assert escalated.bpmn_id == "Task_SubstituteReview"
    assert escalated.assignee_id is None  # not pre-assigned to the clerk
    assert escalated.task_id not in {item.task_id for item in my_tasks(db_session, org.clerk2)}
    with pytest.raises(TaskForbidden):
        claim_task(db_session, escalated.task_id, org.clerk2)
    with pytest.raises(TaskForbidden):
        complete_task(db_session, escalated.task_id, {"decision": "approve"}, org.clerk2)
    # Even an assignment made while the clerk still had the role cannot be used after it.
    db_session.execute(
        update(CaseTask).where(CaseTask.task_id == escalated.task_id).values(assignee_id=org.clerk2.id)
    )
    with pytest.raises(TaskForbidden):
        complete_task(db_session, escalated.task_id, {"decision": "approve"}, org.clerk2)
    db_session.execute(update(CaseTask).where(CaseTask.task_id == escalated.task_id).values(assignee_id=None))
    complete_task(db_session, escalated.task_id, {"decision": "approve"}, org.head)

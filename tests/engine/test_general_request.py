"""general_request.bpmn run to completion, saved and restored through PostgreSQL at every step."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import verify_audit
from engine.commands import claim_task, complete_task, start_case
from engine.errors import FormInvalid
from engine.models import Case, CaseTask
from tests.engine.conftest import Org

DATA = {"service_code": "general_request", "form": {"text": "Σπασμένο φανάρι στην οδό Κύπρου"}}


def only_task(session: Session, case_id: uuid.UUID) -> CaseTask:
    session.expire_all()  # every step reads back what the database holds
    tasks = list(session.scalars(select(CaseTask).where(CaseTask.case_id == case_id)))
    assert len(tasks) == 1, tasks
    return tasks[0]


def finished(session: Session, case_id: uuid.UUID) -> Case:
    row = session.get(Case, case_id)
    assert row is not None
    session.refresh(row)
    assert list(session.scalars(select(CaseTask).where(CaseTask.case_id == case_id))) == []
    return row


def test_clerk_replies(db_session: Session, org: Org) -> None:
    case = start_case(db_session, "general_request", department_id=org.department.id, data=dict(DATA))
    task = only_task(db_session, case.id)
    assert (task.bpmn_id, task.role, task.form_key) == ("handle", "clerk", "general_request_handle")
    claim_task(db_session, task.task_id, org.clerk)
    complete_task(db_session, task.task_id, {"decision": "reply", "reply": "Το επισκευάζουμε."}, org.clerk)
    row = finished(db_session, case.id)
    assert (row.status, row.milestone) == ("completed", "Answered")
    assert row.data["reply"] == "Το επισκευάζουμε."
    assert verify_audit(db_session, case.id) == []


def test_reply_needs_its_text(db_session: Session, org: Org) -> None:
    case = start_case(db_session, "general_request", department_id=org.department.id, data=dict(DATA))
    task = only_task(db_session, case.id)
    with pytest.raises(FormInvalid, match="reply"):
        complete_task(db_session, task.task_id, {"decision": "reply"}, org.clerk)


def test_referred_to_the_head(db_session: Session, org: Org) -> None:
    case = start_case(db_session, "general_request", department_id=org.department.id, data=dict(DATA))
    complete_task(
        db_session, only_task(db_session, case.id).task_id, {"decision": "refer_to_head"}, org.clerk
    )
    task = only_task(db_session, case.id)
    assert (task.bpmn_id, task.role) == ("head_answer", "head")
    complete_task(db_session, task.task_id, {"reply": "Θα το δει η Τεχνική Υπηρεσία."}, org.head)
    row = finished(db_session, case.id)
    assert (row.status, row.milestone) == ("completed", "Answered")


def test_closed_without_answer(db_session: Session, org: Org) -> None:
    case = start_case(db_session, "general_request", department_id=org.department.id, data=dict(DATA))
    complete_task(db_session, only_task(db_session, case.id).task_id, {"decision": "close"}, org.clerk)
    row = finished(db_session, case.id)
    assert (row.status, row.milestone) == ("completed", "Closed")

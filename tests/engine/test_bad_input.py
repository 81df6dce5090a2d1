"""Bad input gets a clear domain error and changes nothing stored."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from engine.workflow.commands import claim_task, complete_task, start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.errors import DeploymentError, FormInvalid, TaskConflict, TaskForbidden, TaskNotFound
from engine.workflow.messages import send_message
from engine.workflow.models import AuditEvent, Case, CaseTask, ProcessDefinition
from tests.conftest import as_owner
from tests.engine.conftest import Org


def snapshot(session: Session) -> tuple[Any, ...]:
    """Everything the engine stores, to compare before and after a refused command."""
    session.expire_all()
    return (
        session.execute(select(Case.id, Case.version, Case.state, Case.status)).all(),
        session.execute(select(CaseTask.task_id, CaseTask.assignee_id)).all(),
        session.execute(select(AuditEvent.id)).all(),
        session.execute(select(ProcessDefinition.id)).all(),
    )


def refused(
    session: Session, error: type[Exception], match: str, call: Any, *args: Any, **kwargs: Any
) -> None:
    before = snapshot(session)
    savepoint = session.begin_nested()
    with pytest.raises(error, match=match):
        call(session, *args, **kwargs)
    savepoint.rollback()
    assert snapshot(session) == before


@pytest.fixture
def prepare_task(db_session: Session, org: Org) -> uuid.UUID:
    case = start_case(db_session, "document_approval", department_id=org.department.id)
    task_id = db_session.scalar(select(CaseTask.task_id).where(CaseTask.case_id == case.id))
    assert task_id is not None
    return task_id


def test_unknown_task(db_session: Session, org: Org) -> None:
    refused(db_session, TaskNotFound, "is not open", complete_task, uuid.uuid4(), {"title": "x"}, org.clerk)


def test_task_of_another_department(db_session: Session, org: Org, prepare_task: uuid.UUID) -> None:
    refused(
        db_session,
        TaskForbidden,
        "another department",
        complete_task,
        prepare_task,
        {"title": "x"},
        org.outsider,
    )
    refused(db_session, TaskForbidden, "another department", claim_task, prepare_task, org.outsider)


def test_task_of_another_role(db_session: Session, org: Org, prepare_task: uuid.UUID) -> None:
    refused(db_session, TaskForbidden, "clerk role", complete_task, prepare_task, {"title": "x"}, org.head)


def test_task_claimed_by_someone_else(db_session: Session, org: Org, prepare_task: uuid.UUID) -> None:
    claim_task(db_session, prepare_task, org.clerk)
    refused(
        db_session, TaskConflict, "claimed by Clerk", complete_task, prepare_task, {"title": "x"}, org.clerk2
    )


def test_task_already_completed(db_session: Session, org: Org, prepare_task: uuid.UUID) -> None:
    complete_task(db_session, prepare_task, {"title": "x"}, org.clerk)
    refused(
        db_session,
        TaskConflict,
        "already completed by Clerk",
        complete_task,
        prepare_task,
        {"title": "y"},
        org.clerk2,
    )


def test_form_data_failing_the_schema(db_session: Session, org: Org, prepare_task: uuid.UUID) -> None:
    refused(db_session, FormInvalid, "title", complete_task, prepare_task, {"body": "no title"}, org.clerk)
    refused(
        db_session,
        FormInvalid,
        "Additional properties",
        complete_task,
        prepare_task,
        {"title": "x", "evil": 1},
        org.clerk,
    )
    refused(
        db_session,
        FormInvalid,
        "must be an object",
        complete_task,
        prepare_task,
        ["not", "a", "dict"],
        org.clerk,
    )


def test_message_for_unknown_case(db_session: Session, org: Org) -> None:
    refused(db_session, Exception, "no case", send_message, "document_supplied", "1999/000001", "m-1", {})


def test_non_xml_bpmn(db_session: Session, org: Org) -> None:
    refused(
        db_session, DeploymentError, "not well-formed XML", deploy_definition, b"hello, not xml", "x.bpmn"
    )


def test_audit_rows_cannot_be_updated_or_deleted(
    db_session: Session, org: Org, prepare_task: uuid.UUID
) -> None:
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        # The application's role may not (permission), and neither may the owner (trigger).
        for expected, role in (("permission denied", nullcontext()), ("append-only", as_owner(db_session))):
            with role:
                savepoint = db_session.begin_nested()
                with pytest.raises(Exception, match=expected):
                    db_session.execute(text(statement))
                savepoint.rollback()


def test_start_form_is_validated(db_session: Session, org: Org) -> None:
    from tests.engine.bpmn_builder import flow, process

    body = (
        '<bpmn:startEvent id="StartEvent_1" camunda:formKey="document_prepare"/><bpmn:endEvent id="E"/>'
        + flow("StartEvent_1", "E")
    )
    deploy_definition(db_session, process(body, process_id="with_start_form"), "with_start_form.bpmn")
    refused(
        db_session, FormInvalid, "request form has errors", start_case, "with_start_form", department_id=None
    )
    case = start_case(db_session, "with_start_form", department_id=None, data={"title": "ok"})
    assert case.status == "completed"

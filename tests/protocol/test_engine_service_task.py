"""A BPMN service task ``register_protocol`` registers the case's document through the engine,
in the same transaction as the case step: exactly once, and undone if the step fails."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import engine.protocol.handlers  # noqa: F401  (registers the handler, as the worker does)
from core.clock import utcnow
from engine.protocol.models import ProtocolEntry
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.models import Case, Incident, Wakeup
from engine.workflow.service_tasks import ServiceCall, register_handler, unregister_handler
from engine.workflow.timers import fire_due_wakeups_in
from tests.engine.bpmn_builder import flow, process
from tests.engine.conftest import Org, make_org

SCRIPT = (
    '<bpmn:scriptTask id="prepare" name="Prepare" scriptFormat="python"><bpmn:script>'
    "title = 'Απάντηση στο αίτημα ' + str(request_no)\n"
    "protocol = {'direction': 'ΕΞ', 'subject_field': 'title', 'recipients': ['Αιτών']}"
    "</bpmn:script></bpmn:scriptTask>"
)


def _definition(topic: str) -> bytes:
    return process(
        '<bpmn:startEvent id="start"/>'
        + SCRIPT
        + f'<bpmn:serviceTask id="register" name="Register" camunda:type="external" camunda:topic="{topic}"/>'
        '<bpmn:endEvent id="end"/>'
        + flow("start", "prepare")
        + flow("prepare", "register")
        + flow("register", "end"),
        process_id="register_answer",
    )


@pytest.fixture
def org(db_session: Session) -> Org:
    return make_org(db_session)


def _entries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ProtocolEntry)) or 0


def test_the_service_task_registers_in_the_case_transaction(db_session: Session, org: Org) -> None:
    deploy_definition(db_session, _definition("register_protocol"), "register_answer.bpmn")
    before = _entries(db_session)
    case = start_case(db_session, "register_answer", department_id=org.department.id, data={"request_no": 7})
    assert fire_due_wakeups_in(db_session, now=utcnow()) == 1
    assert db_session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).all() == []
    row = db_session.get(Case, case.id)
    assert row is not None
    db_session.refresh(row)
    assert row.status == "completed"
    entry = db_session.scalars(select(ProtocolEntry).where(ProtocolEntry.case_id == case.id)).one()
    assert entry.subject == "Απάντηση στο αίτημα 7"
    assert entry.case_number == case.number
    assert _entries(db_session) == before + 1


def test_a_failing_handler_leaves_no_entry_behind(db_session: Session, org: Org) -> None:
    from engine.protocol.tasks import handle_service_call

    def register_then_fail(call: ServiceCall) -> dict[str, object]:
        handle_service_call(call)  # the entry is written ...
        raise ConnectionError("the seal service is down")  # ... then the step fails

    register_handler("register_then_fail")(register_then_fail)
    try:
        deploy_definition(db_session, _definition("register_then_fail"), "register_answer.bpmn")
        before = _entries(db_session)
        case = start_case(
            db_session, "register_answer", department_id=org.department.id, data={"request_no": 8}
        )
        assert fire_due_wakeups_in(db_session, now=utcnow()) == 1
        assert _entries(db_session) == before  # the savepoint took the entry back
        wakeup = db_session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).one()
        assert "seal service is down" in (wakeup.last_error or "")
        assert (
            db_session.scalar(select(func.count()).select_from(Incident)) == 0
        )  # retried later, not yet an incident
    finally:
        unregister_handler("register_then_fail")

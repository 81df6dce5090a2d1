"""Messages (early, duplicate) and service tasks (retries, incident, admin retry)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from engine.workflow.commands import complete_task, start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.messages import purge_expired_messages, send_message
from engine.workflow.models import Case, CaseTask, Message, Wakeup
from engine.workflow.runtime import Actor
from engine.workflow.service_tasks import ServiceCall, get_handler, register_handler, unregister_handler
from engine.workflow.timers import MAX_ATTEMPTS, fire_due_wakeups_in, open_incidents, retry_incident
from tests.engine.conftest import Org

BPMN = Path(__file__).parent / "bpmn" / "supply_document.bpmn"


class Flaky:
    """A notify_applicant handler that fails ``failures`` times, then succeeds."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[dict[str, Any]] = []

    def __call__(self, call: ServiceCall) -> dict[str, Any]:
        self.calls.append(call.data)
        if len(self.calls) <= self.failures:
            raise ConnectionError("mail server down")
        return {"notified": True}


@pytest.fixture
def handler() -> Iterator[Flaky]:
    flaky = Flaky(failures=0)
    real = get_handler("notify_applicant")  # registered when engine.requests.handlers is imported
    unregister_handler("notify_applicant")
    register_handler("notify_applicant")(flaky)
    yield flaky
    unregister_handler("notify_applicant")
    if real is not None:
        register_handler("notify_applicant")(real)


def start(session: Session, org: Org) -> tuple[Any, Any]:
    deploy_definition(session, BPMN.read_bytes(), BPMN.name)
    case = start_case(session, "supply_document", department_id=org.department.id)
    task_id = session.scalar(select(CaseTask.task_id).where(CaseTask.case_id == case.id))
    return case, task_id


def status(session: Session, case_id: Any) -> str:
    row = session.get(Case, case_id)
    assert row is not None
    session.refresh(row)
    return row.status


def drain(session: Session, hours: float = 0) -> int:
    return fire_due_wakeups_in(session, now=utcnow() + timedelta(hours=hours))


def test_early_message_is_kept_then_delivered_and_duplicates_ignored(
    db_session: Session, org: Org, handler: Flaky
) -> None:
    case, task_id = start(db_session, org)
    assert send_message(db_session, "document_supplied", case.number, "msg-1", {"file": "a.pdf"}) == "kept"
    assert (
        send_message(db_session, "document_supplied", case.number, "msg-1", {"file": "a.pdf"}) == "duplicate"
    )
    complete_task(db_session, task_id, {}, org.clerk)  # now the case waits: the kept message arrives
    assert drain(db_session) == 1  # the service task ran
    assert handler.calls == [{"file": "a.pdf"}]
    assert status(db_session, case.id) == "completed"


def test_expired_early_messages_are_purged_delivered_ones_kept(
    db_session: Session, org: Org, handler: Flaky
) -> None:
    case, task_id = start(db_session, org)
    other, _ = start(db_session, org)
    send_message(
        db_session, "document_supplied", case.number, "early", {"file": "a.pdf"}, ttl=timedelta(days=1)
    )
    send_message(
        db_session, "document_supplied", other.number, "late", {"file": "b.pdf"}, ttl=timedelta(days=3)
    )
    complete_task(db_session, task_id, {}, org.clerk)  # delivers "early" to the first case
    now = utcnow()
    assert purge_expired_messages(db_session, now + timedelta(days=2)) == 0  # delivered, or not expired
    assert purge_expired_messages(db_session, now + timedelta(days=4)) == 1
    left = db_session.scalars(select(Message.message_id).where(Message.case_id.in_([case.id, other.id])))
    assert list(left) == ["early"]  # a delivered message stays: it keeps refusing duplicates
    assert send_message(db_session, "document_supplied", case.number, "early", {}) == "duplicate"


def test_message_while_waiting_is_delivered(db_session: Session, org: Org, handler: Flaky) -> None:
    case, task_id = start(db_session, org)
    complete_task(db_session, task_id, {}, org.clerk)
    assert (
        send_message(db_session, "document_supplied", case.number, "msg-2", {"file": "b.pdf"}) == "delivered"
    )
    drain(db_session)
    assert status(db_session, case.id) == "completed"


def test_service_failure_is_retried_with_backoff(db_session: Session, org: Org, handler: Flaky) -> None:
    handler.failures = 2
    case, task_id = start(db_session, org)
    complete_task(db_session, task_id, {}, org.clerk)
    send_message(db_session, "document_supplied", case.number, "msg-3", {})
    assert drain(db_session) == 1  # first try fails
    wakeup = db_session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).one()
    assert wakeup.attempts == 1 and "mail server down" in (wakeup.last_error or "")
    assert drain(db_session) == 0  # backing off
    assert drain(db_session, hours=1) == 1  # second try fails, backs off further
    assert drain(db_session, hours=2) == 1  # third try succeeds
    assert status(db_session, case.id) == "completed"


def test_last_failure_opens_an_incident_that_an_admin_retries(
    db_session: Session, org: Org, handler: Flaky
) -> None:
    handler.failures = MAX_ATTEMPTS
    case, task_id = start(db_session, org)
    complete_task(db_session, task_id, {}, org.clerk)
    send_message(db_session, "document_supplied", case.number, "msg-4", {})
    for attempt in range(MAX_ATTEMPTS):
        assert drain(db_session, hours=24 * (attempt + 1)) == 1
    incidents = [i for i in open_incidents(db_session) if i.case_id == case.id]
    assert len(incidents) == 1
    assert incidents[0].bpmn_id == "Task_Notify" and "ConnectionError" in incidents[0].error
    assert status(db_session, case.id) == "active"  # the case is not lost
    retry_incident(db_session, incidents[0].id, Actor(None, "admin"))
    with time_machine.travel(utcnow() + timedelta(seconds=1), tick=False):
        assert drain(db_session) == 1
    assert status(db_session, case.id) == "completed"

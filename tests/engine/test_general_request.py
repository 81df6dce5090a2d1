"""general_request.bpmn run to completion, saved and restored through PostgreSQL at every step.

The answer goes out through the send_reply service task, run as the worker runs it
(``fire_due_wakeups_in``), into the notification outbox on the citizen's channels.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.domains import load_domains
from engine.notifications.models import Notification
from engine.protocol.models import ProtocolEntry
from engine.requests.handlers import configure_handlers, reset_handlers
from engine.workflow.audit import verify_audit
from engine.workflow.commands import claim_task, complete_task, start_case
from engine.workflow.errors import FormInvalid
from engine.workflow.models import Case, CaseTask, Wakeup
from engine.workflow.timers import fire_due_wakeups_in
from storage.filesystem import FilesystemStore
from tests.engine.conftest import Org

DATA = {  # what a submission starts the case with (engine.requests.submission)
    "service_code": "general_request",
    "service_title": "Γενικό αίτημα",
    "applicant_name": "Ελένη Παπαδοπούλου",
    "form": {"text": "Σπασμένο φανάρι στην οδό Κύπρου"},
}
APPLICANT = {
    "applicant_id": None,
    "name": "Ελένη Παπαδοπούλου",
    "email": "eleni@example.gr",
    "phone": "6912345678",
    "channel": "both",
    "locale": "el",
}


@pytest.fixture(autouse=True)
def handlers(test_settings: Settings, object_store: FilesystemStore) -> Iterator[None]:
    load_domains()
    configure_handlers(settings=test_settings, store=object_store)
    yield
    reset_handlers()


def start(session: Session, org: Org) -> Case:
    return start_case(
        session,
        "general_request",
        department_id=org.department.id,
        applicant=dict(APPLICANT),
        data=dict(DATA),
    )


def only_task(session: Session, case_id: uuid.UUID) -> CaseTask:
    session.expire_all()  # every step reads back what the database holds
    tasks = list(session.scalars(select(CaseTask).where(CaseTask.case_id == case_id)))
    assert len(tasks) == 1, tasks
    return tasks[0]


def run_services(session: Session) -> None:
    while fire_due_wakeups_in(session):
        pass
    session.expire_all()


def finished(session: Session, case_id: uuid.UUID) -> Case:
    run_services(session)
    row = session.get(Case, case_id)
    assert row is not None
    errors = session.scalars(select(Wakeup.last_error).where(Wakeup.case_id == case_id)).all()
    assert row.status == "completed", errors
    assert list(session.scalars(select(CaseTask).where(CaseTask.case_id == case_id))) == []
    return row


def answers(session: Session, case_id: uuid.UUID) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.case_id == case_id, Notification.template_key == "request_answered")
            .order_by(Notification.channel)
        )
    )


def test_clerk_replies_and_the_answer_is_sent(db_session: Session, org: Org) -> None:
    case = start(db_session, org)
    task = only_task(db_session, case.id)
    assert (task.bpmn_id, task.role, task.form_key) == ("handle", "clerk", "general_request_handle")
    claim_task(db_session, task.task_id, org.clerk)
    complete_task(
        db_session, task.task_id, {"decision": "reply", "reply": "Το επισκευάζουμε αύριο."}, org.clerk
    )
    row = finished(db_session, case.id)
    assert row.milestone == "Answered"
    assert row.data["reply"] == "Το επισκευάζουμε αύριο." and row.data["answered_at"]
    email, text = answers(db_session, case.id)
    assert (email.channel, email.recipient, text.channel) == ("email", "eleni@example.gr", "sms")
    assert "Το επισκευάζουμε αύριο." in email.body_text and case.number in email.body_text
    # The answer is an outgoing document: registered ΕΞ before it was sent, its number in the email.
    (entry,) = db_session.scalars(select(ProtocolEntry).where(ProtocolEntry.case_id == case.id)).all()
    assert entry.direction == "ΕΞ" and entry.subject == "Απάντηση: Γενικό αίτημα"
    assert entry.display_number == row.data["protocol_out"]["display"]
    assert f"Αρ. πρωτοκόλλου απάντησης: {entry.display_number}" in email.body_text
    assert case.number in text.body_text
    assert verify_audit(db_session, case.id) == []


def test_reply_needs_its_text(db_session: Session, org: Org) -> None:
    case = start(db_session, org)
    task = only_task(db_session, case.id)
    with pytest.raises(FormInvalid, match="reply"):
        complete_task(db_session, task.task_id, {"decision": "reply"}, org.clerk)


def test_referred_to_the_head(db_session: Session, org: Org) -> None:
    case = start(db_session, org)
    complete_task(
        db_session, only_task(db_session, case.id).task_id, {"decision": "refer_to_head"}, org.clerk
    )
    task = only_task(db_session, case.id)
    assert (task.bpmn_id, task.role) == ("head_answer", "head")
    complete_task(db_session, task.task_id, {"reply": "Θα το δει η Τεχνική Υπηρεσία."}, org.head)
    row = finished(db_session, case.id)
    assert row.milestone == "Answered"
    email, text = answers(db_session, case.id)
    assert "Θα το δει η Τεχνική Υπηρεσία." in email.body_text
    # The SMS is fitted to one message: Greek in GSM capitals when it is long.
    assert case.number in text.body_text and "TEXNIKH" in text.body_text


def test_closed_without_answer(db_session: Session, org: Org) -> None:
    case = start(db_session, org)
    complete_task(db_session, only_task(db_session, case.id).task_id, {"decision": "close"}, org.clerk)
    row = finished(db_session, case.id)
    assert row.milestone == "Closed"
    assert answers(db_session, case.id) == []

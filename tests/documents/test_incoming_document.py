"""incoming_document.bpmn run to completion through PostgreSQL, the workflow restored from the
database before every step: registration with χρέωση to two units for action and one for
information, routing to clerks, filing, a reply, re-assignment to another unit, and the SLA
escalation to the head. Refusals change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.documents.assignments import assign_documents, mark_read
from engine.documents.errors import DocumentInvalid, UnknownUnit
from engine.documents.handling import file_document, reassign, route_to_clerk, start_reply
from engine.documents.history import history
from engine.documents.models import DocumentAssignment, IncomingDocument
from engine.documents.registration import register_incoming
from engine.protocol.models import EntryAssignment, ProtocolEntry
from engine.protocol.visibility import may_see_entry
from engine.requests.handlers import configure_handlers, reset_handlers
from engine.workflow import cache as workflow_cache
from engine.workflow.audit import verify_audit
from engine.workflow.models import Case, CaseTask
from engine.workflow.timers import fire_due_wakeups_in
from storage.filesystem import FilesystemStore
from tests.documents.conftest import Town, letter


@pytest.fixture(autouse=True)
def handlers(test_settings: Settings, object_store: FilesystemStore) -> Iterator[None]:
    configure_handlers(settings=test_settings, store=object_store)
    yield
    reset_handlers()


def restored(session: Session) -> None:
    """Forget everything in memory: the next step reads and restores from the database."""
    session.flush()
    workflow_cache.clear()
    session.expire_all()


def run_services(session: Session) -> None:
    while fire_due_wakeups_in(session):
        pass
    restored(session)


def assignment(
    session: Session, document: IncomingDocument, unit_id: uuid.UUID, purpose: str
) -> DocumentAssignment:
    return session.scalars(
        select(DocumentAssignment)
        .where(
            DocumentAssignment.document_id == document.id,
            DocumentAssignment.department_id == unit_id,
            DocumentAssignment.purpose == purpose,
        )
        .order_by(DocumentAssignment.assigned_at.desc())
    ).first()


def open_task(session: Session, case_id: uuid.UUID) -> CaseTask:
    (task,) = session.scalars(select(CaseTask).where(CaseTask.case_id == case_id)).all()
    return task


def test_two_units_for_action_one_for_information_filed_and_replied_after_reassignment(
    db_session: Session, town: Town, object_store: FilesystemStore
) -> None:
    document = register_incoming(
        db_session,
        object_store,
        letter(
            classification="ΠΧ",
            for_action=(town.a.department.id, town.b.department.id),
            for_information=(town.c.department.id,),
        ),
        registered_by=town.registrar,
    )
    restored(db_session)
    entry = db_session.get(ProtocolEntry, document.entry_id)
    assert entry is not None and entry.direction == "ΕΙΣ" and entry.classification == "ΠΧ"
    assert entry.sender_reference == "1234/2026" and len(entry.files) == 1
    assert len(entry.files[0].sha256) == 64 and entry.attachments_count == 1
    units = set(
        db_session.scalars(select(EntryAssignment.department_id).where(EntryAssignment.entry_id == entry.id))
    )
    assert units == {town.a.department.id, town.b.department.id, town.c.department.id}
    # A ΠΧ entry: the units and the registrar see it, an unrelated unit only its number.
    assert may_see_entry(db_session, entry, town.a.clerk) and may_see_entry(db_session, entry, town.registrar)
    assert not may_see_entry(db_session, entry, town.x.clerk)

    at_a = assignment(db_session, document, town.a.department.id, "action")
    at_b = assignment(db_session, document, town.b.department.id, "action")
    copy = assignment(db_session, document, town.c.department.id, "information")
    assert (at_a.state, at_b.state, copy.state, copy.case_id) == ("open", "open", "copy", None)
    assert at_a.case_id != at_b.case_id and at_a.due_at is not None
    route_a = open_task(db_session, at_a.case_id)
    assert (route_a.bpmn_id, route_a.role, route_a.department_id) == ("route", "head", town.a.department.id)

    # Unit A: the head gives it to the clerk, who files it with a reason and a file-plan subject.
    handle = route_to_clerk(db_session, route_a.task_id, town.a.clerk.id, town.a.head)
    restored(db_session)
    handle = open_task(db_session, at_a.case_id)
    assert (handle.bpmn_id, handle.assignee_id) == ("handle", town.a.clerk.id)
    assert handle.due_at is not None and abs(handle.due_at - at_a.due_at) < timedelta(seconds=1)
    with pytest.raises(DocumentInvalid, match="reason"):
        file_document(db_session, handle.task_id, "   ", "03.01", town.a.clerk)
    restored(db_session)
    assert open_task(db_session, at_a.case_id).task_id == handle.task_id  # nothing changed
    file_document(db_session, handle.task_id, "Ενημερωθήκαμε· θα παραστούμε.", "03.01", town.a.clerk)
    run_services(db_session)
    case_a = db_session.get(Case, at_a.case_id)
    assert case_a is not None and (case_a.status, case_a.milestone) == ("completed", "Filed")
    at_a = db_session.get(DocumentAssignment, at_a.id)
    assert (at_a.state, at_a.file_plan_code, at_a.closed_by_id) == ("filed", "03.01", town.a.clerk.id)

    # Unit B: not theirs — re-assigned to unit D... here C, with a reason; C's head routes it
    # to C's clerk, who starts a reply.
    route_b = open_task(db_session, at_b.case_id)
    with pytest.raises(DocumentInvalid, match="reason"):
        reassign(db_session, route_b.task_id, town.c.department.id, "", town.b.head)
    restored(db_session)
    moved = reassign(
        db_session, route_b.task_id, town.c.department.id, "Αρμοδιότητα Κοινωνικής Υπηρεσίας", town.b.head
    )
    restored(db_session)
    at_b = db_session.get(DocumentAssignment, at_b.id)
    moved = db_session.get(DocumentAssignment, moved.id)
    assert (at_b.state, at_b.reason) == ("reassigned", "Αρμοδιότητα Κοινωνικής Υπηρεσίας")
    assert (moved.state, moved.department_id, moved.case_id, moved.reassigned_from_id) == (
        "open",
        town.c.department.id,
        at_b.case_id,
        at_b.id,
    )
    route_c = open_task(db_session, moved.case_id)
    assert (route_c.bpmn_id, route_c.department_id) == ("route", town.c.department.id)
    assert db_session.get(Case, moved.case_id).department_id == town.c.department.id
    handle_c = route_to_clerk(db_session, route_c.task_id, town.c.clerk.id, town.c.head)
    restored(db_session)
    start_reply(db_session, handle_c.task_id, "Απάντηση με τα στοιχεία της δομής.", town.c.clerk)
    run_services(db_session)
    case_b = db_session.get(Case, moved.case_id)
    assert (case_b.status, case_b.milestone) == ("completed", "Reply started")
    assert db_session.get(DocumentAssignment, moved.id).state == "reply"

    # Unit C's copy: read once, when first opened.
    assert mark_read(db_session, document.id, town.c.clerk) >= 1
    assert mark_read(db_session, document.id, town.c.head) == 0
    restored(db_session)
    assert db_session.get(DocumentAssignment, copy.id).read_by_id == town.c.clerk.id

    actions = [event.action for event in history(db_session, document.id)]
    assert actions[:2] == ["registered", "assigned"]
    assert {"routed", "filed", "reassigned", "reply_started", "read"} <= set(actions)
    assert verify_audit(db_session, at_a.case_id) == [] and verify_audit(db_session, moved.case_id) == []


def test_overdue_handling_is_escalated_to_the_head(
    db_session: Session, town: Town, object_store: FilesystemStore
) -> None:
    document = register_incoming(
        db_session,
        object_store,
        letter(document_type="court", for_action=(town.a.department.id,)),
        registered_by=town.registrar,
    )
    restored(db_session)
    at_a = assignment(db_session, document, town.a.department.id, "action")
    route = open_task(db_session, at_a.case_id)
    route_to_clerk(db_session, route.task_id, town.a.clerk.id, town.a.head)
    restored(db_session)
    run_services(db_session)  # not due yet
    assert open_task(db_session, at_a.case_id).bpmn_id == "handle"
    first_due = at_a.due_at
    with time_machine.travel(first_due.timestamp() + 60, tick=False):
        run_services(db_session)
        escalated = open_task(db_session, at_a.case_id)
        assert (escalated.bpmn_id, escalated.role, escalated.department_id) == (
            "handle_escalated",
            "head",
            town.a.department.id,
        )
        assert db_session.get(DocumentAssignment, at_a.id).escalated_at is not None
        # The head gives it back to the clerk with a new deadline; the clerk files it.
        route_to_clerk(db_session, escalated.task_id, town.a.clerk.id, town.a.head)
        restored(db_session)
        run_services(db_session)  # the new deadline has not passed: no second escalation
    handle = open_task(db_session, at_a.case_id)
    assert handle.bpmn_id == "handle" and handle.due_at > first_due
    assert db_session.get(DocumentAssignment, at_a.id).due_at == handle.due_at
    file_document(db_session, handle.task_id, "Διαβιβάστηκε στον νομικό σύμβουλο.", "06", town.a.clerk)
    run_services(db_session)
    case = db_session.get(Case, at_a.case_id)
    assert (case.status, case.milestone) == ("completed", "Filed")
    assert "escalated" in [e.action for e in history(db_session, document.id)]


def test_a_unit_that_no_longer_exists_is_refused_and_nothing_is_registered(
    db_session: Session, town: Town, object_store: FilesystemStore
) -> None:
    before = db_session.scalar(select(func.count()).select_from(ProtocolEntry))
    gone = uuid.uuid4()
    with pytest.raises(UnknownUnit, match="no longer exists"):
        register_incoming(
            db_session,
            object_store,
            letter(for_action=(town.a.department.id, gone)),
            registered_by=town.registrar,
        )
    assert db_session.scalar(select(func.count()).select_from(ProtocolEntry)) == before
    # The same for a later χρέωση of a registered document: nothing is assigned.
    document = register_incoming(db_session, object_store, letter(), registered_by=town.registrar)
    with pytest.raises(UnknownUnit):
        assign_documents(
            db_session,
            [document.id],
            for_information=(town.b.department.id, gone),
            assigned_by=town.registrar,
        )
    restored(db_session)
    assert (
        db_session.scalars(
            select(DocumentAssignment).where(DocumentAssignment.document_id == document.id)
        ).all()
        == []
    )


def test_n_documents_to_m_units_make_one_assignment_per_pair(
    db_session: Session, town: Town, object_store: FilesystemStore
) -> None:
    documents = [
        register_incoming(db_session, object_store, letter(), registered_by=town.registrar) for _ in range(3)
    ]
    made = assign_documents(
        db_session,
        [d.id for d in documents],
        for_action=(town.a.department.id, town.b.department.id),
        for_information=(town.c.department.id,),
        assigned_by=town.registrar,
    )
    assert len(made) == 9 and len({m.case_id for m in made if m.case_id}) == 6
    again = assign_documents(
        db_session, [d.id for d in documents], for_action=(town.a.department.id,), assigned_by=town.registrar
    )
    assert again == []  # a unit holding it already is left as it is


def test_only_the_protocol_office_registers_and_a_program_is_not_a_document(
    db_session: Session, town: Town, object_store: FilesystemStore
) -> None:
    from engine.documents.errors import NotAllowed
    from engine.documents.registration import IncomingFile

    with pytest.raises(NotAllowed):
        register_incoming(db_session, object_store, letter(), registered_by=town.a.clerk)
    with pytest.raises(DocumentInvalid, match="program"):
        register_incoming(
            db_session,
            object_store,
            letter(files=(IncomingFile("invoice.pdf.exe", b"MZ\x90\x00" + b"\x00" * 100),)),
            registered_by=town.registrar,
        )

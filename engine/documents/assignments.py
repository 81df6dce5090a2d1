"""χρέωση: N documents × M units, for action (one incoming_document case per pair) or for
information (a copy with read/unread); re-assignment to another unit; read marks.

The units are share-locked while assigning, so a unit removed meanwhile cannot receive
work; a unit that no longer exists is refused with its id and nothing is assigned.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.clock import athens_year, utcnow
from core.workdays import due_date
from engine.documents.catalogue import document_types
from engine.documents.errors import DocumentInvalid, DocumentNotFound, NotAllowed, UnknownUnit
from engine.documents.history import record_event
from engine.documents.models import AssignmentState, DocumentAssignment, IncomingDocument, Purpose
from engine.people.models import Department, User
from engine.protocol.entries import assign as assign_entry
from engine.protocol.models import ProtocolEntry
from engine.workflow.commands import next_case_numbers, start_case
from engine.workflow.definitions import LoadedDefinition, latest_definition

PROCESS_ID = "incoming_document"
#: Who may assign any document; heads may assign those their unit holds for action.
ASSIGNER_ROLES = frozenset({"protocol_clerk", "admin"})


def check_units(session: Session, unit_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The codes of these units, share-locked until the commit; an unknown one is refused, and so
    is a unit the organisation chart closed (deactivated by an import): it no longer exists."""
    wanted = list(dict.fromkeys(unit_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Department.id, Department.code)
        .where(Department.id.in_(wanted), Department.is_active.is_(True))
        .with_for_update(read=True)
    )
    found = {row.id: row.code for row in rows}
    missing = [str(unit) for unit in wanted if unit not in found]
    if missing:
        raise UnknownUnit(
            f"The unit {', '.join(missing)} no longer exists; choose the units again from the"
            " organisation chart. Nothing was assigned.",
            fields={"units": "no longer exists: " + ", ".join(missing)},
        )
    return found


def deadline_for(document_type: str, now: datetime) -> datetime:
    """When a for-action assignment made ``now`` is due (working days of the document type)."""
    kind = document_types().get(document_type)
    days = kind.deadline_working_days if kind is not None else 10
    return due_date(now, days)


def assign_documents(
    session: Session,
    document_ids: Sequence[uuid.UUID],
    *,
    for_action: Sequence[uuid.UUID] = (),
    for_information: Sequence[uuid.UUID] = (),
    assigned_by: User,
    note: str | None = None,
    automatic: bool = False,
) -> list[DocumentAssignment]:
    """Assign every document to every unit (one assignment per pair); returns the new ones.

    A unit that already holds the document for the same purpose is left as it is; a unit
    named for action and for information gets it for action only. ``automatic``: Polis
    assigns an internal document to the units its sender named (no assigner's role needed).
    """
    if not document_ids:
        raise DocumentInvalid("documents: choose at least one document.", fields={"documents": "required"})
    action = list(dict.fromkeys(for_action))
    information = [u for u in dict.fromkeys(for_information) if u not in action]
    if not action and not information:
        raise DocumentInvalid(
            "units: choose at least one unit, for action or for information.", fields={"units": "required"}
        )
    codes = check_units(session, [*action, *information])
    documents = list(
        session.scalars(
            select(IncomingDocument)
            .where(IncomingDocument.id.in_(list(document_ids)))
            .order_by(IncomingDocument.id)
            .with_for_update(of=IncomingDocument)
        )
    )
    if len(documents) != len(set(document_ids)):
        raise DocumentNotFound("One of the documents does not exist; refresh the list and choose again.")
    for document in documents:
        if not automatic:
            _check_may_assign(session, document, assigned_by)
    made: list[DocumentAssignment] = []
    now = utcnow()
    for document in documents:
        live = {
            (row.department_id, row.purpose)
            for row in session.execute(
                select(DocumentAssignment.department_id, DocumentAssignment.purpose).where(
                    DocumentAssignment.document_id == document.id,
                    DocumentAssignment.state.in_([AssignmentState.OPEN, AssignmentState.COPY]),
                )
            )
        }
        new_units = [u for u in [*action, *information] if (u, Purpose.ACTION) not in live]
        pairs = [(u, Purpose.ACTION) for u in action] + [(u, Purpose.INFORMATION) for u in information]
        fresh = [(u, p) for u, p in pairs if (u, p) not in live]
        if new_units:
            # The protocol entry's contents follow the χρέωση (engine/protocol/visibility.py).
            assign_entry(session, document.entry_id, [codes[u] for u in new_units], assigned_by=assigned_by)
        for unit, purpose in fresh:
            made.append(_new_assignment(session, document, unit, purpose, assigned_by, now, note))
        if fresh:
            record_event(
                session,
                document.id,
                assigned_by,
                "assigned",
                for_action=[codes[u] for u, p in fresh if p == Purpose.ACTION],
                for_information=[codes[u] for u, p in fresh if p == Purpose.INFORMATION],
                note=(note or "").strip() or None,
            )
    session.flush()
    return made


def assign_new_document(
    session: Session,
    document: IncomingDocument,
    *,
    for_action: Sequence[uuid.UUID],
    for_information: Sequence[uuid.UUID],
    codes: dict[uuid.UUID, str],
    assigned_by: User,
    note: str | None = None,
) -> list[DocumentAssignment]:
    """The χρέωση of a document registered in this transaction, whose entry already names the
    units (``EntryDraft.assign_to``): the registrar's role and the units (``codes``, from
    :func:`check_units`) were checked before the number was taken.

    What :func:`assign_documents` asks again — the document's lock, who may assign, what is
    live already, the units — cannot have changed for a document numbered a moment ago, and
    here it would run while the protocol counter is locked (it is held to the commit).
    """
    action = list(dict.fromkeys(for_action))
    information = [u for u in dict.fromkeys(for_information) if u not in action]
    now = utcnow()
    # The cases' definition once and their numbers in one counter update: fewer statements
    # while the protocol counter (taken just before) stays locked.
    definition = latest_definition(session, PROCESS_ID) if action else None
    numbers = next_case_numbers(session, athens_year(now), len(action))
    made = [
        _new_assignment(
            session, document, unit, Purpose.ACTION, assigned_by, now, note, start=(definition, number)
        )
        for unit, number in zip(action, numbers, strict=True)
    ]
    made += [
        _new_assignment(session, document, unit, Purpose.INFORMATION, assigned_by, now, note)
        for unit in information
    ]
    record_event(
        session,
        document.id,
        assigned_by,
        "assigned",
        for_action=[codes[u] for u in action],
        for_information=[codes[u] for u in information],
        note=(note or "").strip() or None,
    )
    session.flush()
    return made


def _new_assignment(
    session: Session,
    document: IncomingDocument,
    unit: uuid.UUID,
    purpose: Purpose,
    by: User,
    now: datetime,
    note: str | None,
    *,
    reassigned_from: DocumentAssignment | None = None,
    start: tuple[LoadedDefinition | None, str] | None = None,
) -> DocumentAssignment:
    assignment = DocumentAssignment(
        id=uuid.uuid4(),
        document_id=document.id,
        department_id=unit,
        purpose=purpose.value,
        state=AssignmentState.OPEN.value if purpose == Purpose.ACTION else AssignmentState.COPY.value,
        assigned_by_id=by.id,
        assigned_at=now,
        note=(note or "").strip() or None,
    )
    if purpose == Purpose.ACTION:
        if reassigned_from is not None:
            assignment.case_id = reassigned_from.case_id
            assignment.reassigned_from_id = reassigned_from.id
            assignment.due_at = deadline_for(document.document_type, now)
        else:
            assignment.due_at = deadline_for(document.document_type, now)
            entry = session.get(ProtocolEntry, document.entry_id)
            case = start_case(
                session,
                PROCESS_ID,
                department_id=unit,
                started_by=by,
                data={
                    "document_id": str(document.id),
                    "assignment_id": str(assignment.id),
                    "entry": entry.display_number if entry is not None else "",
                    "document_type": document.document_type,
                    "due_at": assignment.due_at.isoformat(),
                },
                due_at=assignment.due_at,
                definition=start[0] if start else None,
                number=start[1] if start else None,
            )
            assignment.case_id = case.id
    session.add(assignment)  # flushed by the caller, all at once
    return assignment


def _check_may_assign(session: Session, document: IncomingDocument, user: User) -> None:
    if ASSIGNER_ROLES & set(user.roles):
        return
    if "head" in user.roles and user.department_id is not None:
        holds = session.scalar(
            select(DocumentAssignment.id).where(
                DocumentAssignment.document_id == document.id,
                DocumentAssignment.department_id == user.department_id,
                DocumentAssignment.state == AssignmentState.OPEN,
            )
        )
        if holds is not None:
            return
    raise NotAllowed(
        "Only the protocol office, or the head of a unit that holds the document for action,"
        " may assign it; ask them."
    )


def live_assignment_of_case(session: Session, case_id: uuid.UUID) -> DocumentAssignment:
    """The open for-action assignment an incoming_document case works, locked."""
    assignment = session.scalars(
        select(DocumentAssignment)
        .where(DocumentAssignment.case_id == case_id, DocumentAssignment.state == AssignmentState.OPEN)
        .with_for_update()
    ).one_or_none()
    if assignment is None:
        raise DocumentNotFound("This document was already handled or moved; refresh the page.")
    return assignment


def move_assignment(
    session: Session, current: DocumentAssignment, unit: uuid.UUID, reason: str, by: User
) -> DocumentAssignment:
    """Close ``current`` as re-assigned (with the reason) and open its continuation in ``unit``."""
    document = session.get(IncomingDocument, current.document_id)
    assert document is not None  # a foreign key guarantees it
    now = utcnow()
    current.state = AssignmentState.REASSIGNED.value
    current.reason = reason
    current.closed_at = now
    current.closed_by_id = by.id
    session.flush()  # the live-assignment unique index must see the old one closed first
    codes = check_units(session, [unit])
    assign_entry(session, document.entry_id, [codes[unit]], assigned_by=by)
    moved = _new_assignment(session, document, unit, Purpose.ACTION, by, now, reason, reassigned_from=current)
    session.flush()
    return moved


def mark_read(session: Session, document_id: uuid.UUID, reader: User) -> int:
    """The reader opened the document: their unit's unread assignments of it become read."""
    if reader.department_id is None:
        return 0
    now = utcnow()
    marked = session.execute(
        update(DocumentAssignment)
        .where(
            DocumentAssignment.document_id == document_id,
            DocumentAssignment.department_id == reader.department_id,
            DocumentAssignment.read_at.is_(None),
        )
        .values(read_at=now, read_by_id=reader.id)
        .returning(DocumentAssignment.purpose)
    ).all()
    if marked:
        record_event(session, document_id, reader, "read", purposes=sorted({row.purpose for row in marked}))
        session.flush()
    return len(marked)

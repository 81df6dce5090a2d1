"""What staff read: the folders (For action / For information / Registered by me / Filed) with
unread counts, and the document page (entry, files, who has it and why, history, σχετικά).

Opening a document a unit holds marks it read for that unit (engine.documents.assignments);
a document whose entry the reader may not see shows only its number and "restricted".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, null, or_, select
from sqlalchemy.orm import Session

from engine.documents.assignments import mark_read
from engine.documents.catalogue import document_types, file_plan
from engine.documents.errors import DocumentNotFound, DocumentRestricted
from engine.documents.history import add_comment, history
from engine.documents.models import (
    AssignmentState,
    DocumentAssignment,
    DocumentEvent,
    IncomingDocument,
    Purpose,
)
from engine.people.models import Department, User
from engine.protocol.entries import get_entry
from engine.protocol.errors import EntryNotFound
from engine.protocol.models import EntryFile, EntryRelation, ProtocolEntry
from engine.protocol.visibility import listed_for, may_see_entry, visible_entry_ids
from engine.workflow.models import CaseTask

FOLDERS = ("action", "information", "registered", "filed")
PAGE_SIZE = 50


@dataclass(frozen=True)
class FolderCount:
    """How many documents a folder holds and how many of them nobody of the unit opened yet."""

    total: int
    unread: int


@dataclass(frozen=True)
class FolderItem:
    """One row of a folder."""

    document_id: uuid.UUID
    entry: str
    registered_at: datetime
    subject: str
    sender: str | None
    classification: str | None
    document_type: str
    state: str
    due_at: datetime | None
    unread: bool
    escalated: bool


def _unit_condition(user: User, purpose: Purpose, states: tuple[str, ...]) -> Any:
    return and_(
        DocumentAssignment.department_id == user.department_id,
        DocumentAssignment.purpose == purpose.value,
        DocumentAssignment.state.in_(states),
    )


def _folder_conditions(user: User) -> dict[str, Any]:
    conditions: dict[str, Any] = {"registered": IncomingDocument.registered_by_id == user.id}
    if user.department_id is not None:
        conditions["action"] = _unit_condition(user, Purpose.ACTION, (AssignmentState.OPEN,))
        conditions["information"] = _unit_condition(user, Purpose.INFORMATION, (AssignmentState.COPY,))
        conditions["filed"] = _unit_condition(
            user, Purpose.ACTION, (AssignmentState.FILED, AssignmentState.REPLY)
        )
    return conditions


def folder_counts(session: Session, user: User) -> dict[str, FolderCount]:
    """Every folder's total and unread count for this member of staff (one query per folder)."""
    counts: dict[str, FolderCount] = {}
    for name, condition in _folder_conditions(user).items():
        if name == "registered":
            total = session.scalar(select(func.count()).select_from(IncomingDocument).where(condition)) or 0
            counts[name] = FolderCount(total, 0)
            continue
        row = session.execute(
            select(func.count(), func.count(case((DocumentAssignment.read_at.is_(None), 1)))).where(condition)
        ).one()
        counts[name] = FolderCount(row[0], row[1])
    for name in FOLDERS:
        counts.setdefault(name, FolderCount(0, 0))
    return counts


def folder(session: Session, user: User, name: str, *, page: int = 1) -> list[FolderItem]:
    """The documents of one folder, newest first (unread and overdue first in For action)."""
    condition = _folder_conditions(user).get(name)
    if condition is None:
        return []
    base = select(IncomingDocument, ProtocolEntry).join(
        ProtocolEntry, ProtocolEntry.id == IncomingDocument.entry_id
    )
    if name == "registered":
        query = base.add_columns(
            null().label("state"),
            null().label("due_at"),
            null().label("read_at"),
            null().label("escalated_at"),
        ).where(condition)
        order: tuple[Any, ...] = (ProtocolEntry.registered_at.desc(),)
    else:
        query = (
            base.join(DocumentAssignment, DocumentAssignment.document_id == IncomingDocument.id)
            .add_columns(
                DocumentAssignment.state,
                DocumentAssignment.due_at,
                DocumentAssignment.read_at,
                DocumentAssignment.escalated_at,
            )
            .where(condition)
        )
        order = (DocumentAssignment.read_at.is_(None).desc(), ProtocolEntry.registered_at.desc())
    rows = session.execute(
        query.where(listed_for(user.clearance))
        .order_by(*order)
        .limit(PAGE_SIZE)
        .offset((max(page, 1) - 1) * PAGE_SIZE)
    ).all()
    types = document_types()
    return [
        FolderItem(
            document_id=document.id,
            entry=entry.display_number,
            registered_at=entry.registered_at,
            subject=entry.subject,
            sender=entry.sender,
            classification=entry.classification,
            document_type=types[document.document_type].el
            if document.document_type in types
            else document.document_type,
            state=state or "",
            due_at=due_at,
            unread=name != "registered" and read_at is None,
            escalated=escalated_at is not None,
        )
        for document, entry, state, due_at, read_at, escalated_at in rows
    ]


@dataclass(frozen=True)
class AssignmentView:
    """Who has the document and why, and where that stands."""

    id: uuid.UUID
    unit: str
    purpose: str
    state: str
    holder: str | None
    due_at: datetime | None
    read_at: datetime | None
    reason: str | None
    file_plan: str | None
    escalated: bool
    assigned_at: datetime


@dataclass(frozen=True)
class RelatedView:
    """A σχετικό, in either direction; restricted ones show only their number."""

    entry_id: uuid.UUID
    display: str
    subject: str | None
    document_id: uuid.UUID | None
    cancelled: bool


@dataclass
class DocumentPage:
    """Everything about one document that the reader may see."""

    document: IncomingDocument
    entry: ProtocolEntry
    restricted: bool
    files: list[EntryFile] = field(default_factory=list)
    assignments: list[AssignmentView] = field(default_factory=list)
    events: list[DocumentEvent] = field(default_factory=list)
    refers_to: list[RelatedView] = field(default_factory=list)
    referred_by: list[RelatedView] = field(default_factory=list)
    #: The open incoming_document tasks this reader may act on now.
    tasks: list[CaseTask] = field(default_factory=list)
    clerks: list[User] = field(default_factory=list)
    units: list[Department] = field(default_factory=list)
    document_type: str = ""
    registered_by: str | None = None
    #: The deadline of the reader's unit for this document (for action), if it holds it.
    my_due: datetime | None = None
    #: The entries registered as its ορθή επανάληψη (id, number), oldest first.
    corrected_by: list[tuple[uuid.UUID, str]] = field(default_factory=list)


def _document(
    session: Session, document_id: uuid.UUID, viewer: User
) -> tuple[IncomingDocument, ProtocolEntry]:
    document = session.get(IncomingDocument, document_id)
    if document is None:
        raise DocumentNotFound("No such document; check the link.")
    try:
        entry = get_entry(session, document.entry_id, viewer)  # ΕΜΠ/ΠΔ exist only for the cleared
    except EntryNotFound:
        raise DocumentNotFound("No such document; check the link.") from None
    return document, entry


def open_document(session: Session, document_id: uuid.UUID, viewer: User) -> DocumentPage:
    """The document page; opening it marks it read for the reader's unit."""
    document, entry = _document(session, document_id, viewer)
    if not may_see_entry(session, entry, viewer):
        return DocumentPage(document=document, entry=entry, restricted=True)
    mark_read(session, document.id, viewer)
    kind = document_types().get(document.document_type)
    registrar = session.get(User, document.registered_by_id) if document.registered_by_id else None
    page = DocumentPage(
        document=document,
        entry=entry,
        restricted=False,
        files=list(entry.files),
        assignments=_assignments(session, document.id),
        events=history(session, document.id),
        refers_to=_related(session, viewer, EntryRelation.entry_id == entry.id, EntryRelation.related_id),
        referred_by=_related(session, viewer, EntryRelation.related_id == entry.id, EntryRelation.entry_id),
        document_type=kind.el if kind else document.document_type,
        registered_by=registrar.full_name if registrar else None,
    )
    page.tasks = _my_tasks(session, document.id, viewer)
    page.corrected_by = [
        (row.id, f"{row.number} {row.direction} {row.year}")
        for row in session.execute(
            select(ProtocolEntry.id, ProtocolEntry.number, ProtocolEntry.direction, ProtocolEntry.year)
            .where(ProtocolEntry.corrects_id == entry.id, listed_for(viewer.clearance))
            .order_by(ProtocolEntry.registered_at)
        )
    ]
    page.my_due = session.scalar(
        select(DocumentAssignment.due_at).where(
            DocumentAssignment.document_id == document.id,
            DocumentAssignment.department_id == viewer.department_id,
            DocumentAssignment.state == AssignmentState.OPEN,
        )
    )
    if any(t.role == "head" for t in page.tasks):
        unit_staff = session.scalars(
            select(User)
            .where(User.department_id == viewer.department_id, User.is_active.is_(True))
            .order_by(User.full_name)
        )
        page.clerks = [u for u in unit_staff if "clerk" in u.roles]
        page.units = list(
            session.scalars(
                select(Department).where(Department.is_active.is_(True)).order_by(Department.name_el)
            )
        )
    return page


def _assignments(session: Session, document_id: uuid.UUID) -> list[AssignmentView]:
    rows = session.execute(
        select(DocumentAssignment, Department)
        .join(Department, Department.id == DocumentAssignment.department_id)
        .where(DocumentAssignment.document_id == document_id)
        .order_by(DocumentAssignment.assigned_at, DocumentAssignment.purpose, Department.name_el)
    ).all()
    holders = _holders(session, [a.case_id for a, _ in rows if a.case_id and a.state == AssignmentState.OPEN])
    plan = file_plan()
    return [
        AssignmentView(
            id=a.id,
            unit=unit.name_el,
            purpose=a.purpose,
            state=a.state,
            holder=holders.get(a.case_id) if a.case_id and a.state == AssignmentState.OPEN else None,
            due_at=a.due_at,
            read_at=a.read_at,
            reason=a.reason,
            file_plan=f"{a.file_plan_code} {plan[a.file_plan_code].el}"
            if a.file_plan_code in plan
            else a.file_plan_code,
            escalated=a.escalated_at is not None,
            assigned_at=a.assigned_at,
        )
        for a, unit in rows
    ]


def _holders(session: Session, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Who holds each open case now: the named assignee, or the unit's head / clerks."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(CaseTask.case_id, CaseTask.role, User.full_name)
        .outerjoin(User, User.id == CaseTask.assignee_id)
        .where(CaseTask.case_id.in_(case_ids))
    ).all()
    return {row.case_id: row.full_name or ("head" if row.role == "head" else "clerks") for row in rows}


def _related(session: Session, viewer: User, condition: Any, other: Any) -> list[RelatedView]:
    rows = session.execute(
        select(ProtocolEntry, IncomingDocument.id)
        .join(EntryRelation, other == ProtocolEntry.id)
        .outerjoin(IncomingDocument, IncomingDocument.entry_id == ProtocolEntry.id)
        .where(condition, listed_for(viewer.clearance))
        .order_by(ProtocolEntry.registered_at)
    ).all()
    visible = visible_entry_ids(session, [entry.id for entry, _ in rows], viewer)
    return [
        RelatedView(
            entry_id=entry.id,
            display=entry.display_number
            if entry.id in visible
            else f"{entry.number} {entry.direction} {entry.year}",
            subject=entry.subject if entry.id in visible else None,
            document_id=document_id if entry.id in visible else None,
            cancelled=entry.is_cancelled,
        )
        for entry, document_id in rows
    ]


def _my_tasks(session: Session, document_id: uuid.UUID, viewer: User) -> list[CaseTask]:
    if viewer.department_id is None:
        return []
    return list(
        session.scalars(
            select(CaseTask)
            .join(DocumentAssignment, DocumentAssignment.case_id == CaseTask.case_id)
            .where(
                DocumentAssignment.document_id == document_id,
                DocumentAssignment.state == AssignmentState.OPEN,
                CaseTask.department_id == viewer.department_id,
                CaseTask.role.in_(list(viewer.roles)),
                or_(CaseTask.assignee_id.is_(None), CaseTask.assignee_id == viewer.id),
            )
        )
    )


def document_file(session: Session, document_id: uuid.UUID, position: int, viewer: User) -> EntryFile:
    """One file of a document the viewer may see in full."""
    _, entry = _document(session, document_id, viewer)
    if not may_see_entry(session, entry, viewer):
        raise DocumentNotFound("No such file; check the link.")
    for f in entry.files:
        if f.position == position:
            return f
    raise DocumentNotFound("No such file; check the link.")


def task_document(session: Session, task_id: uuid.UUID) -> uuid.UUID | None:
    """The document an incoming_document task works on (None for other tasks)."""
    return session.scalar(
        select(DocumentAssignment.document_id)
        .join(CaseTask, CaseTask.case_id == DocumentAssignment.case_id)
        .where(CaseTask.task_id == task_id)
        .limit(1)
    )


def registration_choices(session: Session) -> dict[str, Any]:
    """What the registration page offers: units, document types, file plan."""
    return {
        "units": list(
            session.scalars(
                select(Department).where(Department.is_active.is_(True)).order_by(Department.name_el)
            )
        ),
        "document_types": list(document_types().values()),
    }


def related_by_numbers(session: Session, text: str) -> tuple[list[uuid.UUID], list[str]]:
    """Protocol numbers typed as ``123/2026`` (comma or space separated) → entry ids, and the
    ones not found."""
    found: list[uuid.UUID] = []
    missing: list[str] = []
    for token in text.replace(",", " ").split():
        number, _, year = token.partition("/")
        if not (number.isdigit() and year.isdigit()):
            missing.append(token)
            continue
        entry_id = session.scalar(
            select(ProtocolEntry.id)
            .where(ProtocolEntry.number == int(number), ProtocolEntry.year == int(year))
            .order_by(ProtocolEntry.registry_id)
            .limit(1)
        )
        if entry_id is None:
            missing.append(token)
        else:
            found.append(entry_id)
    return found, missing


def comment_on_document(session: Session, document_id: uuid.UUID, text: str, author: User) -> None:
    """A comment by someone who may see the document."""
    _, entry = _document(session, document_id, author)
    if not may_see_entry(session, entry, author):
        raise DocumentRestricted("This document is restricted to the units it is assigned to.")
    add_comment(session, document_id, text, author)

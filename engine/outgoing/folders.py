"""The staff folders of outgoing documents and everything one document page shows.

To sign / For opinion: documents whose current step is the reader's (or someone's they stand in
for); In progress: the reader's own drafts on their way; Returned: the reader's drafts sent back;
To dispatch: what the protocol office prints and posts; Sent: the reader's documents that left.
Who may open a document: its author, anyone in its chain (or standing in), the author's unit's
head and the protocol office.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.issuing.registry import verification_path
from engine.outgoing.chain import may_act_for, round_steps
from engine.outgoing.drafts import attachments_of, get_document, recipients_of, versions
from engine.outgoing.errors import NotYourTurn, OutgoingNotFound
from engine.outgoing.history import events
from engine.outgoing.models import (
    ChainStep,
    OutgoingAttachment,
    OutgoingDocument,
    OutgoingEvent,
    OutgoingRecipient,
    OutgoingStatus,
    OutgoingVersion,
    Reservation,
    StepKind,
    StepState,
)
from engine.people.models import Department, User
from engine.protocol.models import ProtocolEntry
from engine.workflow.models import CaseTask

FOLDERS = ("to_sign", "opinion", "mine", "returned", "dispatch", "sent")
OFFICE_ROLES = frozenset({"protocol_clerk", "admin"})


@dataclass(frozen=True)
class FolderItem:
    """One row of a folder."""

    document_id: uuid.UUID
    subject: str
    kind: str
    status: str
    entry: str | None
    due_at: Any
    recipient: str | None = None
    recipient_id: uuid.UUID | None = None


def _waiting_for(session: Session, user: User, kind: str) -> list[FolderItem]:
    rows = session.execute(
        select(OutgoingDocument, ChainStep)
        .join(
            ChainStep,
            (ChainStep.document_id == OutgoingDocument.id) & (ChainStep.round == OutgoingDocument.round),
        )
        .where(ChainStep.state == StepState.CURRENT.value, ChainStep.kind == kind)
        .order_by(ChainStep.due_at)
    )
    return [
        FolderItem(d.id, d.subject, d.kind, d.status, None, s.due_at)
        for d, s in rows
        if may_act_for(session, user, s)
    ]


def folder(session: Session, user: User, name: str) -> list[FolderItem]:
    """The documents of one folder, for this reader."""
    if name == "to_sign":
        return _waiting_for(session, user, StepKind.SIGN.value)
    if name == "opinion":
        return _waiting_for(session, user, StepKind.OPINION.value)
    if name == "dispatch":
        if not OFFICE_ROLES & set(user.roles):
            return []
        printing = session.execute(
            select(OutgoingDocument, OutgoingRecipient, ProtocolEntry)
            .join(OutgoingRecipient, OutgoingRecipient.document_id == OutgoingDocument.id)
            .join(ProtocolEntry, ProtocolEntry.id == OutgoingDocument.entry_id)
            .where(OutgoingRecipient.delivery.in_(("to_print", "failed")))
            .order_by(ProtocolEntry.registered_at)
        )
        return [
            FolderItem(d.id, d.subject, d.kind, r.delivery, e.display_number, None, r.name, r.id)
            for d, r, e in printing
        ]
    statuses = {
        "mine": (
            OutgoingStatus.DRAFT.value,
            OutgoingStatus.IN_CHAIN.value,
            OutgoingStatus.TO_SIGN.value,
            OutgoingStatus.SIGNED.value,
        ),
        "returned": (OutgoingStatus.RETURNED.value,),
        "sent": (OutgoingStatus.REGISTERED.value, OutgoingStatus.SENT.value),
    }.get(name, ())
    own = session.execute(
        select(OutgoingDocument, ProtocolEntry)
        .outerjoin(ProtocolEntry, ProtocolEntry.id == OutgoingDocument.entry_id)
        .where(OutgoingDocument.author_id == user.id, OutgoingDocument.status.in_(statuses))
        .order_by(OutgoingDocument.created_at.desc())
        .limit(200)
    )
    return [
        FolderItem(d.id, d.subject, d.kind, d.status, e.display_number if e else None, None) for d, e in own
    ]


def folder_counts(session: Session, user: User) -> dict[str, int]:
    """How many documents each folder holds for this reader."""
    return {name: len(folder(session, user, name)) for name in FOLDERS}


@dataclass(frozen=True)
class DocumentPage:
    """What the document page shows."""

    document: OutgoingDocument
    author: User | None
    steps: list[tuple[ChainStep, str, str | None]]  # step, person's name, who acted if a substitute
    earlier_steps: list[tuple[ChainStep, str]]
    versions: list[OutgoingVersion]
    recipients: list[OutgoingRecipient]
    reservations: list[tuple[Reservation, str]]
    history: list[OutgoingEvent]
    entry: str | None
    verification_path: str | None
    my_step: ChainStep | None
    is_author: bool
    attachments: list[OutgoingAttachment]


def _name(session: Session, person_id: uuid.UUID | None) -> str:
    person = session.get(User, person_id) if person_id else None
    return person.full_name if person is not None else "—"


def open_document(session: Session, document_id: uuid.UUID, user: User) -> DocumentPage:
    """The page of one document, if the reader may see it."""
    document = get_document(session, document_id)
    all_steps = list(
        session.scalars(
            select(ChainStep)
            .where(ChainStep.document_id == document.id)
            .order_by(ChainStep.round, ChainStep.stage)
        )
    )
    involved = {document.author_id} | {s.person_id for s in all_steps} | {s.acted_by_id for s in all_steps}
    in_chain = any(may_act_for(session, user, s) for s in all_steps)
    author = session.get(User, document.author_id)
    head_of_unit = "head" in user.roles and author is not None and author.department_id == user.department_id
    if not (user.id in involved or in_chain or head_of_unit or OFFICE_ROLES & set(user.roles)):
        raise NotYourTurn("This document is not yours, nor in your chain; ask its author.")
    current = round_steps(session, document.id)
    mine = next(
        (s for s in current if s.state == StepState.CURRENT.value and may_act_for(session, user, s)), None
    )
    entry = session.get(ProtocolEntry, document.entry_id) if document.entry_id else None
    return DocumentPage(
        document=document,
        author=author,
        steps=[
            (
                s,
                _name(session, s.person_id),
                _name(session, s.acted_by_id) if s.acted_by_id not in (None, s.person_id) else None,
            )
            for s in current
        ],
        earlier_steps=[(s, _name(session, s.person_id)) for s in all_steps if s.round < document.round],
        versions=versions(session, document.id),
        recipients=recipients_of(session, document.id),
        reservations=[
            (r, _name(session, r.person_id))
            for r in session.scalars(
                select(Reservation).where(Reservation.document_id == document.id).order_by(Reservation.at)
            )
        ],
        history=events(session, document.id),
        entry=entry.display_number if entry is not None else None,
        verification_path=verification_path(document.verification_code)
        if document.entry_id and document.verification_code
        else None,
        my_step=mine,
        is_author=document.author_id == user.id,
        attachments=attachments_of(session, document.id),
    )


def units_to_address(session: Session) -> list[Department]:
    """The active units a document may be sent to internally, by name."""
    return list(
        session.scalars(select(Department).where(Department.is_active.is_(True)).order_by(Department.name_el))
    )


def task_outgoing_document(session: Session, task_id: uuid.UUID) -> uuid.UUID | None:
    """The outgoing document an outgoing_document task works on (None for other tasks)."""
    return session.scalar(
        select(OutgoingDocument.id)
        .join(CaseTask, CaseTask.case_id == OutgoingDocument.case_id)
        .where(CaseTask.task_id == task_id)
        .limit(1)
    )


@dataclass(frozen=True)
class StoredFile:
    """A stored file of a document the reader may see: where it is and how to name it."""

    object_key: str
    sha256: str
    filename: str
    media_type: str


def document_file(
    session: Session,
    document_id: uuid.UUID,
    user: User,
    *,
    number: int | None = None,
    attachment_id: uuid.UUID | None = None,
    signed: bool = False,
) -> StoredFile:
    """A version's body, an attachment or the signed and registered PDF, for someone who may
    see the document."""
    page = open_document(session, document_id, user)
    if signed:
        doc = page.document
        if not (doc.final_key and doc.final_sha256):
            raise OutgoingNotFound("The document is not signed yet.")
        return StoredFile(
            doc.final_key,
            doc.final_sha256,
            f"{page.entry or 'signed'}.pdf".replace("/", "-"),
            "application/pdf",
        )
    if attachment_id is not None:
        found = next((a for a in page.attachments if a.id == attachment_id), None)
        if found is None:
            raise OutgoingNotFound("That attachment is not on this document.")
        return StoredFile(found.object_key, found.sha256, found.filename, found.media_type)
    body = next((v for v in page.versions if v.number == number), None)
    if body is None:
        raise OutgoingNotFound(f"The document has no version {number}.")
    return StoredFile(body.object_key, body.sha256, body.filename, body.media_type)

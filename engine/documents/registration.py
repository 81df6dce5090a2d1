"""Registering an incoming document: files stored with their SHA-256, the ΕΙΣ protocol entry,
the document (its case file) and, in the same transaction, its χρέωση.

Everything the caller sent is checked before a file is stored or a number taken: refused
input changes nothing (a file stored before a later refusal stays unreferenced, never
half-written; see storage.records.store_file).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import BinaryIO

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.clock import utcnow
from engine.documents.assignments import assign_new_document, check_units
from engine.documents.catalogue import document_types
from engine.documents.errors import DocumentInvalid, NotAllowed
from engine.documents.history import record_event
from engine.documents.models import IncomingDocument
from engine.people.models import User
from engine.protocol.drafts import EntryDraft, FileRef
from engine.protocol.entries import name_people, register
from engine.protocol.models import Classification, DeliveryMethod, Direction
from engine.requests.files import sniff_stream
from storage import ObjectStore
from storage.records import store_file

#: Who registers incoming documents.
REGISTRAR_ROLES = frozenset({"protocol_clerk", "admin"})
#: Largest file accepted with a registration, in bytes.
MAX_FILE_BYTES = 50 * 1024 * 1024
#: Types refused whatever the name says: programs are never registered as documents.
REFUSED_TYPES = frozenset({"application/x-msdownload", "application/x-executable", "text/x-shellscript"})


@dataclass(frozen=True)
class IncomingFile:
    """A file as received: its name, the type the sender claimed, its bytes."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class IncomingForm:
    """What the protocol office types for an incoming document."""

    subject: str
    document_type: str
    sender: str
    sender_reference: str | None = None
    sender_date: date | None = None
    classification: str | None = None
    delivery_method: str | None = None
    attachments_description: str | None = None
    related: tuple[uuid.UUID, ...] = ()
    #: People (user ids) who see a classified document besides the units, e.g. the mayor.
    named_people: tuple[uuid.UUID, ...] = ()
    for_action: tuple[uuid.UUID, ...] = ()
    for_information: tuple[uuid.UUID, ...] = ()
    note: str | None = None
    files: tuple[IncomingFile, ...] = field(default=(), repr=False)


def register_incoming(
    session: Session,
    store: ObjectStore,
    form: IncomingForm,
    *,
    registered_by: User,
    source: str = "staff",
    idempotency_key: str | None = None,
    automatic: bool = False,
) -> IncomingDocument:
    """Register an incoming document (ΕΙΣ) and assign it; returns the document.

    With an ``idempotency_key`` (the form's one-time key), a second submission of the same
    form returns the document the first one registered instead of registering it again.
    ``automatic``: the municipality sent it to one of its own units (engine.outgoing's
    dispatch), so Polis registers and assigns it on the sender's behalf, no registrar needed.
    """
    if not automatic and not REGISTRAR_ROLES & set(registered_by.roles):
        raise NotAllowed("Only the protocol office registers incoming documents; ask them.")
    if idempotency_key:
        # Serialise submissions of the same key: the second waits, then finds the first.
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"document:{idempotency_key}"}
        )
        earlier = session.scalars(
            select(IncomingDocument).where(IncomingDocument.idempotency_key == idempotency_key)
        ).one_or_none()
        if earlier is not None:
            return earlier
    problems = _check_form(session, form)
    if problems:
        raise DocumentInvalid("; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems)
    codes = check_units(session, [*form.for_action, *form.for_information])
    draft = EntryDraft(
        direction=Direction.INCOMING,
        subject=form.subject.strip(),
        sender=form.sender.strip(),
        sender_reference=(form.sender_reference or "").strip() or None,
        sender_date=form.sender_date,
        classification=Classification(form.classification) if form.classification else None,
        delivery_method=DeliveryMethod(form.delivery_method) if form.delivery_method else None,
        document_type=document_types()[form.document_type].el,
        attachments_count=len(form.files),
        attachments_description=(form.attachments_description or "").strip() or None,
        related=tuple(form.related),
        # The entry's units are inserted with it: its contents follow the χρέωση.
        assign_to=tuple(dict.fromkeys(codes[u] for u in [*form.for_action, *form.for_information])),
    )  # the draft checks lengths and combinations before any file is stored
    refs = tuple(_store(session, store, f) for f in form.files)
    entry = register(session, replace(draft, files=refs), registered_by=registered_by)
    if form.named_people:
        name_people(session, entry.id, form.named_people, added_by=registered_by)
    document = IncomingDocument(
        id=uuid.uuid4(),
        entry_id=entry.id,
        document_type=form.document_type,
        registered_by_id=registered_by.id,
        unit_id=registered_by.department_id,
        source=source,
        created_at=utcnow(),
        idempotency_key=idempotency_key or None,
    )
    session.add(document)
    session.flush()
    record_event(
        session,
        document.id,
        registered_by,
        "registered",
        entry=entry.display_number,
        files=[{"filename": r.filename, "sha256": r.sha256} for r in refs],
        source=source,
    )
    if form.for_action or form.for_information:
        assign_new_document(
            session,
            document,
            for_action=form.for_action,
            for_information=form.for_information,
            codes=codes,
            assigned_by=registered_by,
            note=form.note,
        )  # no assigner's check there: the role (or ``automatic``) was checked above
    return document


def _check_form(session: Session, form: IncomingForm) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not form.subject or not form.subject.strip():
        problems["subject"] = "write the subject of the document"
    if not form.sender or not form.sender.strip():
        problems["sender"] = "write who sent the document"
    if form.document_type not in document_types():
        problems["document_type"] = "choose one of: " + ", ".join(document_types())
    if form.sender_reference and form.sender_reference.strip() and form.sender_date is None:
        problems["sender_date"] = "give the date of the sender's reference number"
    if form.classification and form.classification not in {c.value for c in Classification}:
        problems["classification"] = "choose ΠΧ, ΕΜΠ or ΠΔ, or none"
    if form.delivery_method and form.delivery_method not in {d.value for d in DeliveryMethod}:
        problems["delivery_method"] = "choose one of: " + ", ".join(d.value for d in DeliveryMethod)
    if not form.files:
        problems["files"] = "attach the document (a scan, an office file or an email)"
    for f in form.files:
        if len(f.data) > MAX_FILE_BYTES:
            problems["files"] = f"{f.filename}: larger than {MAX_FILE_BYTES // 1048576} MB"
        elif _sniffed(f.data) in REFUSED_TYPES:
            problems["files"] = f"{f.filename}: a program, not a document; it is not registered"
    if form.named_people:
        found = set(session.scalars(select(User.id).where(User.id.in_(form.named_people))))
        if missing := [str(p) for p in form.named_people if p not in found]:
            problems["named_people"] = "no such member of staff: " + ", ".join(missing)
    return problems


def _sniffed(data: bytes) -> str:
    return sniff_stream(io.BytesIO(data))[0]


def _store(session: Session, store: ObjectStore, incoming: IncomingFile) -> FileRef:
    """Put one file into the object store and record it; the type is sniffed, not believed."""
    stream: BinaryIO = io.BytesIO(incoming.data)
    sniffed, _size = sniff_stream(stream)
    # A PDF or an image is what its bytes say; office files are zips inside, so their
    # declared type is kept (it is only shown, never used to open them).
    content_type = sniffed if sniffed.startswith(("application/pdf", "image/")) else incoming.content_type
    record = store_file(session, store, stream, content_type=content_type, filename=incoming.filename)
    return FileRef(
        storage_key=record.key,
        sha256=record.sha256,
        filename=incoming.filename[:255] or "document",
        size=record.size,
        content_type=content_type,
    )


def documents_of_entries(session: Session, entry_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """entry id → document id, for the entries that are incoming documents."""
    if not entry_ids:
        return {}
    rows = session.execute(
        select(IncomingDocument.entry_id, IncomingDocument.id).where(IncomingDocument.entry_id.in_(entry_ids))
    )
    return {row.entry_id: row.id for row in rows}

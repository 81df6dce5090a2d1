"""The protocol register as staff read it: one entry with its links both ways, an ορθή
επανάληψη typed on a page (with new files or the original's), who may cancel, and the
yearly book as a download.

Visibility is :mod:`engine.protocol.visibility`'s, never decided here again: an entry whose
contents the reader may not see comes back as its number, date and direction only.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.models import Department
from engine.protocol.drafts import EntryDraft, FileRef
from engine.protocol.entries import CLERK_ROLES, correct, get_entry, get_registry, may_see
from engine.protocol.errors import EntryNotFound, InvalidEntry, NotProtocolClerk
from engine.protocol.export import iter_book
from engine.protocol.models import (
    Classification,
    DeliveryMethod,
    Direction,
    EntryFile,
    EntryRelation,
    ProtocolEntry,
)
from engine.protocol.visibility import Viewer, listed_for, may_see_entry, visible_entry_ids
from engine.requests.files import sniff_stream
from storage import ObjectStore
from storage.records import store_file

#: Largest file a correction takes, in bytes (as an incoming registration).
MAX_FILE_BYTES = 50 * 1024 * 1024
#: What a program looks like to the sniffer: never registered as a document.
PROGRAM_TYPES = frozenset({"application/x-msdownload", "application/x-executable", "text/x-shellscript"})


@dataclass(frozen=True)
class LinkedEntry:
    """Another entry this one points at or is pointed at by; restricted ones show the number only."""

    id: uuid.UUID
    display: str
    subject: str | None
    cancelled: bool
    visible: bool


@dataclass
class EntryPage:
    """What the register's entry page shows."""

    entry: ProtocolEntry
    visible: bool
    files: list[EntryFile] = field(default_factory=list)
    refers_to: list[LinkedEntry] = field(default_factory=list)
    referred_by: list[LinkedEntry] = field(default_factory=list)
    #: The entry this one corrects (ορθή επανάληψη of), and the entries that correct it.
    corrects: LinkedEntry | None = None
    corrected_by: list[LinkedEntry] = field(default_factory=list)
    may_cancel: bool = False
    may_correct: bool = False


def filter_units(session: Session) -> list[Department]:
    """The units the register can be filtered by, by name."""
    return list(session.scalars(select(Department).order_by(Department.name_el)))


def may_cancel(viewer: Viewer) -> bool:
    """Whether the viewer keeps the book: only the protocol office (or an admin) cancels."""
    return bool(CLERK_ROLES & set(viewer.roles))


def restricted_display(entry: ProtocolEntry) -> str:
    """The number as shown to those who may not see the contents (no classification mark)."""
    return f"{entry.number} {entry.direction} {entry.year}"


def _linked(session: Session, viewer: Viewer, entries: Sequence[ProtocolEntry]) -> list[LinkedEntry]:
    visible = visible_entry_ids(session, [e.id for e in entries], viewer)
    return [
        LinkedEntry(
            id=e.id,
            display=e.display_number if e.id in visible else restricted_display(e),
            subject=e.subject if e.id in visible else None,
            cancelled=e.is_cancelled,
            visible=e.id in visible,
        )
        for e in entries
    ]


def entry_page(session: Session, entry_id: uuid.UUID, viewer: Viewer) -> EntryPage:
    """One entry as the register shows it to this viewer; its links both ways when visible."""
    entry = get_entry(session, entry_id, viewer)  # ΕΜΠ/ΠΔ exist only for the cleared
    correctors = _linked(session, viewer, _corrections_of(session, viewer, entry.id))
    if not may_see_entry(session, entry, viewer):
        # A restricted entry still says it was corrected: the number sequence is public.
        return EntryPage(entry=entry, visible=False, corrected_by=correctors, may_cancel=may_cancel(viewer))
    page = EntryPage(
        entry=entry,
        visible=True,
        files=list(entry.files),
        refers_to=_linked(
            session,
            viewer,
            _related(session, viewer, EntryRelation.entry_id, EntryRelation.related_id, entry.id),
        ),
        referred_by=_linked(
            session,
            viewer,
            _related(session, viewer, EntryRelation.related_id, EntryRelation.entry_id, entry.id),
        ),
        corrected_by=correctors,
        may_cancel=may_cancel(viewer),
        may_correct=not entry.is_cancelled,
    )
    if entry.corrects_id is not None:
        original = session.get(ProtocolEntry, entry.corrects_id)
        if original is not None and may_see(original.classification, viewer.clearance):
            page.corrects = _linked(session, viewer, [original])[0]
    return page


def _related(
    session: Session, viewer: Viewer, mine: Any, other: Any, entry_id: uuid.UUID
) -> list[ProtocolEntry]:
    return list(
        session.scalars(
            select(ProtocolEntry)
            .join(EntryRelation, other == ProtocolEntry.id)
            .where(mine == entry_id, listed_for(viewer.clearance))
            .order_by(ProtocolEntry.registered_at)
        )
    )


def _corrections_of(session: Session, viewer: Viewer, entry_id: uuid.UUID) -> list[ProtocolEntry]:
    return list(
        session.scalars(
            select(ProtocolEntry)
            .where(ProtocolEntry.corrects_id == entry_id, listed_for(viewer.clearance))
            .order_by(ProtocolEntry.registered_at)
        )
    )


def corrections_of_page(
    session: Session, entry_ids: Sequence[uuid.UUID], viewer: Viewer
) -> dict[uuid.UUID, str]:
    """For a page of results: entry id → the number of its (latest) ορθή επανάληψη, if any."""
    if not entry_ids:
        return {}
    rows = session.scalars(
        select(ProtocolEntry)
        .where(ProtocolEntry.corrects_id.in_(list(entry_ids)), listed_for(viewer.clearance))
        .order_by(ProtocolEntry.registered_at)
    )
    return {row.corrects_id: restricted_display(row) for row in rows if row.corrects_id is not None}


def entry_file(session: Session, entry_id: uuid.UUID, position: int, viewer: Viewer) -> EntryFile:
    """One file of an entry whose contents the viewer may see."""
    entry = get_entry(session, entry_id, viewer)
    if may_see_entry(session, entry, viewer):
        for f in entry.files:
            if f.position == position:
                return f
    raise EntryNotFound("No such file; check the link.")


@dataclass(frozen=True)
class UploadedFile:
    """A file as uploaded with a correction."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class CorrectionForm:
    """What the protocol office types for an ορθή επανάληψη: the corrected fields."""

    subject: str
    sender: str | None = None
    sender_reference: str | None = None
    sender_date: date | None = None
    recipients: tuple[str, ...] = ()
    document_type: str | None = None
    classification: str | None = None
    delivery_method: str | None = None
    #: Register the original's files with the correction too (same objects, same SHA-256).
    keep_files: bool = True
    files: tuple[UploadedFile, ...] = field(default=(), repr=False)


def correction_defaults(entry: ProtocolEntry) -> dict[str, str]:
    """The correction form starts as the original entry."""
    return {
        "subject": entry.subject,
        "sender": entry.sender or "",
        "sender_reference": entry.sender_reference or "",
        "sender_date": entry.sender_date.isoformat() if entry.sender_date else "",
        "recipients": "; ".join(entry.recipients),
        "document_type": entry.document_type or "",
        "classification": entry.classification or "",
        "delivery_method": entry.delivery_method or "",
        "keep_files": "true",
    }


def correct_on_page(
    session: Session, store: ObjectStore, entry_id: uuid.UUID, form: CorrectionForm, *, registered_by: Viewer
) -> ProtocolEntry:
    """Register an ορθή επανάληψη typed on the register page: a new entry in the original's
    registry and direction, linked to it (the old one is then shown struck through).

    Everything is checked before a file is stored or a number taken.
    """
    original = get_entry(session, entry_id, registered_by)
    problems: dict[str, str] = {}
    if form.classification and form.classification not in {c.value for c in Classification}:
        problems["classification"] = "choose ΠΧ, ΕΜΠ or ΠΔ, or none"
    if form.delivery_method and form.delivery_method not in {d.value for d in DeliveryMethod}:
        problems["delivery_method"] = "choose one of: " + ", ".join(d.value for d in DeliveryMethod)
    for f in form.files:
        if len(f.data) > MAX_FILE_BYTES:
            problems["files"] = f"{f.filename}: larger than {MAX_FILE_BYTES // 1048576} MB"
        elif sniff_stream(io.BytesIO(f.data))[0] in PROGRAM_TYPES:
            problems["files"] = f"{f.filename}: a program, not a document"
    if problems:
        raise InvalidEntry("; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems)
    kept = (
        tuple(FileRef(f.storage_key, f.sha256, f.filename, f.size, f.content_type) for f in original.files)
        if form.keep_files
        else ()
    )
    draft = EntryDraft(
        direction=Direction(original.direction),
        subject=form.subject.strip(),
        registry=original.book.code,
        sender=(form.sender or "").strip() or None,
        sender_reference=(form.sender_reference or "").strip() or None,
        sender_date=form.sender_date,
        recipients=tuple(r.strip() for r in form.recipients if r.strip()),
        document_type=(form.document_type or "").strip() or None,
        classification=Classification(form.classification) if form.classification else None,
        delivery_method=DeliveryMethod(form.delivery_method) if form.delivery_method else None,
        related=tuple(
            session.scalars(select(EntryRelation.related_id).where(EntryRelation.entry_id == original.id))
        ),
        case_id=original.case_id,
        case_number=original.case_number,
    )  # checks lengths and combinations before anything is stored
    uploaded = tuple(_store(session, store, f) for f in form.files)
    files = kept + uploaded
    return correct(
        session,
        entry_id,
        replace(draft, files=files, attachments_count=len(files)),
        registered_by=registered_by,
    )


def _store(session: Session, store: ObjectStore, uploaded: UploadedFile) -> FileRef:
    stream = io.BytesIO(uploaded.data)
    sniffed, _ = sniff_stream(stream)
    content_type = sniffed if sniffed.startswith(("application/pdf", "image/")) else uploaded.content_type
    record = store_file(session, store, stream, content_type=content_type, filename=uploaded.filename)
    return FileRef(
        record.key, record.sha256, uploaded.filename[:255] or "document", record.size, content_type
    )


#: What a book row says instead of the contents the downloader is not cleared for.
WITHHELD = "[ΕΜΠ/ΠΔ — restricted]"
_CONTENT_COLUMNS = (
    "subject",
    "sender",
    "sender_reference",
    "sender_date",
    "recipients",
    "copies",
    "attachments_description",
    "case_number",
    "related",
    "cancel_reason",
)


def book_for_download(
    session: Session, viewer: Viewer, year: int, registry: str | None = None
) -> Iterator[dict[str, Any]]:
    """The yearly book for the protocol office, row by row (constant memory).

    Every number of the year is in it, so the book shows no gap; the contents of ΕΜΠ/ΠΔ
    entries the downloader is not cleared for are withheld in their row.
    """
    if not may_cancel(viewer):
        raise NotProtocolClerk("Only the protocol office downloads the register book; ask them.")
    if not 1 <= year <= 9999:
        raise InvalidEntry("year: give a year such as 2026.", fields={"year": "out of range"})
    if registry:
        get_registry(session, registry)  # an unknown registry is refused now, before any byte is sent
    rows = iter_book(session, year, registry)
    clearance = set(viewer.clearance)

    def withheld() -> Iterator[dict[str, Any]]:
        for row in rows:
            if not may_see(row["classification"] or None, clearance):
                row = {**row, **dict.fromkeys(_CONTENT_COLUMNS, "")}
                row["subject"] = WITHHELD
            yield row

    return withheld()

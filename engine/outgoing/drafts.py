"""Drafts (σχέδια): details, recipients, σχετικά, attachments and the body, where every save
is a new version stored with its SHA-256; versions compared by text and restored as new ones.

Only the author changes a draft, and only while it is with them (draft or returned); a
refused change stores nothing (files stored before a refusal are discarded with the
transaction, see storage.records.store_file).
"""

from __future__ import annotations

import difflib
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.outgoing.bodies import PDF, Letterhead, check_body, render_pdf
from engine.outgoing.errors import DraftInvalid, NotYourTurn, OutgoingNotFound, WrongState
from engine.outgoing.history import record
from engine.outgoing.models import (
    OutgoingAttachment,
    OutgoingDocument,
    OutgoingKind,
    OutgoingRecipient,
    OutgoingRelated,
    OutgoingStatus,
    OutgoingVersion,
    RecipientKind,
)
from engine.people.models import Department, User
from engine.people.substitutions import current_positions
from engine.protocol.models import ProtocolEntry
from storage import ObjectStore
from storage.records import store_file

EDITABLE = (OutgoingStatus.DRAFT.value, OutgoingStatus.RETURNED.value)
MAX_SUBJECT = 1000
#: Attachments: how large each may be, how many a document carries, and what they may be
#: (told by their first bytes, whatever their name says).
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_ATTACHMENTS = 20
_ATTACHMENT_KINDS = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"PK\x03\x04", "application/zip"),  # DOCX, XLSX, ODT, ODS: office files are ZIP packages
)
_OFFICE_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}


@dataclass(frozen=True)
class RecipientInput:
    """One recipient as the author gives it."""

    kind: str
    name: str = ""
    email: str | None = None
    unit_id: uuid.UUID | None = None
    citizen_case_id: uuid.UUID | None = None
    postal_address: str | None = None
    for_information: bool = False


@dataclass(frozen=True)
class RelatedInput:
    """A σχετικό: a protocol entry, another outgoing document, or free text."""

    entry_id: uuid.UUID | None = None
    outgoing_id: uuid.UUID | None = None
    note: str | None = None
    reply_to: bool = False


@dataclass(frozen=True)
class BodyInput:
    """A new body: an uploaded file, or text written in the page from the type's template."""

    filename: str = ""
    data: bytes = b""
    template_text: str | None = None


def get_document(session: Session, document_id: uuid.UUID, *, lock: bool = False) -> OutgoingDocument:
    """The document, optionally locked; OutgoingNotFound if there is none."""
    query = select(OutgoingDocument).where(OutgoingDocument.id == document_id)
    document = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if document is None:
        raise OutgoingNotFound(
            "No such outgoing document; it may have been removed. Open your folders again."
        )
    return document


def create_draft(
    session: Session,
    store: ObjectStore,
    author: User,
    *,
    kind: str,
    subject: str,
    recipients: Sequence[RecipientInput] = (),
    related: Sequence[RelatedInput] = (),
    body: BodyInput | None = None,
    derived_from: OutgoingDocument | None = None,
    derived_how: str | None = None,
) -> OutgoingDocument:
    """A new draft by ``author`` in their unit, with its first version if a body is given."""
    problems = _check_details(kind, subject)
    if problems:
        raise DraftInvalid("; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems)
    document = OutgoingDocument(
        id=uuid.uuid4(),
        kind=kind,
        subject=subject.strip(),
        status=OutgoingStatus.DRAFT.value,
        author_id=author.id,
        unit_id=author.department_id,
        round=0,
        derived_from_id=derived_from.id if derived_from is not None else None,
        derived_how=derived_how,
    )
    session.add(document)
    session.flush()
    record(session, document.id, author, "created", kind=kind, derived_how=derived_how)
    set_recipients(session, document, author, recipients)
    set_related(session, document, author, related)
    if body is not None:
        save_body(session, store, document, author, body)
    return document


def _check_details(kind: str, subject: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    if kind not in {k.value for k in OutgoingKind}:
        problems["kind"] = "choose letter, decision, certificate of service or internal memo"
    if not subject or not subject.strip():
        problems["subject"] = "write the subject"
    elif len(subject) > MAX_SUBJECT:
        problems["subject"] = f"at most {MAX_SUBJECT} characters"
    return problems


def check_editable(document: OutgoingDocument, user: User) -> None:
    """Only the author changes a draft, and only while it is with them."""
    if document.author_id != user.id:
        raise NotYourTurn("Only the author changes a draft; add a comment instead.")
    if document.status not in EDITABLE:
        raise WrongState(
            "The draft is with the signature chain now; it can change again only if it is returned to you."
        )


def update_details(session: Session, document: OutgoingDocument, user: User, *, subject: str) -> None:
    """Change the subject."""
    check_editable(document, user)
    problems = _check_details(document.kind, subject)
    if problems:
        raise DraftInvalid("; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems)
    document.subject = subject.strip()
    record(session, document.id, user, "details_changed", subject=document.subject)
    session.flush()


def set_recipients(
    session: Session, document: OutgoingDocument, user: User, recipients: Sequence[RecipientInput]
) -> list[OutgoingRecipient]:
    """Replace the recipients and copies; each needs what its channel needs."""
    check_editable(document, user)
    problems: dict[str, str] = {}
    rows: list[OutgoingRecipient] = []
    for n, r in enumerate(recipients, start=1):
        key = f"recipients[{n}]"
        name = (r.name or "").strip()
        if r.kind not in {k.value for k in RecipientKind}:
            problems[key] = "choose external body, citizen, internal unit or post"
            continue
        if r.kind == RecipientKind.INTERNAL:
            unit = session.get(Department, r.unit_id) if r.unit_id else None
            if unit is None:
                problems[key] = "choose the unit from the organisation chart"
                continue
            name = name or unit.name_el
        elif r.kind == RecipientKind.EXTERNAL and not _looks_like_email(r.email):
            problems[key] = "give the body's email address (name@example.gr)"
        elif r.kind == RecipientKind.CITIZEN and r.citizen_case_id is None:
            problems[key] = "choose the citizen's request the document answers"
        elif r.kind == RecipientKind.POST and not (r.postal_address or "").strip():
            problems[key] = "give the postal address"
        if not name:
            problems[key] = "give the recipient's name"
        rows.append(
            OutgoingRecipient(
                id=uuid.uuid4(),
                document_id=document.id,
                kind=r.kind,
                for_information=r.for_information,
                name=name,
                email=(r.email or "").strip() or None,
                unit_id=r.unit_id if r.kind == RecipientKind.INTERNAL else None,
                citizen_case_id=r.citizen_case_id if r.kind == RecipientKind.CITIZEN else None,
                postal_address=(r.postal_address or "").strip() or None,
            )
        )
    if problems:
        raise DraftInvalid("; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems)
    session.execute(delete(OutgoingRecipient).where(OutgoingRecipient.document_id == document.id))
    session.add_all(rows)
    session.flush()
    if recipients:
        record(session, document.id, user, "recipients_set", names=[r.name for r in rows])
    return rows


def _looks_like_email(value: str | None) -> bool:
    value = (value or "").strip()
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and " " not in value and len(value) <= 320


def set_related(
    session: Session, document: OutgoingDocument, user: User, related: Sequence[RelatedInput]
) -> None:
    """Replace the σχετικά; at most one is the reply-to."""
    check_editable(document, user)
    if sum(1 for r in related if r.reply_to) > 1:
        raise DraftInvalid(
            "related: only one σχετικό can be the one answered.", fields={"related": "one reply-to"}
        )
    rows = []
    for r in related:
        targets = [t for t in (r.entry_id, r.outgoing_id, (r.note or "").strip() or None) if t is not None]
        if len(targets) != 1:
            raise DraftInvalid(
                "related: each σχετικό is a protocol entry, a document or a note.",
                fields={"related": "one target"},
            )
        if r.entry_id is not None and session.get(ProtocolEntry, r.entry_id) is None:
            raise DraftInvalid("related: no such protocol entry.", fields={"related": "unknown entry"})
        rows.append(
            OutgoingRelated(
                document_id=document.id,
                entry_id=r.entry_id,
                outgoing_id=r.outgoing_id,
                note=(r.note or "").strip() or None,
                reply_to=r.reply_to,
            )
        )
    session.execute(delete(OutgoingRelated).where(OutgoingRelated.document_id == document.id))
    session.add_all(rows)
    session.flush()


def related_labels(session: Session, document_id: uuid.UUID) -> list[str]:
    """The σχετικά as printed: protocol numbers, subjects and notes."""
    labels = []
    for row in session.scalars(
        select(OutgoingRelated).where(OutgoingRelated.document_id == document_id).order_by(OutgoingRelated.id)
    ):
        if row.entry_id is not None:
            entry = session.get(ProtocolEntry, row.entry_id)
            labels.append(entry.display_number if entry is not None else "")
        elif row.outgoing_id is not None:
            other = session.get(OutgoingDocument, row.outgoing_id)
            labels.append(other.subject if other is not None else "")
        else:
            labels.append(row.note or "")
    return labels


def save_body(
    session: Session,
    store: ObjectStore,
    document: OutgoingDocument,
    user: User,
    body: BodyInput,
    note: str | None = None,
) -> OutgoingVersion:
    """Save a new body as the next version (an uploaded file, or the text printed to PDF)."""
    check_editable(document, user)
    if body.template_text is not None:
        text = body.template_text.replace("\r\n", "\n").strip()
        if not text:
            raise DraftInvalid("body: write the text of the document.", fields={"body": "required"})
        data = render_pdf(letterhead(session, document), text)
        filename, media_type, source, extracted = "body.pdf", PDF, "template", text
    else:
        checked = check_body(body.data, body.filename or "body")
        data, filename, media_type = body.data, body.filename[:255] or "body", checked.media_type
        source, extracted = "upload", checked.text
    return _add_version(
        session,
        store,
        document,
        user,
        data,
        filename,
        media_type,
        source,
        extracted,
        template_text=text if body.template_text is not None else None,
        note=note,
    )


def _add_version(
    session: Session,
    store: ObjectStore,
    document: OutgoingDocument,
    user: User,
    data: bytes,
    filename: str,
    media_type: str,
    source: str,
    text: str,
    *,
    template_text: str | None = None,
    restored_from: int | None = None,
    note: str | None = None,
) -> OutgoingVersion:
    # The document row is locked: two saves at once get consecutive numbers, never the same.
    get_document(session, document.id, lock=True)
    number = (
        session.scalar(
            select(func.max(OutgoingVersion.number)).where(OutgoingVersion.document_id == document.id)
        )
        or 0
    ) + 1
    stored = store_file(session, store, io.BytesIO(data), content_type=media_type, filename=filename)
    version = OutgoingVersion(
        id=uuid.uuid4(),
        document_id=document.id,
        number=number,
        object_key=stored.key,
        sha256=stored.sha256,
        size=stored.size,
        filename=filename,
        media_type=media_type,
        source=source,
        body_text=text,
        template_text=template_text,
        restored_from=restored_from,
        created_by_id=user.id,
        note=(note or "").strip() or None,
    )
    session.add(version)
    session.flush()
    record(session, document.id, user, "version_saved", number=number, sha256=stored.sha256, source=source)
    return version


def letterhead(session: Session, document: OutgoingDocument, signatory: User | None = None) -> Letterhead:
    """What the printed body shows besides its text."""
    recipients = list(
        session.scalars(
            select(OutgoingRecipient)
            .where(OutgoingRecipient.document_id == document.id)
            .order_by(OutgoingRecipient.name)
        )
    )
    unit = session.get(Department, document.unit_id) if document.unit_id else None
    return Letterhead(
        kind=document.kind,
        subject=document.subject,
        author_unit=unit.name_el if unit is not None else "",
        recipients=tuple(r.name for r in recipients if not r.for_information),
        copies=tuple(r.name for r in recipients if r.for_information),
        related=tuple(related_labels(session, document.id)),
        signatory_name=signatory.full_name if signatory is not None else "",
        signatory_title=_title_of(session, signatory),
    )


def _title_of(session: Session, person: User | None) -> str:
    if person is None:
        return ""
    titled = [p.title for p in current_positions(session, person.id) if p.title]
    if titled:
        return titled[0]
    return "Ο/Η Προϊστάμενος/η" if "head" in person.roles else ""


def versions(session: Session, document_id: uuid.UUID) -> list[OutgoingVersion]:
    """Every saved version, oldest first."""
    return list(
        session.scalars(
            select(OutgoingVersion)
            .where(OutgoingVersion.document_id == document_id)
            .order_by(OutgoingVersion.number)
        )
    )


def version(session: Session, document_id: uuid.UUID, number: int) -> OutgoingVersion:
    """One version by its number."""
    found = session.scalars(
        select(OutgoingVersion).where(
            OutgoingVersion.document_id == document_id, OutgoingVersion.number == number
        )
    ).one_or_none()
    if found is None:
        raise OutgoingNotFound(f"The draft has no version {number}.")
    return found


def latest_version(session: Session, document_id: uuid.UUID) -> OutgoingVersion | None:
    """The current body."""
    return session.scalars(
        select(OutgoingVersion)
        .where(OutgoingVersion.document_id == document_id)
        .order_by(OutgoingVersion.number.desc())
        .limit(1)
    ).first()


def compare(session: Session, document_id: uuid.UUID, older: int, newer: int) -> list[str]:
    """A unified diff of the two versions' text (line by line)."""
    a, b = version(session, document_id, older), version(session, document_id, newer)
    return list(
        difflib.unified_diff(
            a.body_text.splitlines(), b.body_text.splitlines(), f"v{older}", f"v{newer}", lineterm="", n=2
        )
    )


def restore(
    session: Session, store: ObjectStore, document: OutgoingDocument, user: User, number: int
) -> OutgoingVersion:
    """Make an older version the current one, as a new version (history is never rewritten)."""
    check_editable(document, user)
    old = version(session, document.id, number)
    reader = store.open(old.object_key, expected_sha256=old.sha256)
    try:
        data = reader.read()
    finally:
        reader.close()
    return _add_version(
        session,
        store,
        document,
        user,
        data,
        old.filename,
        old.media_type,
        "restore",
        old.body_text,
        template_text=old.template_text,
        restored_from=number,
        note=f"restored from version {number}",
    )


def attachment_type(filename: str, data: bytes) -> str:
    """The attachment's media type from its first bytes; DraftInvalid if it is none we take."""
    if not data:
        raise DraftInvalid("attachments: the file is empty.", fields={"attachments": "empty"})
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise DraftInvalid(
            f"attachments: larger than {MAX_ATTACHMENT_BYTES // 1048576} MB.",
            fields={"attachments": "too_large"},
        )
    found = next((kind for magic, kind in _ATTACHMENT_KINDS if data.startswith(magic)), None)
    if found is None:
        raise DraftInvalid(
            "attachments: not a PDF, image (PNG, JPEG) or office file (DOCX, XLSX, ODT, ODS).",
            fields={"attachments": "type"},
        )
    if found == "application/zip":
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        return _OFFICE_TYPES.get(suffix, found)
    return found


def attach(
    session: Session, store: ObjectStore, document_id: uuid.UUID, user: User, filename: str, data: bytes
) -> OutgoingAttachment:
    """The author attaches a file, within the limits (type by contents, size, how many)."""
    document = get_document(session, document_id, lock=True)
    check_editable(document, user)
    media_type = attachment_type(filename, data)
    count = session.scalar(
        select(func.count())
        .select_from(OutgoingAttachment)
        .where(OutgoingAttachment.document_id == document.id)
    )
    if (count or 0) >= MAX_ATTACHMENTS:
        raise DraftInvalid(
            f"attachments: at most {MAX_ATTACHMENTS} files; remove one first.",
            fields={"attachments": "too_many"},
        )
    return add_attachment(session, store, document, user, filename, data, media_type)


def attachments_of(session: Session, document_id: uuid.UUID) -> list[OutgoingAttachment]:
    """The document's attachments, in the order they were added."""
    return list(
        session.scalars(
            select(OutgoingAttachment)
            .where(OutgoingAttachment.document_id == document_id)
            .order_by(OutgoingAttachment.added_at, OutgoingAttachment.id)
        )
    )


def remove_attachment(session: Session, document_id: uuid.UUID, user: User, attachment_id: uuid.UUID) -> str:
    """The author takes an attachment off the draft (its stored file stays, the history says
    so); returns its file name."""
    document = get_document(session, document_id, lock=True)
    check_editable(document, user)
    row = session.get(OutgoingAttachment, attachment_id)
    if row is None or row.document_id != document.id:
        raise OutgoingNotFound("That attachment is not on this draft; refresh the page.")
    filename, sha256 = row.filename, row.sha256
    session.delete(row)
    session.flush()
    record(session, document.id, user, "attachment_removed", filename=filename, sha256=sha256)
    return filename


def upload_body(
    session: Session, store: ObjectStore, document_id: uuid.UUID, user: User, filename: str, data: bytes
) -> OutgoingVersion:
    """The author uploads the body (PDF, DOCX or ODT): the next version."""
    document = get_document(session, document_id, lock=True)
    return save_body(session, store, document, user, BodyInput(filename=filename, data=data))


def restore_version(
    session: Session, store: ObjectStore, document_id: uuid.UUID, user: User, number: int
) -> OutgoingVersion:
    """The author makes an older version current again (as a new version)."""
    document = get_document(session, document_id, lock=True)
    return restore(session, store, document, user, number)


def add_attachment(
    session: Session,
    store: ObjectStore,
    document: OutgoingDocument,
    user: User,
    filename: str,
    data: bytes,
    media_type: str = "application/octet-stream",
) -> OutgoingAttachment:
    """Attach a file (συνημμένο) sent with the document."""
    check_editable(document, user)
    if not data:
        raise DraftInvalid("attachments: the file is empty.", fields={"attachments": "empty"})
    stored = store_file(session, store, io.BytesIO(data), content_type=media_type, filename=filename)
    row = OutgoingAttachment(
        document_id=document.id,
        object_key=stored.key,
        sha256=stored.sha256,
        size=stored.size,
        filename=filename[:255] or "attachment",
        media_type=media_type,
        added_by_id=user.id,
    )
    session.add(row)
    session.flush()
    record(session, document.id, user, "attachment_added", filename=row.filename, sha256=row.sha256)
    return row


def recipients_of(session: Session, document_id: uuid.UUID) -> list[OutgoingRecipient]:
    """The document's recipients and copies."""
    return list(
        session.scalars(
            select(OutgoingRecipient)
            .where(OutgoingRecipient.document_id == document_id)
            .order_by(OutgoingRecipient.name)
        )
    )


def revise_draft(
    session: Session,
    store: ObjectStore,
    document_id: uuid.UUID,
    user: User,
    *,
    subject: str,
    recipients: Sequence[RecipientInput],
    template_text: str,
) -> OutgoingVersion | None:
    """The author's edit in the page: subject, recipients, and the text as a new version when it
    changed (returns it); all or nothing."""
    document = get_document(session, document_id, lock=True)
    update_details(session, document, user, subject=subject)
    set_recipients(session, document, user, recipients)
    current = latest_version(session, document.id)
    text = template_text.replace("\r\n", "\n").strip()
    # Unchanged text keeps the current version, an uploaded file too (the page shows its text).
    if current is not None and (current.template_text or current.body_text or "").strip() == text:
        return None
    return save_body(session, store, document, user, BodyInput(template_text=text))

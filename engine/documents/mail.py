"""Email intake: a message of the municipal mailbox becomes a draft registration for the protocol
office to confirm, or is held for a person to look at with the reason. Nothing is registered
until a member of the protocol office confirms; the same message delivered twice is one draft.

Held, with a reason (the raw message is always kept, SHA-256 recorded): malformed MIME, an
attachment over :data:`MAX_ATTACHMENT_BYTES`, a program (by its bytes or its name), a zip that
would unpack to more than :data:`MAX_UNZIPPED_BYTES` or with a compression ratio over
:data:`MAX_ZIP_RATIO` (a zip bomb).
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.clock import utcnow
from engine.documents.errors import AlreadyHandled, DocumentNotFound, NotAllowed
from engine.documents.models import IncomingDocument, MailDraft
from engine.documents.registration import REGISTRAR_ROLES, IncomingFile, IncomingForm, register_incoming
from engine.people.models import User
from storage import ObjectStore
from storage.records import store_file

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_ZIP_RATIO = 100
PROGRAM_NAMES = re.compile(r"\.(exe|com|bat|cmd|scr|msi|dll|js|jse|vbs|vbe|ps1|jar|sh|lnk|hta|cpl)$", re.I)
PROGRAM_MAGIC = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")


@dataclass(frozen=True)
class Part:
    """An attachment as found in the message."""

    filename: str
    content_type: str
    data: bytes


def _message_id(message: EmailMessage | None, raw: bytes) -> str:
    found = str(message.get("Message-ID", "") if message is not None else "").strip()
    return found[:998] if found else f"<sha256-{hashlib.sha256(raw).hexdigest()}@polis.invalid>"


def _parse(raw: bytes) -> tuple[EmailMessage | None, str | None]:
    """The message, or the reason it cannot be read as MIME."""
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the parser's failures are not one class
        return None, f"malformed MIME: {type(exc).__name__}"
    if not isinstance(message, EmailMessage):
        return None, "malformed MIME: not an email message"
    defects = [d for part in message.walk() for d in part.defects]
    if defects:
        return message, "malformed MIME: " + "; ".join(sorted({type(d).__name__ for d in defects}))
    return message, None


def _parts(message: EmailMessage) -> tuple[str, list[Part]]:
    body = message.get_body(preferencelist=("plain", "html"))
    text_body = ""
    if body is not None:
        try:
            text_body = str(body.get_content())
        except (LookupError, ValueError):
            text_body = ""
    parts = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        parts.append(Part(part.get_filename() or "attachment", part.get_content_type(), data))
    return text_body, parts


def _zip_problem(part: Part) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(part.data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return f"{part.filename}: a damaged zip archive"
    unpacked = sum(info.file_size for info in infos)
    packed = max(1, sum(info.compress_size for info in infos))
    if unpacked > MAX_UNZIPPED_BYTES or unpacked / packed > MAX_ZIP_RATIO:
        return (
            f"{part.filename}: a zip that unpacks to {unpacked // 1048576} MB"
            f" ({unpacked // packed}× its size) — a possible zip bomb"
        )
    programs = [info.filename for info in infos if PROGRAM_NAMES.search(info.filename)]
    if programs:
        return f"{part.filename}: contains a program ({', '.join(programs[:3])})"
    return None


def hold_reason(parts: list[Part]) -> str | None:
    """Why these attachments must wait for a person (too large, a program, a zip bomb), or None."""
    for part in parts:
        if len(part.data) > MAX_ATTACHMENT_BYTES:
            return (
                f"{part.filename}: {len(part.data) / 1048576:.0f} MB, larger than the"
                f" {MAX_ATTACHMENT_BYTES // 1048576} MB an attachment may have"
            )
        if PROGRAM_NAMES.search(part.filename) or part.data.startswith(PROGRAM_MAGIC):
            return f"{part.filename}: a program, not a document"
        if part.data.startswith(b"PK\x03\x04") and (problem := _zip_problem(part)):
            return problem
    return None


def accept_message(
    session: Session, store: ObjectStore, raw: bytes, *, envelope_from: str | None = None
) -> tuple[MailDraft, bool]:
    """Keep one received message as a draft (or held); returns it and whether it is new.

    A second delivery of a Message-ID returns the first draft and stores nothing.
    """
    message, problem = _parse(raw)
    message_id = _message_id(message, raw)
    # Two deliveries of one message at once: the second waits here, then finds the first.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"mail:{message_id}"})
    earlier = session.scalars(select(MailDraft).where(MailDraft.message_id == message_id)).one_or_none()
    if earlier is not None:
        return earlier, False
    record = store_file(
        session, store, io.BytesIO(raw), content_type="message/rfc822", filename="message.eml"
    )
    draft = MailDraft(
        id=uuid.uuid4(),
        message_id=message_id,
        received_at=utcnow(),
        envelope_from=envelope_from,
        raw_key=record.key,
        raw_sha256=record.sha256,
        raw_size=record.size,
        attachments=[],
    )
    if message is not None:
        draft.sender = str(message.get("From", "") or "")[:500] or envelope_from
        draft.subject = str(message.get("Subject", "") or "")[:1000] or None
    if message is not None and problem is None:
        body, parts = _parts(message)
        draft.body_text = body[:100_000]
        problem = hold_reason(parts)
        if problem is None:
            draft.attachments = [keep_part(session, store, part) for part in parts]
    draft.status = "held" if problem else "draft"
    draft.hold_reason = problem
    session.add(draft)
    session.flush()
    return draft, True


def keep_part(session: Session, store: ObjectStore, part: Part) -> dict[str, Any]:
    """Store an attachment and describe it as a draft lists its files."""
    record = store_file(
        session, store, io.BytesIO(part.data), content_type=part.content_type, filename=part.filename
    )
    return {
        "filename": part.filename[:255],
        "content_type": part.content_type,
        "size": record.size,
        "storage_key": record.key,
        "sha256": record.sha256,
    }


def drafts(session: Session, *, status: str = "draft", limit: int = 100) -> list[MailDraft]:
    """Messages waiting for the protocol office (``draft``) or for a person (``held``), oldest first."""
    return list(
        session.scalars(
            select(MailDraft).where(MailDraft.status == status).order_by(MailDraft.received_at).limit(limit)
        )
    )


def prefilled(draft: MailDraft) -> dict[str, str]:
    """What the registration form starts with: the sender (name and address) and the subject;
    for an exchange package also the sender's reference, its date, type and classification."""
    if draft.channel == "kside":
        details = draft.details or {}
        return {
            "sender": draft.sender or "",
            "subject": draft.subject or "",
            "delivery_method": "kside",
            **{
                name: str(details[name])
                for name in ("sender_reference", "sender_date", "document_type", "classification")
                if details.get(name)
            },
        }
    name, address = parseaddr(draft.sender or draft.envelope_from or "")
    return {
        "sender": f"{name} <{address}>" if name and address else (address or name),
        "subject": draft.subject or "",
        "delivery_method": "email",
    }


def confirm_draft(
    session: Session, store: ObjectStore, draft_id: uuid.UUID, form: IncomingForm, *, confirmed_by: User
) -> IncomingDocument:
    """Register the message ΕΙΣ with the form the protocol office completed: the .eml itself and
    its attachments are the entry's files. Confirming twice registers once."""
    if not REGISTRAR_ROLES & set(confirmed_by.roles):
        raise NotAllowed("Only the protocol office registers incoming documents; ask them.")
    draft = session.scalars(select(MailDraft).where(MailDraft.id == draft_id).with_for_update()).one_or_none()
    if draft is None:
        raise DocumentNotFound("No such message; refresh the list.")
    if draft.status == "registered" and draft.document_id is not None:
        document = session.get(IncomingDocument, draft.document_id)
        assert document is not None
        return document
    if draft.status != "draft":
        raise AlreadyHandled(f"This message is held ({draft.hold_reason}); a person must look at it first.")
    if draft.channel == "kside":  # the package's own metadata file comes first, as sent
        raw_name = str((draft.details or {}).get("metadata_file") or "metadata.json")
        raw_type = "application/xml" if raw_name.endswith(".xml") else "application/json"
    else:
        raw_name, raw_type = "message.eml", "message/rfc822"
    files = [IncomingFile(raw_name, _read(store, draft.raw_key), raw_type)]
    files += [
        IncomingFile(item["filename"], _read(store, item["storage_key"]), item["content_type"])
        for item in draft.attachments
    ]
    document = register_incoming(
        session,
        store,
        replace(form, files=tuple(files), delivery_method=form.delivery_method or draft.channel),
        registered_by=confirmed_by,
        source=draft.channel,
        idempotency_key=f"mail:{draft.message_id}"[:200],
    )
    draft.status = "registered"
    draft.document_id = document.id
    draft.confirmed_by_id = confirmed_by.id
    session.flush()
    return document


def _read(store: ObjectStore, key: str) -> bytes:
    with store.open(key) as reader:
        data: bytes = reader.read()
    return data


def received_at(draft: MailDraft) -> datetime:
    """When the message arrived (for listings)."""
    return draft.received_at


def get_draft(session: Session, draft_id: uuid.UUID, viewer: User) -> MailDraft:
    """One received message, for the protocol office only."""
    if not REGISTRAR_ROLES & set(viewer.roles):
        raise NotAllowed("Only the protocol office reads the municipal mailbox.")
    draft = session.get(MailDraft, draft_id)
    if draft is None:
        raise DocumentNotFound("No such message; refresh the list.")
    return draft


def mailbox(session: Session, viewer: User) -> dict[str, list[MailDraft]]:
    """The drafts waiting for confirmation and the messages held for a person, for the protocol office."""
    if not REGISTRAR_ROLES & set(viewer.roles):
        raise NotAllowed("Only the protocol office reads the municipal mailbox.")
    return {"draft": drafts(session), "held": drafts(session, status="held")}

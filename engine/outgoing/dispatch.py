"""After the signature: ΕΞ (or ΕΣΩ) registration with the number stamped by the e-seal, then
delivery to every recipient, each tracked and retried on its own.

Registration takes the number, then seals the number and date into the field the official's
signature reserved (engine.issuing.registration: an incremental update that leaves the
signature valid). Both run in the case step's transaction: if the TSA or the seal is down the
step fails and is retried, and neither the number nor the document is kept meanwhile.

Delivery: external bodies (and citizens with an address) get an email with the signed PDF and
the verification link; an internal unit gets the document registered ΕΙΣ into its folder and
assigned (χρέωση) automatically; a citizen's request shows it on their tracking page; post goes
on the protocol office's print list. A failed email is tried again later (``retry_deliveries``).
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import ATHENS, utcnow
from core.settings import Settings
from engine.documents.registration import IncomingFile, IncomingForm, register_incoming
from engine.issuing.registration import issue_signed_document
from engine.issuing.registry import verification_path
from engine.outgoing.drafts import attachments_of, get_document, letterhead, recipients_of
from engine.outgoing.errors import NotYourTurn, OutgoingNotFound, WrongState
from engine.outgoing.history import record
from engine.outgoing.models import (
    OutgoingDocument,
    OutgoingKind,
    OutgoingRecipient,
    OutgoingRelated,
    OutgoingStatus,
    RecipientKind,
)
from engine.people.models import Department, User
from engine.protocol.drafts import EntryDraft, FileRef
from engine.protocol.entries import attach_file, register
from engine.protocol.models import DeliveryMethod, Direction, ProtocolEntry
from engine.requests.files import add_case_file
from engine.workflow.commands import record_document_issued
from signing.sealer import Sealer
from storage import ObjectStore

#: Tries of one email before it is marked failed (then the protocol office sends it by hand).
MAX_ATTEMPTS = 6
_KIND_LABEL = {
    OutgoingKind.LETTER.value: "Έγγραφο",
    OutgoingKind.DECISION.value: "Απόφαση",
    OutgoingKind.SERVICE_CERTIFICATE.value: "Βεβαίωση υπηρεσίας",
    OutgoingKind.MEMO.value: "Εσωτερικό σημείωμα",
}


def _read(store: ObjectStore, key: str, sha256: str) -> bytes:
    reader = store.open(key, expected_sha256=sha256)
    try:
        return reader.read()
    finally:
        reader.close()


def register_signed(
    session: Session, store: ObjectStore, sealer: Sealer, document_id: uuid.UUID, *, base_url: str
) -> ProtocolEntry:
    """Register the signed document ΕΞ/ΕΣΩ and stamp its number; idempotent for a retried step."""
    document = get_document(session, document_id, lock=True)
    if document.entry_id is not None:
        entry = session.get(ProtocolEntry, document.entry_id)
        assert entry is not None
        return entry
    if (
        document.status != OutgoingStatus.SIGNED.value
        or not document.signed_key
        or not document.signed_sha256
    ):
        raise ValueError(f"outgoing document {document.id} is not signed; it cannot be registered")
    signed = _read(store, document.signed_key, document.signed_sha256)
    recipients = recipients_of(session, document.id)
    related = [
        r.entry_id
        for r in session.scalars(select(OutgoingRelated).where(OutgoingRelated.document_id == document.id))
        if r.entry_id is not None
    ]
    signer = session.get(User, document.signed_by_id) if document.signed_by_id else None
    unit = session.get(Department, document.unit_id) if document.unit_id else None
    draft = EntryDraft(
        direction=Direction.INTERNAL if document.kind == OutgoingKind.MEMO.value else Direction.OUTGOING,
        subject=document.subject,
        sender=unit.name_el if unit is not None else None,
        recipients=tuple(r.name for r in recipients if not r.for_information),
        copies=tuple(r.name for r in recipients if r.for_information),
        document_type=_KIND_LABEL[document.kind],
        delivery_method=DeliveryMethod.EMAIL
        if any(r.kind == RecipientKind.EXTERNAL for r in recipients)
        else None,
        related=tuple(dict.fromkeys(related)),
        case_id=document.case_id,
        assign_to=(unit.code,) if unit is not None else (),
    )
    corrects = None
    if document.derived_how == "correction" and document.derived_from_id is not None:
        original = session.get(OutgoingDocument, document.derived_from_id)
        corrects = original.entry_id if original is not None else None
    # An ορθή επανάληψη is registered as the correction of the original's entry (linked both ways).
    entry = register(session, draft, corrects=corrects)
    issued = issue_signed_document(
        session,
        sealer,
        store,
        title=document.subject,
        signed_pdf=signed,
        protocol_number=entry.display_number,
        registered_at=entry.registered_at,
        public_base_url=base_url,
        verification_code=document.verification_code or "",
        signer_name=signer.full_name if signer is not None else "",
        signer_title=letterhead(session, document, signer).signatory_title or None,
        issued_by=document.signed_by_id,
    )
    final = _read(store, issued.storage_key, issued.sha256)
    name = f"{entry.display_number}.pdf"
    attach_file(
        session, entry.id, FileRef(issued.storage_key, issued.sha256, name, len(final), "application/pdf")
    )
    document.entry_id = entry.id
    document.final_key, document.final_sha256 = issued.storage_key, issued.sha256
    document.status = OutgoingStatus.REGISTERED.value
    session.flush()
    record(session, document.id, None, "registered", entry=entry.display_number, sha256=issued.sha256)
    return entry


def dispatch(session: Session, store: ObjectStore, settings: Settings, document_id: uuid.UUID) -> None:
    """Start delivery to every recipient that has none yet; emails are tried at once."""
    document = get_document(session, document_id, lock=True)
    if document.status not in (OutgoingStatus.REGISTERED.value, OutgoingStatus.SENT.value):
        raise ValueError(f"outgoing document {document.id} is not registered; it cannot be sent")
    entry = session.get(ProtocolEntry, document.entry_id)
    assert entry is not None and document.final_key and document.final_sha256
    pdf = _read(store, document.final_key, document.final_sha256)
    now = utcnow()
    for recipient in recipients_of(session, document.id):
        if recipient.delivery != "pending":
            continue
        if recipient.kind == RecipientKind.INTERNAL:
            _register_internal(session, store, document, entry, recipient, pdf)
        elif recipient.kind == RecipientKind.POST:
            recipient.delivery = "to_print"
        elif recipient.kind == RecipientKind.CITIZEN:
            _publish_to_citizen(session, store, document, entry, recipient, pdf)
            if recipient.email:
                recipient.next_attempt_at = now  # and by email, tracked as any email
            else:
                recipient.delivery, recipient.delivered_at = "published", now
        else:
            recipient.next_attempt_at = now
    session.flush()
    send_due_emails(session, store, settings, document_id=document.id)
    _maybe_sent(session, document)


def _publish_to_citizen(
    session: Session,
    store: ObjectStore,
    document: OutgoingDocument,
    entry: ProtocolEntry,
    recipient: OutgoingRecipient,
    pdf: bytes,
) -> None:
    """The signed PDF becomes a file of the citizen's request, and the request's history says
    it was issued: its tracking page lists it, whatever process the request follows."""
    assert recipient.citizen_case_id is not None
    filename = f"{entry.display_number.replace('/', '-')}.pdf"
    case_file = add_case_file(
        session, store, recipient.citizen_case_id, "letter", filename, "application/pdf", pdf
    )
    record_document_issued(
        session,
        recipient.citizen_case_id,
        title=document.subject,
        protocol_number=entry.display_number,
        registered_at=entry.registered_at.isoformat() if entry.registered_at else None,
        file_id=str(case_file.id),
        verification_code=document.verification_code,
        outgoing_id=str(document.id),
    )


def _register_internal(
    session: Session,
    store: ObjectStore,
    document: OutgoingDocument,
    entry: ProtocolEntry,
    recipient: OutgoingRecipient,
    pdf: bytes,
) -> None:
    """The recipient unit's ΕΙΣ registration and χρέωση, with no one re-typing anything."""
    sender = session.get(User, document.signed_by_id) if document.signed_by_id else None
    author = session.get(User, document.author_id)
    unit = session.get(Department, document.unit_id) if document.unit_id else None
    assert author is not None
    form = IncomingForm(
        subject=document.subject,
        document_type="letter",
        sender=unit.name_el if unit is not None else "Δήμος",
        sender_reference=entry.display_number,
        sender_date=entry.registered_at.astimezone(ATHENS).date(),
        related=(entry.id,),
        for_action=() if recipient.for_information else (recipient.unit_id,),  # type: ignore[arg-type]
        for_information=(recipient.unit_id,) if recipient.for_information else (),  # type: ignore[arg-type]
        files=(
            IncomingFile(f"{entry.display_number}.pdf", pdf, "application/pdf"),
            *(
                IncomingFile(a.filename, _read(store, a.object_key, a.sha256), a.media_type)
                for a in attachments_of(session, document.id)
            ),
        ),
    )
    incoming = register_incoming(
        session, store, form, registered_by=sender or author, source="staff", automatic=True
    )
    recipient.incoming_document_id = incoming.id
    recipient.delivery, recipient.delivered_at = "registered", utcnow()
    session.flush()


def send_due_emails(
    session: Session, store: ObjectStore, settings: Settings, *, document_id: uuid.UUID | None = None
) -> int:
    """Send the emails that are due (first tries and retries); returns how many went out."""
    query = (
        select(OutgoingRecipient)
        .where(
            OutgoingRecipient.delivery == "pending",
            OutgoingRecipient.email.is_not(None),
            OutgoingRecipient.next_attempt_at <= utcnow(),
        )
        .with_for_update(skip_locked=True)
    )
    if document_id is not None:
        query = query.where(OutgoingRecipient.document_id == document_id)
    sent = 0
    for recipient in session.scalars(query).all():
        document = session.get(OutgoingDocument, recipient.document_id)
        assert document is not None
        entry = session.get(ProtocolEntry, document.entry_id)
        if entry is None or not document.final_key or not document.final_sha256:
            continue
        pdf = _read(store, document.final_key, document.final_sha256)
        extra = [
            (a.filename, a.media_type, _read(store, a.object_key, a.sha256))
            for a in attachments_of(session, document.id)
        ]
        recipient.attempts += 1
        try:
            _send_email(settings, recipient, document, entry, pdf, extra)
        except (smtplib.SMTPException, OSError) as exc:
            recipient.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if recipient.attempts >= MAX_ATTEMPTS:
                recipient.delivery, recipient.next_attempt_at = "failed", None
            else:
                recipient.next_attempt_at = utcnow() + timedelta(minutes=2**recipient.attempts)
            record(
                session, document.id, None, "delivery_failed", to=recipient.email, error=recipient.last_error
            )
        else:
            recipient.delivery = "sent" if recipient.kind == RecipientKind.EXTERNAL else "published"
            recipient.delivered_at, recipient.last_error, recipient.next_attempt_at = utcnow(), None, None
            record(session, document.id, None, "delivered", to=recipient.email)
            sent += 1
        session.flush()
        _maybe_sent(session, document)
    return sent


def _send_email(
    settings: Settings,
    recipient: OutgoingRecipient,
    document: OutgoingDocument,
    entry: ProtocolEntry,
    pdf: bytes,
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> None:
    link = settings.public_base_url.rstrip("/") + verification_path(document.verification_code or "")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = recipient.email or ""
    message["Subject"] = f"{entry.display_number} — {document.subject}"
    # One Message-ID per recipient: a retry after a lost answer is recognisable as the same mail.
    message["Message-ID"] = make_msgid(idstring=str(recipient.id), domain="polis")
    when = entry.registered_at.astimezone(ATHENS).strftime("%d/%m/%Y %H:%M")
    message.set_content(
        f"Σας αποστέλλουμε το έγγραφο «{document.subject}» (αρ. πρωτ. {entry.display_number}, {when}),"
        " υπογεγραμμένο ψηφιακά.\n"
        f"Επαλήθευση: {link}\n\n"
        f"Please find attached the document «{document.subject}» (ref. {entry.display_number}), digitally"
        f" signed.\nVerify it at: {link}\n"
    )
    message.add_attachment(
        pdf, maintype="application", subtype="pdf", filename=f"{entry.display_number.replace(' ', '_')}.pdf"
    )
    for filename, media_type, data in attachments:  # the draft's συνημμένα, as they were added
        maintype, _sep, subtype = media_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    with smtplib.SMTP(settings.smtp_host or "localhost", settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
        smtp.send_message(message)


def _maybe_sent(session: Session, document: OutgoingDocument) -> None:
    """Every recipient reached (post: on the print list) → the document is sent."""
    states = {r.delivery for r in recipients_of(session, document.id)}
    if document.status == OutgoingStatus.REGISTERED.value and states <= {
        "sent",
        "registered",
        "published",
        "to_print",
        "printed",
    }:
        document.status = OutgoingStatus.SENT.value
        session.flush()
        record(session, document.id, None, "sent")


def print_list(session: Session) -> list[tuple[OutgoingDocument, OutgoingRecipient]]:
    """What the protocol office prints and posts."""
    rows = session.execute(
        select(OutgoingDocument, OutgoingRecipient)
        .join(OutgoingRecipient, OutgoingRecipient.document_id == OutgoingDocument.id)
        .where(OutgoingRecipient.delivery == "to_print")
        .order_by(OutgoingDocument.created_at)
    )
    return [(d, r) for d, r in rows]


#: Who keeps the print list (the protocol office; administrators stand in).
PRINTING_ROLES = frozenset({"protocol_clerk", "admin"})


def mark_printed(session: Session, recipient_id: uuid.UUID, by: User) -> None:
    """The protocol office printed and posted it."""
    if not by.is_active or not PRINTING_ROLES & set(by.roles):
        raise NotYourTurn("Only the protocol office keeps the print list.")
    recipient = session.scalars(
        select(OutgoingRecipient).where(OutgoingRecipient.id == recipient_id).with_for_update()
    ).one_or_none()
    if recipient is None:
        raise OutgoingNotFound("No such recipient on the print list; refresh the page.")
    if recipient.delivery != "to_print":
        raise WrongState(
            "This copy is not on the print list any more (printed meanwhile?); refresh the page."
        )
    recipient.delivery, recipient.delivered_at = "printed", utcnow()
    session.flush()
    record(session, recipient.document_id, by, "printed", to=recipient.name)

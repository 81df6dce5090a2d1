"""Follow-ups of a document: ορθή επανάληψη (a corrected re-issue of a signed document, with a
new number, linked both ways), reply, forward and clone — each a new draft from an existing one.

A correction and a forward start from a registered document; a clone from any draft; a reply
answers an incoming document (the "start a reply" of engine.documents) or an outgoing one. The
new draft carries the old one as a σχετικό; the old one is found from the new through
``derived_from_id`` and the new from the old through :func:`derived_documents`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.documents.handling import start_reply
from engine.documents.models import IncomingDocument
from engine.outgoing.drafts import (
    BodyInput,
    RecipientInput,
    RelatedInput,
    create_draft,
    get_document,
    latest_version,
    recipients_of,
)
from engine.outgoing.errors import DraftInvalid, OutgoingNotFound, WrongState
from engine.outgoing.folders import open_document
from engine.outgoing.history import record
from engine.outgoing.models import OutgoingDocument, OutgoingStatus
from engine.people.models import User
from engine.protocol.models import ProtocolEntry
from storage import ObjectStore

REGISTERED = (OutgoingStatus.REGISTERED.value, OutgoingStatus.SENT.value)


def _copy_body(session: Session, store: ObjectStore, source: OutgoingDocument) -> BodyInput | None:
    current = latest_version(session, source.id)
    if current is None:
        return None
    if current.template_text is not None:
        return BodyInput(template_text=current.template_text)
    reader = store.open(current.object_key, expected_sha256=current.sha256)
    try:
        return BodyInput(filename=current.filename, data=reader.read())
    finally:
        reader.close()


def _same_recipients(session: Session, source: OutgoingDocument) -> list[RecipientInput]:
    return [
        RecipientInput(
            r.kind,
            r.name,
            email=r.email,
            unit_id=r.unit_id,
            citizen_case_id=r.citizen_case_id,
            postal_address=r.postal_address,
            for_information=r.for_information,
        )
        for r in recipients_of(session, source.id)
    ]


def correct(session: Session, store: ObjectStore, document_id: uuid.UUID, author: User) -> OutgoingDocument:
    """Ορθή επανάληψη: a new draft with the same body, recipients and σχετικά, plus the original."""
    source = get_document(session, document_id)
    if source.status not in REGISTERED or source.entry_id is None:
        raise WrongState(
            "Only a registered document is corrected (ορθή επανάληψη); change the draft instead."
        )
    draft = create_draft(
        session,
        store,
        author,
        kind=source.kind,
        subject=f"{source.subject} (ορθή επανάληψη)",
        recipients=_same_recipients(session, source),
        related=[RelatedInput(entry_id=source.entry_id)],
        body=_copy_body(session, store, source),
        derived_from=source,
        derived_how="correction",
    )
    record(session, source.id, author, "correction_started", draft=str(draft.id))
    return draft


def forward(session: Session, store: ObjectStore, document_id: uuid.UUID, author: User) -> OutgoingDocument:
    """Διαβίβαση: a covering draft to new recipients, the registered document as its σχετικό."""
    source = get_document(session, document_id)
    if source.status not in REGISTERED or source.entry_id is None:
        raise WrongState("Only a registered document can be forwarded.")
    draft = create_draft(
        session,
        store,
        author,
        kind="letter",
        subject=f"Διαβίβαση: {source.subject}",
        related=[RelatedInput(entry_id=source.entry_id)],
        derived_from=source,
        derived_how="forward",
    )
    record(session, source.id, author, "forwarded", draft=str(draft.id))
    return draft


def clone(session: Session, store: ObjectStore, document_id: uuid.UUID, author: User) -> OutgoingDocument:
    """A new draft like this one (type, subject, recipients, body), not linked as a σχετικό."""
    source = get_document(session, document_id)
    return create_draft(
        session,
        store,
        author,
        kind=source.kind,
        subject=source.subject,
        recipients=_same_recipients(session, source),
        body=_copy_body(session, store, source),
        derived_from=source,
        derived_how="clone",
    )


def reply_to_outgoing(
    session: Session, store: ObjectStore, document_id: uuid.UUID, author: User
) -> OutgoingDocument:
    """A reply to a registered outgoing document (e.g. a reminder), answering its number."""
    source = get_document(session, document_id)
    if source.entry_id is None:
        raise WrongState("Only a registered document can be answered.")
    return create_draft(
        session,
        store,
        author,
        kind="letter",
        subject=f"Απάντηση: {source.subject}",
        recipients=_same_recipients(session, source),
        related=[RelatedInput(entry_id=source.entry_id, reply_to=True)],
        derived_from=source,
        derived_how="reply",
    )


def reply_to_incoming(
    session: Session,
    store: ObjectStore,
    incoming_document_id: uuid.UUID,
    author: User,
    *,
    kind: str = "letter",
) -> OutgoingDocument:
    """The draft a unit starts when it answers an incoming document: its ΕΙΣ entry is the reply-to
    σχετικό, the subject follows it, the body starts from the type's template."""
    from engine.outgoing.bodies import starting_text

    incoming = session.get(IncomingDocument, incoming_document_id)
    entry = session.get(ProtocolEntry, incoming.entry_id) if incoming is not None else None
    if incoming is None or entry is None:
        raise OutgoingNotFound("No such incoming document; open it from your folder again.")
    if kind not in ("letter", "decision", "service_certificate", "memo"):
        raise DraftInvalid("kind: choose the type of the reply.", fields={"kind": "unknown"})
    return create_draft(
        session,
        store,
        author,
        kind=kind,
        subject=f"Απάντηση: {entry.subject}",
        related=[RelatedInput(entry_id=entry.id, reply_to=True)],
        body=BodyInput(template_text=starting_text(kind)),
        derived_how="reply",
    )


def start_reply_draft(
    session: Session, store: ObjectStore, task_id: uuid.UUID, note: str, user: User
) -> OutgoingDocument:
    """The unit answers an incoming document: its task records the reply (engine.documents) and
    the reply's draft opens, answering the document's ΕΙΣ entry."""
    assignment = start_reply(session, task_id, note, user)
    return reply_to_incoming(session, store, assignment.document_id, user)


def derived_documents(session: Session, document_id: uuid.UUID) -> list[OutgoingDocument]:
    """The drafts made from this document (corrections, forwards, replies, clones)."""
    return list(
        session.scalars(
            select(OutgoingDocument)
            .where(OutgoingDocument.derived_from_id == document_id)
            .order_by(OutgoingDocument.created_at)
        )
    )


#: What the document page's follow-up buttons start.
FOLLOW_UPS = ("correction", "reply", "forward", "clone")


def follow_up(
    session: Session, store: ObjectStore, document_id: uuid.UUID, user: User, how: str
) -> OutgoingDocument:
    """A new draft from a registered document, for someone who may see it: ορθή επανάληψη,
    a reply, a forward (διαβίβαση) or a clone; the new draft is the user's."""
    if how not in FOLLOW_UPS:
        raise DraftInvalid("how: choose correction, reply, forward or clone.", fields={"how": "unknown"})
    open_document(session, document_id, user)  # NotYourTurn if they may not see it
    source = get_document(session, document_id)
    if source.status not in REGISTERED or source.entry_id is None:
        raise WrongState(
            "Only a signed and registered document has follow-ups; change the draft instead.",
            reason="not_registered",
        )
    if how == "correction":
        return correct(session, store, document_id, user)
    if how == "reply":
        return reply_to_outgoing(session, store, document_id, user)
    if how == "forward":
        return forward(session, store, document_id, user)
    return clone(session, store, document_id, user)
